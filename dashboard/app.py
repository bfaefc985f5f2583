"""voicewatch dashboard: navigation, login, the shared sidebar filters.

Run with `voicewatch dashboard` (or `streamlit run dashboard/app.py`)."""

from __future__ import annotations

import secrets
from pathlib import Path

import streamlit as st

from dashboard import queries, state
from dashboard.privacy import can_unmask

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
    password = state.settings().dashboard_password
    if not password or st.session_state.get("viewer"):
        return
    st.title("voicewatch")
    with st.form("login"):
        st.caption("This dashboard shows delivery data for real phone numbers. Log in to continue.")
        name = st.text_input("Your name", help="Recorded with any test call you send.")
        entered = st.text_input("Password", type="password")
        submitted = st.form_submit_button("Log in", type="primary")
    if submitted:
        if name.strip() and secrets.compare_digest(entered, password.reveal()):
            st.session_state["viewer"] = name.strip()
            st.rerun()
        st.error("Wrong password, or no name given.")
    st.stop()


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
            st.caption(f"Logged in as **{state.viewer()}**")


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
            if can_unmask(settings, entered):
                st.session_state["unmasked"] = True
                st.rerun()
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
                st.Page(PAGES / "alerts.py", title="Alerts", icon=":material/notifications:"),
            ],
            "Investigate": [
                st.Page(PAGES / "lookup.py", title="Lookup", icon=":material/search:"),
                st.Page(PAGES / "send_test.py", title="Send test call", icon=":material/add_call:"),
            ],
        }
    )
    sidebar()
    navigation.run()


main()
