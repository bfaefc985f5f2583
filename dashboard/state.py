"""Streamlit glue shared by the pages: settings, the engine, cached queries, the sidebar's
filters, who is looking and whether they may see full numbers."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pandas as pd
import streamlit as st
from sqlalchemy import Engine

from dashboard import queries
from dashboard.plain import formula_safe, literal
from dashboard.privacy import mask_numbers, show_text
from ingest.settings import Settings
from ingest.store.engine import make_engine
from ingest.throttle import CHINA

RANGES = {
    "Last hour": timedelta(hours=1),
    "Last 24 h": timedelta(days=1),
    "Last 7 days": timedelta(days=7),
    "Last 30 days": timedelta(days=30),
    "Custom": None,
}
QUERY_TTL = 30  # seconds; on-call views refresh on the same beat


def settings() -> Settings:
    """Configuration, read from the environment on each run (cheap, and tests change it)."""
    return Settings.from_env()


@st.cache_resource(show_spinner=False)
def _engine(db_url: str) -> Engine:
    return make_engine(db_url)


def engine() -> Engine:
    return _engine(settings().db_url)


@st.cache_data(ttl=QUERY_TTL, show_spinner=False)
def _cached(name: str, db_url: str, args: tuple, kwargs: dict) -> Any:
    return getattr(queries, name)(_engine(db_url), *args, **kwargs)


def query(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """`fn(engine, *args, **kwargs)` from `dashboard.queries`, cached for QUERY_TTL seconds."""
    return _cached(fn.__name__, settings().db_url, args, kwargs)


def now() -> datetime:
    """The current time floored to 10 s, so reruns within a few seconds share cached results."""
    current = datetime.now(UTC).replace(microsecond=0)
    return current - timedelta(seconds=current.second % 10)


def current_filters() -> queries.Filters:
    """The sidebar's choices as Filters, with a rolling window ending now."""
    state = st.session_state
    choice = state.get("range", "Last 24 h")
    end = now()
    if RANGES.get(choice) is not None:
        start = end - RANGES[choice]
    else:
        first, last = _custom_days(state.get("custom_days"), end)
        start = datetime.combine(first, time(), CHINA).astimezone(UTC)
        end = min(end, datetime.combine(last + timedelta(days=1), time(), CHINA).astimezone(UTC))
    return queries.Filters(
        start=start,
        end=end,
        carriers=tuple(state.get("carriers", ())),
        provinces=tuple(state.get("provinces", ())),
        sources=tuple(state.get("sources", ())),
    )


def _custom_days(picked: Any, end: datetime) -> tuple[date, date]:
    today = end.astimezone(CHINA).date()
    if isinstance(picked, (tuple, list)) and len(picked) == 2:
        return picked[0], picked[1]
    if isinstance(picked, (tuple, list)) and len(picked) == 1:
        return picked[0], picked[0]
    return today - timedelta(days=6), today


def describe_range(filters: queries.Filters) -> str:
    """'2025-11-19 14:00 → 2025-11-20 14:00 China time' for page captions."""
    fmt = "%Y-%m-%d %H:%M"
    start = filters.start.astimezone(CHINA).strftime(fmt)
    end = filters.end.astimezone(CHINA).strftime(fmt)
    return f"{start} → {end} China time"


def describe_length(filters: queries.Filters) -> str:
    """The range's length in words: '24 h', '7 days', '90 min'."""
    minutes = round((filters.end - filters.start).total_seconds() / 60)
    if minutes % (24 * 60) == 0:
        days = minutes // (24 * 60)
        return "24 h" if days == 1 else f"{days} days"
    return f"{minutes // 60} h" if minutes % 60 == 0 else f"{minutes} min"


def viewer() -> str | None:
    """Who is looking: the OIDC user's email, the name given at the password login, or None."""
    return st.session_state.get("viewer")


def unmasked() -> bool:
    return bool(st.session_state.get("unmasked"))


def table(
    df: pd.DataFrame,
    name: str,
    *,
    column_config: dict | None = None,
    key: str | None = None,
    on_select: str = "ignore",
    height: int | str = "auto",
) -> Any:
    """A dataframe (numbers masked unless this viewer may unmask) with a CSV download of
    exactly what is shown, its text cells formula-safe."""
    shown = mask_numbers(df, unmasked())
    event = st.dataframe(
        shown,
        hide_index=True,
        column_config=column_config,
        key=key,
        on_select=on_select,
        selection_mode="single-row",
        height=height,
    )
    st.download_button(
        f"Download {name} (CSV)",
        csv_bytes(shown),  # BOM so Excel reads the Chinese text
        file_name=f"voicewatch-{name.replace(' ', '-')}.csv",
        mime="text/csv",
        key=f"csv-{key or name}",
        icon=":material/download:",
    )
    return event


def csv_bytes(df: pd.DataFrame) -> bytes:
    """`df` as the CSV every download button offers: formula-safe, with a BOM so Excel reads
    the Chinese text."""
    return formula_safe(df).to_csv(index=False).encode("utf-8-sig")


def outside(text: object) -> str:
    """Text from outside, ready for any Markdown-rendering call (st.error, st.caption…): numbers
    masked unless this viewer may unmask, then escaped so it shows as plain text."""
    return literal(show_text(None if text is None else str(text), unmasked()))


def percent(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


def seconds(value: float | None) -> str:
    return "—" if value is None else f"{value:.0f} s"


def china_time(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    return "—" if value is None else value.astimezone(CHINA).strftime(fmt)
