"""What every query shares: the filters, China-time bucketing per dialect, result frames."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import pandas as pd
from sqlalchemy import ColumnElement, Engine, Select, case, func, literal

from ingest.codes import NUMBER_THROTTLE_CODES
from ingest.models import RawBody, Report, Send

SENDS = Send.__table__
REPORTS = Report.__table__
RAW = RawBody.__table__
CHINA = "Asia/Shanghai"
THROTTLE_CODES = tuple(sorted(NUMBER_THROTTLE_CODES))
MAIN_CARRIERS = ("China Mobile", "China Unicom", "China Telecom")
GRAINS = ("minute", "hour", "day")


@dataclass(frozen=True)
class Filters:
    """The slice of sends a page looks at: [start, end) in aware UTC, and optional
    carriers / provinces / sources (empty means all)."""

    start: datetime
    end: datetime
    carriers: tuple[str, ...] = ()
    provinces: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()

    def previous(self) -> Filters:
        """The equal-length period just before this one, for deltas."""
        length = self.end - self.start
        return replace(self, start=self.start - length, end=self.start)


def grain_for(start: datetime, end: datetime) -> str:
    """A bucket size giving a readable number of points for the range."""
    length = end - start
    if length <= timedelta(hours=3):
        return "minute"
    if length <= timedelta(days=8):
        return "hour"
    return "day"


def bucket(engine: Engine, column: ColumnElement, grain: str) -> ColumnElement[str]:
    """`column` (naive UTC) truncated to `grain` in China time, as 'YYYY-MM-DD HH:MM:SS'.

    The one place that knows each dialect's date functions."""
    if grain not in GRAINS:
        raise ValueError(f"grain {grain!r}: expected one of {GRAINS}")
    if engine.dialect.name == "postgresql":
        local = func.timezone(CHINA, func.timezone("UTC", column))
        return func.to_char(func.date_trunc(grain, local), "YYYY-MM-DD HH24:MI:SS")
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
    if filters.carriers:
        stmt = stmt.where(SENDS.c.carrier.in_(filters.carriers))
    if filters.provinces:
        stmt = stmt.where(SENDS.c.province.in_(filters.provinces))
    if filters.sources:
        stmt = stmt.where(SENDS.c.source.in_(filters.sources))
    return stmt


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
