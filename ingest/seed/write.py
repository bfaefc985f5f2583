"""Writing seeded rows fast: a bulk load, as bench/data.py does it. Rows go to the driver's
executemany as plain tuples (SQLAlchemy's per-row processing cost more than the database), the
rollup triggers are dropped for the load and the rollups rebuilt from scratch after it (what the
triggers would have kept, tests/ingest/test_rollups.py), then the triggers put back; on SQLite
the plain indexes are built after the load too. All in one transaction, so a seed that fails
leaves the database as it was."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from functools import cache

from sqlalchemy import Connection, DateTime, Engine, Table
from sqlalchemy.types import TypeEngine

from ingest.numbers import storage_key
from ingest.store.models import Report, Send
from ingest.store.report_upsert import TIME_TO_DB
from ingest.store.rollups import (
    DELAY_TABLES,
    TRAFFIC_TABLES,
    drop_triggers,
    fill_rollups,
    install_triggers,
)

CHUNK = 20_000
CACHE_KB = 256_000
Tail = Callable[[list[dict]], list[tuple[Table, list[dict]]]]


def write_rows(
    engine: Engine,
    pieces: Iterable[tuple[list[dict], list[dict]]],
    tail: Tail,
    recent_since: datetime,
    done: Callable[[int], object],
) -> int:
    """Insert each piece's sends and reports, then the rows `tail` makes of the reports first
    seen since `recent_since`; `done(n)` after every `n` rows. The number of distinct mobiles."""
    mobiles: set[str] = set()
    recent: list[dict] = []
    with engine.begin() as connection:
        if connection.dialect.name == "sqlite":
            # Random keys (sids, numbers) in the unique indexes: with SQLite's default 2 MB
            # cache every row reads pages back from the file.
            connection.exec_driver_sql(f"PRAGMA cache_size = -{CACHE_KB}")
        drop_triggers(connection)
        indexes = _drop_indexes(connection, [Send.__tablename__, Report.__tablename__])
        for sends, reports in pieces:
            mobiles.update(send["mobile"] for send in sends)
            recent += [report for report in reports if report["first_seen"] >= recent_since]
            _insert_all(connection, [(Send.__table__, sends), (Report.__table__, reports)], done)
        _insert_all(connection, tail(recent), done)
        for statement in indexes:
            connection.exec_driver_sql(statement)
        for rollup in (*TRAFFIC_TABLES.values(), *DELAY_TABLES.values()):
            connection.exec_driver_sql(f"DELETE FROM {rollup}")
        fill_rollups(connection)
        install_triggers(connection)
        if connection.dialect.name == "sqlite":
            connection.exec_driver_sql("PRAGMA cache_size = -2000")  # SQLite's default
    return len(mobiles)


def _insert_all(
    connection: Connection, tables: list[tuple[Table, list[dict]]], done: Callable[[int], object]
) -> None:
    for table, rows in tables:
        for first in range(0, len(rows), CHUNK):
            chunk = rows[first : first + CHUNK]
            _insert(connection, table, chunk)
            done(len(chunk))


def _drop_indexes(connection: Connection, tables: list[str]) -> list[str]:
    """On SQLite, drop the tables' plain indexes; the statements that make them again. Built
    once after the load, from sorted keys, they cost a fraction of a million random updates."""
    if connection.dialect.name != "sqlite":
        return []
    marks = ", ".join("?" * len(tables))
    found = connection.exec_driver_sql(
        f"SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
        f"AND tbl_name IN ({marks})",
        tuple(tables),
    ).all()
    for name, _ in found:
        connection.exec_driver_sql(f'DROP INDEX "{name}"')
    return [sql for _, sql in found]


def _insert(connection: Connection, table: Table, rows: list[dict]) -> None:
    """One executemany of `rows` into `table`, each column's value as the model would store it:
    times naive UTC (on SQLite as SQLAlchemy's text), defaults filled in, `number` from `mobile`."""
    columns = [c for c in table.columns if not (c.primary_key and c.autoincrement)]
    names = [c.name for c in columns]
    defaults = {
        c.name: c.default.arg for c in columns if c.default is not None and c.default.is_scalar
    }
    to_db = TIME_TO_DB[connection.dialect.name]  # as UTCDateTime writes them
    times = {c.name for c in columns if _is_time(c.type)}
    mark = "?" if connection.dialect.paramstyle == "qmark" else "%s"
    tuples = []
    for row in rows:
        values = []
        for name in names:
            value = row.get(name, defaults.get(name))
            if name == "number" and "number" not in row:
                value = _number(row["mobile"])
            elif name in times and value is not None:
                value = to_db(value)
            values.append(value)
        tuples.append(tuple(values))
    sql = f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({', '.join([mark] * len(names))})"
    connection.exec_driver_sql(sql, tuples)


def _is_time(kind: TypeEngine) -> bool:
    # UTCDateTime is a TypeDecorator over DateTime whose python_type says `object`.
    return isinstance(getattr(kind, "impl_instance", kind), DateTime)


@cache
def _number(mobile: str) -> str:
    return storage_key(mobile)
