"""The viewer's language on every page: chosen in the sidebar, else the browser's.

Pages write `_("Answer rate")` for their labels and `language()` for Babel's formats of
numbers, dates and durations (ingest/i18n.py); `make messages` collects the marked strings.
"""

from __future__ import annotations

import streamlit as st

from ingest.i18n import Language, negotiate

CHOICE = "language"  # session state key of the sidebar's switch


def language() -> Language:
    """The language picked in the sidebar this session, else the browser's closest one."""
    picked = st.session_state.get(CHOICE)
    if picked:
        return Language(picked)
    try:
        browser = st.context.locale
    except (AttributeError, RuntimeError):  # outside a Streamlit script run
        browser = None
    return Language(negotiate(browser))


def _(message: str) -> str:
    """`message` in the viewer's language."""
    return language().gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """The form of `singular`/`plural` for `n`, in the viewer's language."""
    return language().ngettext(singular, plural, n)
