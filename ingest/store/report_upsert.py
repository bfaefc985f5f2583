"""The report upsert as each database takes a whole batch in one statement, and the values
it takes: made as the column types would make them, and sent to the driver as they are
(SQLAlchemy's per-row parameter processing cost more than SQLite's whole upsert, bench/README.md).

One statement per batch on both databases: the rollups are kept by triggers, per statement on
PostgreSQL, which an executemany fired once per report."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from functools import cache, lru_cache

from sqlalchemy import Connection, Dialect, String, case, func, or_
from sqlalchemy.dialects import postgresql, sqlite

from ingest.numbers import describe, storage_key
from ingest.store.models import Report
from ingest.yunpian.reports import Report as ReportRecord

# The upsert's columns: those that differ from report to report, in the order of
# report_values()' tuples, and those the same for a whole batch (batch_values()).
ROW_COLUMNS = (
    "sid",
    "mobile",
    "number",
    "uid",
    "status",
    "error_msg",
    "user_receive_time",
    "duration",
    "deliveries",
    "carrier",
    "province",
)
BATCH_COLUMNS = ("via_push", "via_pull", "first_seen", "last_seen")
# All of them in the table's order, which the compiled statement's parameters follow.
REPORT_COLUMNS = tuple(
    c.key for c in Report.__table__.columns if c.key in ROW_COLUMNS + BATCH_COLUMNS
)


def report_values(
    merged: Iterable[tuple[ReportRecord, int]], to_db: Callable[[datetime], object]
) -> list[tuple]:
    """(report, deliveries) pairs as tuples of ROW_COLUMNS, times made by `to_db`."""
    rows = []
    for report, deliveries in merged:
        info = describe(report.mobile)
        received = report.user_receive_time
        rows.append(
            (
                report.sid,
                report.mobile,
                storage_key(report.mobile),
                report.uid,
                report.status,
                report.error_msg,
                None if received is None else to_db(received),
                report.duration,
                deliveries,
                info.carrier,
                info.province,
            )
        )
    return rows


def batch_values(channel: str, now: datetime, to_db: Callable[[datetime], object]) -> dict:
    """The rest of REPORT_COLUMNS, for every report a batch stores at `now`."""
    seen = to_db(now)
    return {
        "via_push": channel == "push",
        "via_pull": channel == "pull",
        "first_seen": seen,
        "last_seen": seen,
    }


def _naive_utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)


@lru_cache(maxsize=4096)  # the reports of a batch share a few seconds
def _sqlite_text(moment: datetime) -> str:
    return _naive_utc(moment).isoformat(" ", "microseconds")


# What UTCDateTime (ingest/store/models.py) and the dialect's DateTime make of an aware datetime.
TIME_TO_DB: dict[str, Callable[[datetime], object]] = {
    "sqlite": _sqlite_text,
    "postgresql": _naive_utc,
}


def upsert_reports(
    connection: Connection,
    merged: Iterable[tuple[ReportRecord, int]],
    channel: str,
    now: datetime,
) -> None:
    """The compiled upsert straight to the driver, with values made as the column types
    would make them: SQLAlchemy's per-row parameter processing cost more than SQLite's whole
    upsert (bench/README.md). One statement per batch on either database."""
    dialect = connection.dialect
    to_db = TIME_TO_DB[dialect.name]
    rows, batch = report_values(merged, to_db), batch_values(channel, now, to_db)
    if dialect.name == "sqlite":
        # All the rows in one statement, as one JSON array: SQLite stores them without
        # taking Python's GIL back between rows. executemany takes it back after every row,
        # each time waiting for whichever thread holds it (the pull loop fetching and parsing
        # the next pages), which made it three times slower than SQLite's own work.
        array = json.dumps(rows, ensure_ascii=False, separators=(",", ":"))
        connection.exec_driver_sql(
            _sqlite_batch_upsert(dialect), (array, *(batch[c] for c in BATCH_COLUMNS))
        )
        return
    # One statement too, each column one array: an executemany fired the rollups' statement
    # triggers once per report (0.3-0.5 s for 500 reports, 0.03 s without the triggers).
    columns = {column: [row[i] for row in rows] for i, column in enumerate(ROW_COLUMNS)}
    connection.exec_driver_sql(_postgres_batch_upsert(dialect), columns | batch)


@cache
def _compiled_upsert(dialect: Dialect) -> str:
    compiled = _upsert(dialect.name).compile(dialect=dialect, column_keys=list(REPORT_COLUMNS))
    if dialect.positional and tuple(compiled.positiontup or ()) != REPORT_COLUMNS:
        raise AssertionError(f"upsert parameters out of order: {compiled.positiontup}")
    return compiled.string


@cache
def _postgres_batch_upsert(dialect: Dialect) -> str:
    """The upsert taking each of ROW_COLUMNS as one array (of a report's values, in order)
    and BATCH_COLUMNS as single values, all named parameters."""
    sql = _compiled_upsert(dialect)
    start, end = sql.find(" VALUES ("), sql.find(") ON CONFLICT")
    if start < 0 or end < start:
        raise AssertionError(f"unexpected upsert: {sql}")
    table = Report.__table__

    def typed(column: str, array: str = "") -> str:
        sql_type = table.c[column].type
        if isinstance(sql_type, String):  # unbounded: a cast to VARCHAR(n) would cut, not refuse
            sql_type = String()
        return f"CAST(%({column})s AS {sql_type.compile(dialect)}{array})"

    arrays = ", ".join(typed(c, "[]") for c in ROW_COLUMNS)
    values = ", ".join(f"r.{c}" if c in ROW_COLUMNS else typed(c) for c in REPORT_COLUMNS)
    rows = f"unnest({arrays}) AS r({', '.join(ROW_COLUMNS)})"
    return f"{sql[:start]} SELECT {values} FROM {rows}{sql[end + 1 :]}"


@cache
def _sqlite_batch_upsert(dialect: Dialect) -> str:
    """The upsert taking its rows from one JSON array of ROW_COLUMNS tuples (parameter 1)
    and the batch_values() of BATCH_COLUMNS (parameters 2 on): SQLite pays for each value it
    takes out of the JSON, so only what differs between reports is in it."""
    values = f"VALUES ({', '.join('?' * len(REPORT_COLUMNS))})"
    sql = _compiled_upsert(dialect)
    if sql.count(values) != 1:
        raise AssertionError(f"unexpected upsert: {sql}")
    columns = ", ".join(
        f"?{BATCH_COLUMNS.index(c) + 2}"
        if c in BATCH_COLUMNS
        else f"json_extract(value, '$[{ROW_COLUMNS.index(c)}]')"
        for c in REPORT_COLUMNS
    )
    # WHERE true: without it SQLite would read ON CONFLICT as a join's ON.
    return sql.replace(values, f"SELECT {columns} FROM json_each(?1) WHERE true")


@cache
def _upsert(dialect: str):
    insert = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}[dialect]
    table = Report.__table__
    statement = insert(table)
    new, old = statement.excluded, table.c
    newer = or_(old.user_receive_time.is_(None), new.user_receive_time >= old.user_receive_time)

    def later(column: str):
        return case(
            (newer, func.coalesce(new[column], old[column])),
            else_=func.coalesce(old[column], new[column]),
        )

    return statement.on_conflict_do_update(
        index_elements=[old.sid],
        set_={
            "status": case((newer, new.status), else_=old.status),
            "error_msg": case((newer, new.error_msg), else_=old.error_msg),
            "duration": case((newer, new.duration), else_=old.duration),
            "user_receive_time": later("user_receive_time"),
            "uid": func.coalesce(old.uid, new.uid),
            "via_push": old.via_push | new.via_push,
            "via_pull": old.via_pull | new.via_pull,
            "deliveries": old.deliveries + new.deliveries,
            "last_seen": new.last_seen,
        },
    )
