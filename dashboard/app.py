"""voicewatch dashboard: navigation, login, the shared sidebar filters.

Run with `voicewatch dashboard` (or `streamlit run dashboard/app.py`)."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from dashboard import lang, login, state
from dashboard.lang import _
from dashboard.privacy import can_unmask
from ingest.i18n import N_, NAMES, SUPPORTED
from ingest.text import printable

# Not "pages/": Streamlit treats a pages/ folder beside the main script as a legacy multipage
# app and can run a page file directly, skipping st.navigation, the login and the filters.
PAGES = Path(__file__).parent / "app_pages"
# The sidebar's names for state.RANGES (its keys stay the English values the filters use).
RANGE_LABELS = (
    N_("Last hour"),
    N_("Last 24 h"),
    N_("Last 7 days"),
    N_("Last 30 days"),
    N_("Custom"),
)


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
            st.button(_("Log in"), on_click=st.login, type="primary")
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
        st.caption(
            _("This dashboard shows delivery data for real phone numbers. Log in to continue.")
        )
        name = st.text_input(_("Your name"), help=_("Recorded with any test call you send."))
        entered = st.text_input(_("Password"), type="password")
        submitted = st.form_submit_button(_("Log in"), type="primary")
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
        wait = lang.language().duration(login.FAILURE_WINDOW)
        st.error(
            _(
                "Too many failed logins for this name or from this address: try again in {wait}."
            ).format(wait=wait)
        )
    else:
        st.error(_("Wrong password, or no name given."))


def logout_control() -> None:
    """Keeps the login cookie set while logged in; offers to log out (password login only)."""
    if "login_cookie" in st.session_state:
        login.set_cookie(st.session_state["login_cookie"])
    if state.settings().dashboard_password and not oidc_configured() and st.button(_("Log out")):
        login.audit(state.engine(), "logout", state.viewer())
        for key in ("viewer", "login_cookie", "unmasked"):
            st.session_state.pop(key, None)
        st.session_state["logged_out"] = True
        st.rerun()


def language_switch() -> None:
    """English / 简体中文 in the sidebar: the browser's language until the viewer picks one,
    which then holds for the session and, through a cookie, across reloads."""
    with st.sidebar:
        st.selectbox(
            "Language · 语言",  # in both languages: it is how a lost viewer finds their own
            SUPPORTED,
            index=SUPPORTED.index(lang.language().code),
            format_func=NAMES.get,
            key="language_switch",
            on_change=_switched,
        )
        lang.remember_choice()


def _switched() -> None:
    lang.pick(st.session_state["language_switch"])


# What each page applies of the sidebar's choices; the others are hidden there.
SIDEBAR = {
    "overview": {"time_range": True, "filters": True},
    "failures": {"time_range": True, "filters": True},
    "throttling": {"time_range": True, "filters": True},
    "health": {"time_range": False, "filters": False},
    "lookup": {"time_range": False, "filters": False},
    "send_test": {"time_range": False, "filters": False},
    "alerts": {"time_range": False, "filters": False},
    "guard": {"time_range": True, "filters": False},
}


def sidebar(page: st.Page) -> None:
    """The pickers `page` applies (time range, carrier, country, province, source), and the
    unmask control."""
    state.keep_filters()
    state.begin_view(page.url_path or "overview")
    state.sidebar(**SIDEBAR.get(page.url_path or "overview", {}))
    with st.sidebar:
        unmask_control()
        if state.viewer():
            st.caption(_("Logged in as **{viewer}**").format(viewer=state.outside(state.viewer())))
            logout_control()


def unmask_control() -> None:
    settings = state.settings()
    if state.unmasked():
        st.success(_("Full numbers visible"), icon=":material/visibility:")
        if st.button(_("Mask numbers again")):
            st.session_state["unmasked"] = False
            st.rerun()
        return
    if not settings.unmask_password:
        st.caption(_("Numbers are masked (no unmask password configured)."))
        return
    with st.expander(_("Show full numbers")):
        entered = st.text_input(_("Unmask password"), type="password", key="unmask_entered")
        if st.button(_("Unmask")):
            engine, viewer = state.engine(), state.viewer() or ""
            if not login.unmask_allowed(engine, viewer):
                st.error(_("Too many wrong unmask passwords: try again later."))
                return
            if can_unmask(settings, entered):
                login.audit(engine, "unmask", viewer)
                st.session_state["unmasked"] = True
                st.rerun()
            login.audit(engine, "unmask_failed", viewer)
            st.error(_("Wrong unmask password."))


def main() -> None:
    st.set_page_config(page_title="voicewatch", page_icon=":material/call:", layout="wide")
    language_switch()
    require_login()
    navigation = st.navigation(
        {
            _("Monitor"): [
                st.Page(
                    PAGES / "overview.py",
                    title=_("Overview"),
                    icon=":material/monitoring:",
                    default=True,
                ),
                st.Page(PAGES / "failures.py", title=_("Failures"), icon=":material/call_missed:"),
                st.Page(PAGES / "throttling.py", title=_("Throttling"), icon=":material/speed:"),
                st.Page(
                    PAGES / "health.py", title=_("Ingest health"), icon=":material/monitor_heart:"
                ),
                st.Page(PAGES / "alerts.py", title=_("Alerts"), icon=":material/notifications:"),
            ],
            _("Investigate"): [
                st.Page(PAGES / "lookup.py", title=_("Lookup"), icon=":material/search:"),
                st.Page(
                    PAGES / "send_test.py", title=_("Send test call"), icon=":material/add_call:"
                ),
                st.Page(PAGES / "guard.py", title=_("Guard"), icon=":material/shield:"),
            ],
        }
    )
    sidebar(navigation)
    navigation.run()


main()
