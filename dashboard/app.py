"""voicewatch dashboard: navigation, login, the shared sidebar filters.

Run with `voicewatch dashboard` (or `streamlit run dashboard/app.py`)."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from dashboard import login, queries, state
from dashboard.lang import _
from dashboard.privacy import can_unmask
from ingest.text import printable

# Not "pages/": Streamlit treats a pages/ folder beside the main script as a legacy multipage
# app and can run a page file directly, skipping st.navigation, the login and the filters.
PAGES = Path(__file__).parent / "app_pages"


def oidc_configured() -> bool:
    """Whether `.streamlit/secrets.toml` has an [auth] section, so `st.login` can be used."""
    try:
        return "auth" in st.secrets
    except Exception:  # no secrets file: Streamlit raises its own (version-dependent) error
        return False


def require_login() -> None:
    """Stop the run until the viewer has logged in, when a login is configured."""
    if oidc_configured():
        if not st.user.is_logged_in:
            st.title("voicewatch")
            st.button("Log in", on_click=st.login, type="primary")
            st.stop()
        st.session_state["viewer"] = st.user.get("email") or st.user.get("name")
        return
    settings = state.settings()
    if not settings.dashboard_password or st.session_state.get("viewer"):
        return
    remembered = None if st.session_state.get("logged_out") else login.remembered_viewer(settings)
    if remembered:
        st.session_state["viewer"] = remembered
        return
    password_form(settings)
    st.stop()


def password_form(settings) -> None:
    """The name-and-password form; a good login is remembered in a signed cookie."""
    st.title("voicewatch")
    with st.form("login"):
        st.caption("This dashboard shows delivery data for real phone numbers. Log in to continue.")
        name = st.text_input("Your name", help="Recorded with any test call you send.")
        entered = st.text_input("Password", type="password")
        submitted = st.form_submit_button("Log in", type="primary")
    if st.session_state.get("logged_out"):
        login.set_cookie(None)
    if not submitted:
        return
    outcome = login.try_login(settings, state.engine(), name, entered)
    if outcome == "ok":
        viewer = printable(name).strip()[:64]
        st.session_state["viewer"] = viewer
        st.session_state["login_cookie"] = login.login_token(settings, viewer)
        st.session_state.pop("logged_out", None)
        st.rerun()
    if outcome == "limited":
        st.error(
            "Too many failed logins for this name or from this address: "
            f"try again in {login.FAILURE_WINDOW.seconds // 60} minutes."
        )
    else:
        st.error("Wrong password, or no name given.")


def logout_control() -> None:
    """Keeps the login cookie set while logged in; offers to log out (password login only)."""
    if "login_cookie" in st.session_state:
        login.set_cookie(st.session_state["login_cookie"])
    if state.settings().dashboard_password and not oidc_configured() and st.button("Log out"):
        login.audit(state.engine(), "logout", state.viewer())
        for key in ("viewer", "login_cookie", "unmasked"):
            st.session_state.pop(key, None)
        st.session_state["logged_out"] = True
        st.rerun()


def sidebar() -> None:
    """Time range, carrier, province and source pickers, and the unmask control."""
    options = state.query(queries.filter_options)
    with st.sidebar:
        st.selectbox("Time range", list(state.RANGES), index=1, key="range")
        if st.session_state.get("range") == "Custom":
            st.date_input("Days (China time)", value=(), key="custom_days")
        st.multiselect("Carrier", options.carriers, key="carriers", placeholder="All carriers")
        st.multiselect("Province", options.provinces, key="provinces", placeholder="All provinces")
        st.multiselect("Source", options.sources, key="sources", placeholder="All sources")
        unmask_control()
        if state.viewer():
            st.caption(f"Logged in as **{state.outside(state.viewer())}**")
            logout_control()


def unmask_control() -> None:
    settings = state.settings()
    if state.unmasked():
        st.success("Full numbers visible", icon=":material/visibility:")
        if st.button("Mask numbers again"):
            st.session_state["unmasked"] = False
            st.rerun()
        return
    if not settings.unmask_password:
        st.caption("Numbers are masked (no unmask password configured).")
        return
    with st.expander("Show full numbers"):
        entered = st.text_input("Unmask password", type="password", key="unmask_entered")
        if st.button("Unmask"):
            engine, viewer = state.engine(), state.viewer() or ""
            if not login.unmask_allowed(engine, viewer):
                st.error("Too many wrong unmask passwords: try again later.")
                return
            if can_unmask(settings, entered):
                login.audit(engine, "unmask", viewer)
                st.session_state["unmasked"] = True
                st.rerun()
            login.audit(engine, "unmask_failed", viewer)
            st.error("Wrong unmask password.")


def main() -> None:
    st.set_page_config(page_title="voicewatch", page_icon=":material/call:", layout="wide")
    require_login()
    navigation = st.navigation(
        {
            "Monitor": [
                st.Page(
                    PAGES / "overview.py",
                    title="Overview",
                    icon=":material/monitoring:",
                    default=True,
                ),
                st.Page(PAGES / "failures.py", title="Failures", icon=":material/call_missed:"),
                st.Page(PAGES / "throttling.py", title="Throttling", icon=":material/speed:"),
                st.Page(
                    PAGES / "health.py", title="Ingest health", icon=":material/monitor_heart:"
                ),
            ],
            "Investigate": [
                st.Page(PAGES / "lookup.py", title="Lookup", icon=":material/search:"),
                st.Page(PAGES / "send_test.py", title="Send test call", icon=":material/add_call:"),
                st.Page(PAGES / "guard.py", title=_("Guard"), icon=":material/shield:"),
            ],
        }
    )
    sidebar()
    navigation.run()


main()
