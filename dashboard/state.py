"""Streamlit glue shared by the pages: settings, the engine, cached queries, the sidebar's
filters, who is looking and whether they may see full numbers."""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from functools import partial
from typing import Any, BinaryIO

import pandas as pd
import streamlit as st
from sqlalchemy import Engine

from dashboard import queries
from dashboard.lang import _, language, place
from dashboard.plain import formula_safe, formula_safe_cell, literal
from dashboard.privacy import mask_numbers, show_text
from dashboard.queries.export import write_sends_csv
from ingest.i18n import FEE_UNIT_LABELS, N_
from ingest.settings import Settings
from ingest.store.engine import make_engine
from ingest.throttle import CHINA

RANGES = (
    N_("Last hour"),
    N_("Last 24 h"),
    N_("Last 7 days"),
    N_("Last 30 days"),
    N_("This month"),
    N_("Last week"),
    N_("Last month"),
    N_("Custom"),
)
ROLLING = {
    "Last hour": timedelta(hours=1),
    "Last 24 h": timedelta(days=1),
    "Last 7 days": timedelta(days=7),
    "Last 30 days": timedelta(days=30),
}
DEFAULT_RANGE = "Last 24 h"
FILTER_KEYS = ("range", "carriers", "countries", "provinces", "sources")
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


# ---------------------------------------------------------------- one "now" per page view


def begin_view(page: str) -> None:
    """Start a page view of `page`: a new fixed "now" when the viewer comes from another page.
    Reruns of the same page (a filter changed, a download clicked) keep the view's "now", so
    two exports of one view agree."""
    if st.session_state.get("view_page") != page:
        st.session_state["view_page"] = page
        refresh_view()


def refresh_view() -> None:
    """Move the view's "now" to the present (the sidebar's Refresh, the live Overview)."""
    st.session_state.pop("view_now", None)


def view_now() -> datetime:
    """The fixed "now" of this page view: every range on the page ends at it."""
    if "view_now" not in st.session_state:
        st.session_state["view_now"] = now()
    return st.session_state["view_now"]


# ---------------------------------------------------------------- the sidebar's filters


def keep_filters() -> None:
    """Keep the filter choices while a page that hides them is shown (Streamlit forgets the
    state of a widget not drawn in a run, unless it is written back at the run's start)."""
    for key in (*FILTER_KEYS, "custom_applied"):
        if key in st.session_state:
            st.session_state[key] = st.session_state[key]


def sidebar(*, time_range: bool = True, filters: bool = True) -> None:
    """Draw the time range and the carrier / country / province / source pickers in the
    sidebar, or hide those a page does not apply (`time_range=False`, `filters=False`)."""
    if not (time_range or filters):
        return
    options = query(queries.filter_options)
    with st.sidebar:
        if time_range:
            _range_picker()
        if filters:
            _filter_pickers(options)


def _range_picker() -> None:
    st.session_state.setdefault("range", DEFAULT_RANGE)
    # Bound to this run's language: Streamlit (and AppTest) call it again after the run.
    label = language().gettext
    st.selectbox(_("Time range"), RANGES, key="range", format_func=label)
    if st.session_state.get("range") == "Custom":
        applied = _applied_days(view_now())
        picked = st.date_input(
            _("Days (China time)"),
            value=applied,
            key="custom_days",
            max_value=view_now().astimezone(CHINA).date(),
            format="YYYY-MM-DD",
        )
        if isinstance(picked, (tuple, list)) and len(picked) == 2:
            st.session_state["custom_applied"] = (picked[0], picked[1])
        else:
            st.caption(_("Pick the last day too: the range in force stays until then."))
        first, last = _applied_days(view_now())
        st.caption(
            _("In force: {first} – {last}").format(
                first=language().date(first), last=language().date(last)
            )
        )
    st.button(
        _("Refresh"),
        on_click=refresh_view,
        icon=":material/refresh:",
        help=_("Move the range's end to now."),
    )


def _filter_pickers(options: queries.FilterOptions) -> None:
    st.multiselect(
        _("Carrier"),
        options.carriers,
        key="carriers",
        placeholder=_("All carriers"),
        format_func=place,
    )
    st.multiselect(
        _("Country"),
        options.countries,
        key="countries",
        placeholder=_("All countries"),
        format_func=place,
    )
    st.multiselect(
        _("Province"),
        options.provinces,
        key="provinces",
        format_func=place,
        placeholder=_("All provinces"),
        help=_("Mainland China only; pick a country for numbers abroad."),
    )
    st.multiselect(_("Source"), options.sources, key="sources", placeholder=_("All sources"))


def _applied_days(end: datetime) -> tuple[date, date]:
    """The custom days in force: the last complete pick, else the 7 days up to today."""
    applied = st.session_state.get("custom_applied")
    if isinstance(applied, (tuple, list)) and len(applied) == 2:
        return applied[0], applied[1]
    today = end.astimezone(CHINA).date()
    return today - timedelta(days=6), today


@dataclass(frozen=True)
class Period:
    """The range a page looks at, and the earlier one its changes are measured against."""

    filters: queries.Filters
    previous: queries.Filters


def current_period() -> Period:
    """The sidebar's range and filters, ending at the view's "now", with its comparison: the
    equal-length time before, or for a calendar range the calendar period before."""
    state = st.session_state
    start, end, previous_start, previous_end = _range_bounds(state.get("range", DEFAULT_RANGE))
    current = queries.Filters(
        start=start,
        end=end,
        carriers=tuple(state.get("carriers", ())),
        provinces=tuple(state.get("provinces", ())),
        sources=tuple(state.get("sources", ())),
        countries=tuple(state.get("countries", ())),
    )
    return Period(current, replace(current, start=previous_start, end=previous_end))


def current_filters() -> queries.Filters:
    """The sidebar's choices as Filters, ending at the view's "now"."""
    return current_period().filters


def _china_midnight(day: date) -> datetime:
    return datetime.combine(day, time(), CHINA).astimezone(UTC)


def _range_bounds(choice: str) -> tuple[datetime, datetime, datetime, datetime]:
    """(start, end, previous start, previous end) of the range `choice`."""
    end = view_now()
    today = end.astimezone(CHINA).date()
    month = today.replace(day=1)
    last_month = (month - timedelta(days=1)).replace(day=1)
    if choice in ROLLING:
        start = end - ROLLING[choice]
        return start, end, start - ROLLING[choice], start
    if choice == "This month":  # against the same stretch of last month
        start, before = _china_midnight(month), _china_midnight(last_month)
        return start, end, before, min(start, before + (end - start))
    if choice == "Last week":
        monday = today - timedelta(days=today.weekday())
        start, stop = _china_midnight(monday - timedelta(days=7)), _china_midnight(monday)
        return start, stop, start - timedelta(days=7), start
    if choice == "Last month":
        before = (last_month - timedelta(days=1)).replace(day=1)
        start = _china_midnight(last_month)
        return start, _china_midnight(month), _china_midnight(before), start
    first, last = _applied_days(end)
    start = _china_midnight(first)
    stop = min(end, _china_midnight(last + timedelta(days=1)))
    return start, stop, start - (stop - start), start


def describe_range(filters: queries.Filters) -> str:
    """The range in words, China time: 'Dec 1, 14:00 – Dec 2, 14:00 (China time)'; whole
    China days as dates."""
    lang = language()
    start, end = filters.start.astimezone(CHINA), filters.end.astimezone(CHINA)
    if start.time() == time() and end.time() == time():
        last = (end - timedelta(days=1)).date()
        days = (
            lang.date(start.date())
            if last == start.date()
            else f"{lang.date(start.date())} – {lang.date(last)}"
        )
        return _("{days} (China time)").format(days=days)
    return _("{start} – {end} (China time)").format(
        start=_minute(start, lang), end=_minute(end, lang)
    )


def _minute(moment: datetime, lang) -> str:
    return lang.datetime(moment)[:-3]  # no seconds: ranges start and end on whole minutes


def describe_comparison(period: Period) -> str:
    """What the changes on a page compare with, in words."""
    return _("changes compare with {range}").format(range=describe_range(period.previous))


def filters_in_words(filters: queries.Filters) -> str:
    """The filters in force: 'carrier: China Mobile · country: China', or 'all sends'."""
    parts = [
        f"{_(label)}: {', '.join(values)}"
        for label, values in (
            (N_("carrier"), filters.carriers),
            (N_("country"), filters.countries),
            (N_("province"), filters.provinces),
            (N_("source"), filters.sources),
        )
        if values
    ]
    return " · ".join(parts) if parts else _("all sends")


def export_header(name: str, filters: queries.Filters) -> str:
    """The first line of an export: what it is, its range and its filters."""
    fmt = "%Y-%m-%d %H:%M"
    start = filters.start.astimezone(CHINA).strftime(fmt)
    end = filters.end.astimezone(CHINA).strftime(fmt)
    return _("voicewatch {name} · {start} – {end} China time · {filters}").format(
        name=name, start=start, end=end, filters=filters_in_words(filters)
    )


def export_name(name: str, filters: queries.Filters | None, ext: str = "csv") -> str:
    """A download's file name carrying its range and filters:
    'voicewatch-fees-20251201T1400-20251202T1400-carrier-China-Mobile.csv'."""
    parts = ["voicewatch", name]
    if filters is not None:
        fmt = "%Y%m%dT%H%M"
        parts += [
            filters.start.astimezone(CHINA).strftime(fmt),
            filters.end.astimezone(CHINA).strftime(fmt),
        ]
        for label, values in (
            (N_("carrier"), filters.carriers),
            (N_("country"), filters.countries),
            (N_("province"), filters.provinces),
            (N_("source"), filters.sources),
        ):
            if values:
                parts += [_(label), *values]
    slug = "-".join(re.sub(r"[^\w]+", "-", part).strip("-") for part in parts)
    return f"{slug[:180]}.{ext}"


def viewer() -> str | None:
    """Who is looking: the OIDC user's email, the name given at the password login, or None."""
    return st.session_state.get("viewer")


def unmasked() -> bool:
    return bool(st.session_state.get("unmasked"))


def table_asked_for(key: str) -> bool:
    """A "Show table" switch under a chart: the chart's table (and its download) is built only
    when the viewer asks for it. A collapsed expander would still build and send it on every
    view (issue 18: the work of what is open only)."""
    return st.toggle(_("Show table"), key=key)


def table(
    df: pd.DataFrame,
    name: str,
    *,
    column_config: dict | None = None,
    key: str | None = None,
    on_select: str = "ignore",
    height: int | str = "auto",
    filters: queries.Filters | None = None,
    label: str | None = None,
) -> Any:
    """A dataframe (numbers masked unless this viewer may unmask) with a CSV download of
    exactly what is shown, its text cells formula-safe; with `filters`, the file's name and
    first line carry the range and filters. `label` is the shown name (default `name`); the
    columns `column_config` leaves unnamed are headed by their names in the viewer's language."""
    named = {
        c: st.column_config.Column(_(str(c))) for c in df.columns if c not in (column_config or {})
    }
    column_config = {**named, **(column_config or {})}
    places = {c: df[c].map(place) for c in ("carrier", "province", "country") if c in df}
    shown, column_config = _no_none(mask_numbers(df.assign(**places), unmasked()), column_config)
    event = st.dataframe(
        shown,
        hide_index=True,
        column_config=column_config,
        key=key,
        on_select=on_select,
        selection_mode="single-row",
        height=height,
    )
    # English downloads keep the names scripts may match; Chinese ones are named as shown.
    file_stem = (label or name) if language().chinese else name
    header = export_header(file_stem, filters) if filters is not None else ""
    st.download_button(
        _("Download {name} (CSV)").format(name=label or name),
        # Written when clicked, not on every view (issue 18); BOM so Excel reads the Chinese.
        lambda: csv_bytes(shown, header),
        file_name=export_name(file_stem, filters),
        mime="text/csv",
        key=f"csv-{key or name}",
        icon=":material/download:",
    )
    return event


def _no_none(df: pd.DataFrame, column_config: dict | None) -> tuple[pd.DataFrame, dict | None]:
    """`df` and its column config with no cell that reads "None": missing text is empty, and a
    number column with missing values is shown as text in the viewer's format ("" missing),
    its config turned into a text column of the same label."""
    config = dict(column_config or {})
    df = df.copy()
    for column in df.columns:
        values = df[column]
        if values.dtype == object and _all_numbers(values):
            values = pd.to_numeric(values)
        if values.dtype == object or isinstance(values.dtype, pd.StringDtype):  # pandas 3: str
            df[column] = values.where(values.notna(), "")
        elif pd.api.types.is_datetime64_any_dtype(values) and values.isna().any():
            spec = config.get(column) if isinstance(config.get(column), dict) else {}
            moment = (spec.get("type_config") or {}).get("format") or "YYYY-MM-DD HH:mm:ss"
            df[column] = values.dt.strftime(_strftime(moment)).fillna("")
            config[column] = st.column_config.TextColumn(
                spec.get("label") or str(column), pinned=spec.get("pinned")
            )
        elif _numbers(values) and values.isna().any():
            spec = config.get(column) if isinstance(config.get(column), dict) else {}
            percent_format = (spec.get("type_config") or {}).get("format") == "percent"
            df[column] = values.map(partial(_shown_number, percent_format=percent_format))
            config[column] = st.column_config.TextColumn(
                spec.get("label") or str(column), pinned=spec.get("pinned")
            )
    return df, (config or None)


def _strftime(moment: str) -> str:
    """A DatetimeColumn's format ('YYYY-MM-DD HH:mm:ss', 'MM-DD HH:mm') for strftime."""
    for token, code in (("YYYY", "%Y"), ("MM", "%m"), ("DD", "%d"), ("HH", "%H")):
        moment = moment.replace(token, code)
    return moment.replace("mm", "%M").replace("ss", "%S")


def _all_numbers(values: pd.Series) -> bool:
    """Whether an object column holds numbers only, beside missing values (e.g. codes)."""
    present = values.dropna()
    return bool(len(present)) and all(
        isinstance(v, (int, float)) and not isinstance(v, bool) for v in present
    )


def _numbers(values: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)


def _shown_number(value: object, percent_format: bool) -> str:
    if _missing(value) or value is pd.NA:
        return ""
    if percent_format:
        return language().percent(float(value))
    number = float(value)
    return language().number(number, 0 if number.is_integer() else 2)


def csv_bytes(df: pd.DataFrame, header: str = "") -> bytes:
    """`df` as the CSV every download button offers: formula-safe, with a BOM so Excel reads
    the Chinese text, after `header` as a '# ' line when given."""
    first = f"# {formula_safe_cell(header)}\n" if header else ""
    return (first + formula_safe(df).to_csv(index=False)).encode("utf-8-sig")


def raw_export_button(filters: queries.Filters) -> None:
    """A download of every send in `filters` with its report, written when clicked, in
    chunks through a temporary file (numbers masked unless this viewer may unmask)."""
    see_all = unmasked()
    # In the viewer's language now: the file is written later, outside this page's run.
    header = _("{header} · fee in {unit}").format(
        header=export_header(_("sends with reports"), filters), unit=settings().fee_unit
    )

    def shape(chunk: pd.DataFrame) -> pd.DataFrame:
        return formula_safe(mask_numbers(chunk, see_all))

    def build() -> BinaryIO:
        # Handed to Streamlit, which reads it and drops it; the file goes with the object.
        spool = tempfile.TemporaryFile()  # noqa: SIM115
        write_sends_csv(engine(), filters, spool, shape, header, settings().fee_unit)
        spool.seek(0)
        return spool

    st.download_button(
        _("Download every send with its report (CSV)"),
        build,
        file_name=export_name(_("sends with reports") if language().chinese else "sends", filters),
        mime="text/csv",
        key="csv-raw-sends",
        icon=":material/download:",
        help=_(
            "One row per send in the range and filters, with its report, for analysis elsewhere."
        ),
    )


def outside(text: object) -> str:
    """Text from outside, ready for any Markdown-rendering call (st.error, st.caption…): numbers
    masked unless this viewer may unmask, then escaped so it shows as plain text."""
    return literal(show_text(None if text is None else str(text), unmasked()))


def percent(value: float | None) -> str:
    return "—" if _missing(value) else language().percent(value)


def seconds(value: float | None) -> str:
    return "—" if _missing(value) else f"{value:.0f} s"


def fee_unit() -> str:
    """The unit fees are billed in, as the viewer reads it: 'credits' / '条', 'yuan' / '元'."""
    return _(FEE_UNIT_LABELS[settings().fee_unit])


def fee(value: float | None, digits: int = 0) -> str:
    """A fee with its unit: '1,234 credits', '0.05 yuan'."""
    if _missing(value):
        return "—"
    return _("{amount} {unit}").format(amount=language().number(value, digits), unit=fee_unit())


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and value != value)  # None or NaN


def china_time(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    return "—" if value is None else value.astimezone(CHINA).strftime(fmt)
