"""Text from outside (report fields, send answers, URL parameters, raw bodies, names people
typed) shown as data, never as markup: inert in Markdown, safe to open as a spreadsheet."""

from __future__ import annotations

import re
import string

import pandas as pd

from ingest.text import printable

# Every ASCII punctuation character may be backslash-escaped in CommonMark; escaping them all
# leaves no emphasis, link, image, HTML tag, entity, heading, list, table, LaTeX (`$`) or
# Streamlit directive (`:red[…]`, `:material/…:`) to start.
_MARKDOWN_SPECIAL = re.compile("([" + re.escape(string.punctuation) + "])")
# Streamlit's Markdown (remark-gfm) links bare URLs and e-mail addresses after escapes are
# resolved, so they are broken up with an invisible WORD JOINER instead: `https⁠://`, `www⁠.`,
# `a@⁠b.example` show as written but make no link.
_AUTOLINK = re.compile(r"(?i)\b(https?|ftp|mailto|xmpp|www)(?=[:.])|(@)")
# A spreadsheet evaluates a cell starting with one of these as a formula (OWASP's list, and the
# full-width forms some spreadsheets and input methods fold into them).
FORMULA_START = tuple("=+-@\t\r\n") + tuple("＝＋－＠")


def literal(text: object) -> str:
    """`text` escaped for st.markdown, st.error, st.caption, st.subheader…: it renders as
    exactly these characters, on one line, without control codes."""
    if text is None:
        return ""
    unlinked = _AUTOLINK.sub(lambda m: (m[1] or m[2]) + "\u2060", printable(str(text)))
    return _MARKDOWN_SPECIAL.sub(r"\\\1", unlinked)


def formula_safe_cell(value: object) -> object:
    """A text cell a spreadsheet would run as a formula, prefixed with `'` so it shows as text."""
    if isinstance(value, str) and value.lstrip(" ").startswith(FORMULA_START):
        return "'" + value
    return value


def formula_safe(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of `df` whose text cells no spreadsheet will evaluate (for CSV downloads)."""
    df = df.copy()
    for column in df.columns:
        if df[column].dtype == object or pd.api.types.is_string_dtype(df[column]):
            df[column] = df[column].map(formula_safe_cell)
    return df
