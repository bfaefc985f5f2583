"""The viewer's language on every page: chosen in the sidebar, else the one remembered in the
browser's language cookie, else the browser's own.

Pages write `_("Answer rate")` for their labels and `language()` for Babel's formats of
numbers, dates and durations (ingest/i18n.py); `make messages` collects the marked strings.
`zone_note()` states once per page that times are China time.
"""

from __future__ import annotations

import json
from datetime import timedelta

import streamlit as st

from ingest.i18n import N_, SUPPORTED, Language, negotiate
from ingest.places import place_name

CHOICE = "language"  # session state key of the sidebar's switch
COOKIE = "voicewatch_language"
COOKIE_TTL = timedelta(days=365)
# Column names and stored words that pages show translated where they are shown (state.table
# heads the columns it is given no label for with their translation).
SHOWN_WORDS = (
    N_("id"),
    N_("accepted"),
    N_("action"),
    N_("actor"),
    N_("added_at"),
    N_("added_by"),
    N_("bodies"),
    N_("bytes"),
    N_("channel"),
    N_("client"),
    N_("codes"),
    N_("content_type"),
    N_("error"),
    N_("failed"),
    N_("list"),
    N_("mobile"),
    N_("note"),
    N_("pages"),
    N_("parse_error"),
    N_("parse_status"),
    N_("prefix"),
    N_("preview"),
    N_("reasons"),
    N_("reports"),
    N_("result_code"),
    N_("result_msg"),
    N_("sid"),
    N_("stored"),
    N_("took_ms"),
    N_("truncated"),
    N_("value"),
    N_("via"),
    N_("viewer"),
    N_("who"),
    N_("would_block"),
    N_("push"),
    N_("pull"),
)


def language() -> Language:
    """The language picked in the sidebar this session, else the one the browser's language
    cookie remembers, else the browser's closest one."""
    picked = st.session_state.get(CHOICE)
    if picked in SUPPORTED:
        return Language(picked)
    remembered = _context("cookies")
    remembered = remembered.get(COOKIE) if remembered else None
    if remembered in SUPPORTED:
        return Language(remembered)
    return Language(negotiate(_context("locale")))


def _context(name: str):
    try:
        return getattr(st.context, name)
    except (AttributeError, RuntimeError):  # outside a Streamlit script run
        return None


def pick(code: str) -> None:
    """Show this session in `code` from now on (unsupported codes are ignored)."""
    if code in SUPPORTED:
        st.session_state[CHOICE] = code


def remember_choice() -> None:
    """Have the browser remember the language picked this session across reloads, in a
    cookie of its own (not the login's: it holds no secret and works without a login)."""
    picked = st.session_state.get(CHOICE)
    cookies = _context("cookies") or {}
    if picked not in SUPPORTED or cookies.get(COOKIE) == picked:
        return
    # `picked` is one of SUPPORTED, never text from outside; json.dumps quotes it anyway.
    cookie = json.dumps(
        f"{COOKIE}={picked}; Max-Age={int(COOKIE_TTL.total_seconds())}; Path=/; SameSite=Strict"
    )
    st.html(f"<script>document.cookie = {cookie};</script>", unsafe_allow_javascript=True)


def place(name: object) -> object:
    """A carrier, province or country as stored (in English) in the viewer's language."""
    return place_name(name, language()) if isinstance(name, str) else name


def zone_note() -> None:
    """The one line a page shows to say its times are China time."""
    st.caption(_("All times are China time (UTC+8)."))


def _(message: str) -> str:
    """`message` in the viewer's language."""
    return language().gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """The form of `singular`/`plural` for `n`, in the viewer's language."""
    return language().ngettext(singular, plural, n)
