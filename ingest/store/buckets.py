"""Time buckets in SQL: a naive-UTC column floored to its minute, hour or China day, the one
definition every rollup (traffic, delays, numbers) is keyed by."""

from __future__ import annotations

CHINA_OFFSET_HOURS = 8  # Asia/Shanghai has had no daylight saving since 1991


def bucket_sql(dialect: str, column: str, grain: str) -> str:
    """SQL for `column` (naive UTC) floored to the minute, hour or China day, as naive UTC.

    On SQLite the text has SQLAlchemy's own format, so it compares with bound datetimes."""
    if dialect == "postgresql":
        if grain == "day":
            shift = f"interval '{CHINA_OFFSET_HOURS} hours'"
            return f"(date_trunc('day', {column} + {shift}) - {shift})"
        return f"date_trunc('{grain}', {column})"
    if grain == "day":
        return (
            f"strftime('%Y-%m-%d %H:%M:%S.000000', {column}, '+{CHINA_OFFSET_HOURS} hours', "
            f"'start of day', '-{CHINA_OFFSET_HOURS} hours')"
        )
    pattern = {"minute": "%Y-%m-%d %H:%M:00.000000", "hour": "%Y-%m-%d %H:00:00.000000"}[grain]
    return f"strftime('{pattern}', {column})"
