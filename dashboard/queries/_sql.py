"""What every query shares: the filters, China-time bucketing per dialect, result frames."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import pandas as pd
from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Engine,
    Interval,
    Select,
    Subquery,
    Table,
    case,
    cast,
    func,
    literal,
    literal_column,
    select,
    union_all,
)

from ingest.store.buckets import CHINA_OFFSET_HOURS
from ingest.store.models import (
    AnswerDelayDay,
    AnswerDelayHour,
    RawBody,
    Report,
    Send,
    TrafficDay,
    TrafficHour,
    TrafficMinute,
)
from ingest.store.rollups import (
    MEASURES,
    TRAFFIC_KEYS,
    delay_ds_sql,
    traffic_measures,
)
from ingest.yunpian.codes import NUMBER_THROTTLE_CODES

SENDS = Send.__table__
REPORTS = Report.__table__
RAW = RawBody.__table__
CHINA = "Asia/Shanghai"
THROTTLE_CODES = tuple(sorted(NUMBER_THROTTLE_CODES))
MAIN_CARRIERS = ("China Mobile", "China Unicom", "China Telecom")
GRAINS = ("minute", "hour", "day", "week")
# Mainland provinces as the number geocoder names them (ingest/numbers.py `describe`): for a
# foreign number the stored "province" is its country's name, so the country of a send is read
# from its province, on raw rows and rollups alike, without a column of its own.
DOMESTIC_PROVINCES = (
    "Anhui", "Beijing", "Chongqing", "Fujian", "Gansu", "Guangdong", "Guangxi", "Guizhou",
    "Hainan", "Hebei", "Heilongjiang", "Henan", "Hubei", "Hunan", "Inner Mongolia", "Jiangsu",
    "Jiangxi", "Jilin", "Liaoning", "Ningxia", "Qinghai", "Shaanxi", "Shandong", "Shanghai",
    "Shanxi", "Sichuan", "Tianjin", "Tibet", "Xinjiang", "Yunnan", "Zhejiang",
)  # fmt: skip
DOMESTIC = "China"  # the country of domestic numbers
UNKNOWN = "unknown"


@dataclass(frozen=True)
class Filters:
    """The slice of sends a page looks at: [start, end) in aware UTC, and optional
    carriers / provinces / countries / sources (empty means all)."""

    start: datetime
    end: datetime
    carriers: tuple[str, ...] = ()
    provinces: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    countries: tuple[str, ...] = ()

    def previous(self) -> Filters:
        """The equal-length period just before this one, for deltas."""
        length = self.end - self.start
        return replace(self, start=self.start - length, end=self.start)


def grain_for(start: datetime, end: datetime) -> str:
    """A bucket size giving a readable number of points for the range: minutes up to 3 h,
    hours up to 2 days, days up to about three months, then weeks."""
    length = end - start
    if length <= timedelta(hours=3):
        return "minute"
    if length <= timedelta(days=2):
        return "hour"
    if length <= timedelta(days=92):
        return "day"
    return "week"


def grains_for(start: datetime, end: datetime) -> list[str]:
    """The grains that give between 2 and about 400 buckets over the range, finest first."""
    length = end - start
    sizes = {
        "minute": timedelta(minutes=1),
        "hour": timedelta(hours=1),
        "day": timedelta(days=1),
        "week": timedelta(days=7),
    }
    return [g for g, size in sizes.items() if 2 * size <= length <= 400 * size]


def country_of(province: ColumnElement, carrier: ColumnElement) -> ColumnElement[str]:
    """The country of a send from its stored province and carrier: 'China' for a mainland
    province (or no province but a domestic carrier), else the country name kept as province."""
    return case(
        (province.in_(DOMESTIC_PROVINCES), literal(DOMESTIC)),
        (
            province == UNKNOWN,
            case((carrier.in_(MAIN_CARRIERS), literal(DOMESTIC)), else_=literal(UNKNOWN)),
        ),
        else_=province,
    )


def bucket(engine: Engine, column: ColumnElement, grain: str) -> ColumnElement[str]:
    """`column` (naive UTC) truncated to `grain` in China time, as 'YYYY-MM-DD HH:MM:SS'.

    The one place that knows each dialect's date functions."""
    if grain not in GRAINS:
        raise ValueError(f"grain {grain!r}: expected one of {GRAINS}")
    if engine.dialect.name == "postgresql":
        # A fixed offset, as on SQLite and in the rollups' China days (no daylight saving since
        # 1991): per row it costs a fraction of two timezone() conversions.
        local = column + literal_column(f"interval '{CHINA_OFFSET_HOURS} hours'", Interval)
        return func.to_char(func.date_trunc(grain, local), "YYYY-MM-DD HH24:MI:SS")
    if grain == "week":  # the Monday on or before the China day
        return func.strftime("%Y-%m-%d", column, "+8 hours", "-6 days", "weekday 1")
    pattern = {"minute": "%Y-%m-%d %H:%M:00", "hour": "%Y-%m-%d %H:00:00", "day": "%Y-%m-%d"}
    return func.strftime(pattern[grain], column, "+8 hours")


def seconds_between(
    engine: Engine, later: ColumnElement, earlier: ColumnElement
) -> ColumnElement[float]:
    """`later - earlier` in seconds, per dialect."""
    if engine.dialect.name == "postgresql":
        return func.extract("epoch", later - earlier)
    return (func.julianday(later) - func.julianday(earlier)) * literal(86400.0)


def carrier_group(column: ColumnElement = SENDS.c.carrier) -> ColumnElement[str]:
    """The three domestic carriers by name; foreign and fixed lines together as 'other'."""
    return case((column.in_(MAIN_CARRIERS), column), else_=literal("other"))


def filtered(stmt: Select, filters: Filters) -> Select:
    """`stmt` limited to the sends in `filters` (the statement must select from sends)."""
    stmt = stmt.where(SENDS.c.sent_at >= filters.start, SENDS.c.sent_at < filters.end)
    return _narrowed(stmt, SENDS, filters)


def with_reports(stmt: Select) -> Select:
    """`stmt` over sends LEFT JOIN reports by sid."""
    return stmt.select_from(SENDS.outerjoin(REPORTS, REPORTS.c.sid == SENDS.c.sid))


def frame(engine: Engine, stmt: Select) -> pd.DataFrame:
    """Run `stmt` and return its rows as a DataFrame (columns even when empty)."""
    with engine.connect() as conn:
        result = conn.execute(stmt)
        return pd.DataFrame(result.fetchall(), columns=list(result.keys()))


def buckets_to_time(df: pd.DataFrame, column: str = "bucket") -> pd.DataFrame:
    """Parse bucket labels (already China time) into datetimes."""
    df[column] = pd.to_datetime(df[column])
    return df


def to_china(df: pd.DataFrame, *columns: str) -> pd.DataFrame:
    """Aware-UTC datetime columns shown as naive China time, as the dashboard labels them."""
    for column in columns:
        df[column] = pd.to_datetime(df[column], utc=True).dt.tz_convert(CHINA).dt.tz_localize(None)
    return df


def rate(numerator: pd.Series, denominator: pd.Series) -> pd.Series:
    """numerator / denominator, NaN where there is nothing to divide."""
    return numerator / denominator.where(denominator > 0)


def stack(*frames: pd.DataFrame) -> pd.DataFrame:
    """Rows of all `frames` (pandas warns on concatenating empty ones, so skip those)."""
    columns = list(dict.fromkeys(c for f in frames for c in f.columns))
    present = [f for f in frames if len(f)]
    if not present:
        return pd.DataFrame(columns=columns)
    return pd.concat(present, ignore_index=True).reindex(columns=columns)


# ---------------------------------------------------------------- rollups
#
# A range [start, end) is read as the widest rollup buckets that fit inside it, narrower ones
# at its edges and raw rows for what is left; an edge may also be read as its whole bucket minus
# the narrower buckets and raw rows outside the range, when that is less. Rollups are sums, so
# this is exact for any range (fees to float rounding, as any sum of them), and a 30-day range
# reads about thirty days and at each edge at most twelve hours, thirty minutes and thirty
# seconds, however busy they were.

RAW_ROWS = "raw"
TRAFFIC_ROLLUPS = {"minute": TrafficMinute, "hour": TrafficHour, "day": TrafficDay}
DELAY_ROLLUPS = {"hour": AnswerDelayHour, "day": AnswerDelayDay}
STEPS = {"minute": timedelta(minutes=1), "hour": timedelta(hours=1), "day": timedelta(days=1)}
CHINA_OFFSET = timedelta(hours=CHINA_OFFSET_HOURS)


@dataclass(frozen=True)
class Span:
    """[start, end) read from the rollup of `grain`, or from raw rows; subtracted when `sign`
    is -1."""

    grain: str
    start: datetime
    end: datetime
    sign: int = 1


def floor_to(at: datetime, grain: str) -> datetime:
    """`at` (aware UTC) floored to a minute, an hour or a China day."""
    if grain == "day":
        local = (at + CHINA_OFFSET).replace(hour=0, minute=0, second=0, microsecond=0)
        return local - CHINA_OFFSET
    if grain == "hour":
        return at.replace(minute=0, second=0, microsecond=0)
    return at.replace(second=0, microsecond=0)


def ceil_to(at: datetime, grain: str) -> datetime:
    """`at` (aware UTC) rounded up to a minute, an hour or a China day."""
    floor = floor_to(at, grain)
    return floor if floor == at else floor + STEPS[grain]


def spans(start: datetime, end: datetime, grains: tuple[str, ...]) -> list[Span]:
    """[start, end) cut into spans of the coarsest of `grains` (coarsest first) that fit, and
    its edges, each read at the finer grains either as it is or as the whole bucket it lies in
    minus the part of that bucket outside [start, end), whichever is shorter: no edge reads
    more than half a bucket at the next grain. A tie goes to the later bucket, so a period and
    the one just before it cut their common boundary alike."""
    if start >= end:
        return []
    for i, grain in enumerate(grains):
        first, last = ceil_to(start, grain), floor_to(end, grain)
        if first < last:
            finer = grains[i + 1 :]
            head, tail = floor_to(start, grain), ceil_to(end, grain)
            if start - head < first - start:
                first, before = head, _negated(spans(head, start, finer))
            else:
                before = spans(start, first, finer)
            if tail - end <= end - last:
                last, after = tail, _negated(spans(end, tail, finer))
            else:
                after = spans(last, end, finer)
            return [*before, Span(grain, first, last), *after]
    return [Span(RAW_ROWS, start, end)]


def _negated(parts: list[Span]) -> list[Span]:
    return [replace(span, sign=-span.sign) for span in parts]


def coarsest_grains(available: tuple[str, ...], grain: str | None) -> tuple[str, ...]:
    """The rollup grains usable for buckets of `grain` (None: no time buckets), coarsest first."""
    order = ("day", "hour", "minute")
    grain = "day" if grain == "week" else grain  # a week is summed from its days
    allowed = order[order.index(grain) :] if grain else order
    return tuple(g for g in allowed if g in available)


def _narrowed(stmt: Select, table: Table, filters: Filters) -> Select:
    if filters.carriers:
        stmt = stmt.where(table.c.carrier.in_(filters.carriers))
    if filters.provinces:
        stmt = stmt.where(table.c.province.in_(filters.provinces))
    if filters.sources:
        stmt = stmt.where(table.c.source.in_(filters.sources))
    if filters.countries:
        stmt = stmt.where(country_of(table.c.province, table.c.carrier).in_(filters.countries))
    return stmt


def traffic(filters: Filters, grain: str | None = None) -> Subquery:
    """Rows (at, carrier, province, source, <rollup measures>) that sum to the sends in
    `filters`; `at` is fine enough for buckets of `grain` (minute, hour, day or None)."""
    branches = []
    grains = coarsest_grains(tuple(TRAFFIC_ROLLUPS), grain)
    for span in spans(filters.start, filters.end, grains):
        if span.grain == RAW_ROWS:
            measures = traffic_measures(SENDS.name, REPORTS.name)
            stmt = select(
                SENDS.c.sent_at.label("at"),
                *(SENDS.c[key] for key in TRAFFIC_KEYS),
                *(_times(literal_column(sql), span.sign).label(n) for n, sql in measures.items()),
            ).select_from(SENDS.outerjoin(REPORTS, REPORTS.c.sid == SENDS.c.sid))
            stmt = filtered(stmt, replace(filters, start=span.start, end=span.end))
        else:
            table = TRAFFIC_ROLLUPS[span.grain].__table__
            stmt = select(
                table.c.at,
                *(table.c[key] for key in TRAFFIC_KEYS),
                *(_times(table.c[m], span.sign).label(m) for m in MEASURES),
            ).where(table.c.at >= span.start, table.c.at < span.end)
            stmt = _narrowed(stmt, table, filters)
        branches.append(stmt)
    if not branches:  # an empty range: no rows, but the columns
        branches.append(traffic_nothing())
    return union_all(*branches).subquery("traffic")


def traffic_nothing() -> Select:
    table = TrafficDay.__table__
    return select(
        table.c.at, *(table.c[key] for key in TRAFFIC_KEYS), *(table.c[m] for m in MEASURES)
    ).where(literal(False))


def total(column: ColumnElement) -> ColumnElement[int]:
    """SUM of a count column as an integer on every dialect (never NULL)."""
    return cast(func.coalesce(func.sum(column), 0), BigInteger)


def answer_delays(engine: Engine, periods: Sequence[Filters]) -> Subquery | None:
    """(delay_ds, answered_0, answered_1, …) rows whose counts, summed per delay, are the
    histograms of send→answer delays of the answered calls in each of `periods` (which differ
    in their time range only). The delay rollup is kept per carrier only, so a province or
    source filter reads raw rows (exact, slower).

    The histogram has no minute rollup and an hour of it holds thousands of rows when busy, so
    a span two periods both need (at the boundary of a period and the one before it) is read
    once, and counted in each with its own sign."""
    filters = periods[0]
    if any(replace(p, start=filters.start, end=filters.end) != filters for p in periods):
        raise ValueError(f"periods {periods!r}: expected the same filters but for their times")
    by_carrier_only = not (filters.provinces or filters.sources or filters.countries)
    grains = coarsest_grains(tuple(DELAY_ROLLUPS), None) if by_carrier_only else ()
    signs: dict[Span, list[int]] = {}  # each span read, with its sign in every period
    for i, period in enumerate(periods):
        for span in spans(period.start, period.end, grains):
            signs.setdefault(replace(span, sign=1), [0] * len(periods))[i] += span.sign
    branches = []
    for span, by_period in signs.items():
        if span.grain == RAW_ROWS:
            received, sent = f"{REPORTS.name}.user_receive_time", f"{SENDS.name}.sent_at"
            delay = literal_column(delay_ds_sql(engine.dialect.name, received, sent))
            stmt = select(delay.label("delay_ds"), *_per_period(literal(1), by_period))
            stmt = stmt.select_from(SENDS.join(REPORTS, REPORTS.c.sid == SENDS.c.sid))
            stmt = filtered(stmt, replace(filters, start=span.start, end=span.end)).where(
                REPORTS.c.status == "SUCCESS", REPORTS.c.user_receive_time.is_not(None)
            )
        else:
            table = DELAY_ROLLUPS[span.grain].__table__
            stmt = select(table.c.delay_ds, *_per_period(table.c.answered, by_period)).where(
                table.c.at >= span.start, table.c.at < span.end
            )
            if filters.carriers:
                stmt = stmt.where(table.c.carrier.in_(filters.carriers))
        branches.append(stmt)
    return union_all(*branches).subquery("delays") if branches else None


def _per_period(count: ColumnElement, signs: list[int]) -> list[ColumnElement]:
    return [_times(count, sign).label(f"answered_{i}") for i, sign in enumerate(signs)]


def _times(count: ColumnElement, sign: int) -> ColumnElement:
    """`count` as a span with `sign` adds it: as it is, negated, or not at all (0)."""
    return count if sign == 1 else -count if sign == -1 else literal(0)
