"""The number rollup: sends per China day × number × carrier × province × source
(`models.NumberDay`), for Throttling's "called suspiciously often" over long ranges.

Without it, ranking numbers over 30 days read and grouped every send of the range (~16 s at
10 M reports on SQLite); with it, a range reads its whole days here and only the raw sends at
its edges. It helps as much as numbers repeat within a day: when each is called once a month
it holds about as many rows as sends, and the ranking costs what it did before.

Only sends feed it (no report is involved), so triggers on sends alone keep it exact, in the
writing transaction, as `ingest.store.rollups` keeps the traffic rollups. Migration 0009 made
the table; the migrations before it call the rollup functions while it does not exist yet,
so every function here first asks whether it does."""

from __future__ import annotations

from sqlalchemy import Connection, inspect

from ingest.store.buckets import bucket_sql
from ingest.yunpian.codes import NUMBER_THROTTLE_CODES

TABLE = "number_days"
KEYS = ("mobile", "carrier", "province", "source")
MEASURES = ("sends", "accepted", "throttled")
# What changes a send's place or count in the rollup.
_CHANGED = ("sent_at", "mobile", "carrier", "province", "source", "result_code")
_THROTTLE = ", ".join(str(code) for code in sorted(NUMBER_THROTTLE_CODES))
_EVENTS = ("insert", "delete", "update")


def measures(s: str, sign: str = "1") -> dict[str, str]:
    """SQL for what one send `s` adds to the rollup, times `sign`."""
    return {
        "sends": sign,
        "accepted": f"{sign} * CASE WHEN {s}.result_code = 0 THEN 1 ELSE 0 END",
        "throttled": f"{sign} * CASE WHEN {s}.result_code IN ({_THROTTLE}) THEN 1 ELSE 0 END",
    }


def exists(connection: Connection) -> bool:
    return inspect(connection).has_table(TABLE)


def _upsert(select_rows: str) -> str:
    keys = ", ".join(("at", *KEYS))
    updates = ", ".join(f"{m} = {TABLE}.{m} + excluded.{m}" for m in MEASURES)
    return (
        f"INSERT INTO {TABLE} ({keys}, {', '.join(MEASURES)}) {select_rows} "
        f"ON CONFLICT ({keys}) DO UPDATE SET {updates}"
    )


def _sqlite_row(row: str, sign: str) -> str:
    """One send row (NEW or OLD) in or out: one upsert, no grouping."""
    values = [bucket_sql("sqlite", f"{row}.sent_at", "day"), *(f"{row}.{k}" for k in KEYS)]
    values += measures(row, sign).values()
    return _upsert(f"SELECT {', '.join(values)} WHERE true")


def _sqlite_triggers() -> list[str]:
    changed = " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in _CHANGED)
    bodies = {
        "insert": ("INSERT", "", [_sqlite_row("NEW", "1")]),
        "delete": ("DELETE", "", [_sqlite_row("OLD", "-1")]),
        "update": (
            "UPDATE",
            f" WHEN {changed}",
            [_sqlite_row("OLD", "-1"), _sqlite_row("NEW", "1")],
        ),
    }
    return [
        f"CREATE TRIGGER {TABLE}_sends_{name} AFTER {event} ON sends{when} "
        f"BEGIN {'; '.join(statements)}; END"
        for name, (event, when, statements) in bodies.items()
    ]


def _postgres_rows(rows: str, sign: str) -> str:
    columns = ["s.sent_at", *(f"s.{k}" for k in KEYS)]
    columns += [f"{sql} AS {name}" for name, sql in measures("s", sign).items()]
    return f"SELECT {', '.join(columns)} FROM {rows} AS s"


def _postgres_apply(parts: list[str]) -> str:
    """The signed sends of `parts` summed per rollup key and added, in key order (so that
    concurrent writers take the rows' locks in one order and cannot deadlock)."""
    positions = ", ".join(str(i + 1) for i in range(len(KEYS) + 1))
    sums = ", ".join(f"sum(p.{m})" for m in MEASURES)
    changed = " OR ".join(f"sum(p.{m}) <> 0" for m in MEASURES)
    at = bucket_sql("postgresql", "p.sent_at", "day")
    return _upsert(
        f"SELECT {at}, {', '.join(f'p.{k}' for k in KEYS)}, {sums} "
        f"FROM ({' UNION ALL '.join(parts)}) AS p WHERE true GROUP BY {positions} "
        f"HAVING {changed} ORDER BY {positions}"
    )


def _postgres_triggers() -> list[str]:
    differs = " OR ".join(f"o.{c} IS DISTINCT FROM n.{c}" for c in _CHANGED)
    moved = "(SELECT {pick}.* FROM old_rows AS o JOIN new_rows AS n ON o.id = n.id WHERE {differs})"
    events = {
        "insert": ("NEW TABLE AS new_rows", [_postgres_rows("new_rows", "1")]),
        "delete": ("OLD TABLE AS old_rows", [_postgres_rows("old_rows", "-1")]),
        "update": (
            "OLD TABLE AS old_rows NEW TABLE AS new_rows",
            [
                _postgres_rows(moved.format(pick="o", differs=differs), "-1"),
                _postgres_rows(moved.format(pick="n", differs=differs), "1"),
            ],
        ),
    }
    ddl = []
    for event, (referencing, parts) in events.items():
        name = f"{TABLE}_sends_{event}"
        ddl.append(
            f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $body$\n"
            f"BEGIN\n{_postgres_apply(parts)};\nRETURN NULL;\nEND\n$body$"
        )
        ddl.append(
            f"CREATE TRIGGER {name} AFTER {event.upper()} ON sends REFERENCING {referencing} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {name}()"
        )
    return ddl


def install_triggers(connection: Connection) -> None:
    """Create the triggers that keep the rollup exact (replacing them), if it exists."""
    drop_triggers(connection)
    if not exists(connection):
        return
    postgres = connection.dialect.name == "postgresql"
    for statement in _postgres_triggers() if postgres else _sqlite_triggers():
        connection.exec_driver_sql(statement)


def drop_triggers(connection: Connection) -> None:
    for event in _EVENTS:
        name = f"{TABLE}_sends_{event}"
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name} ON sends")
            connection.exec_driver_sql(f"DROP FUNCTION IF EXISTS {name}()")
        else:
            connection.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name}")


def refill(connection: Connection) -> None:
    """Recompute the rollup from every stored send (after a bulk load without triggers), rows
    in key order as the triggers add them."""
    if not exists(connection):
        return
    connection.exec_driver_sql(f"DELETE FROM {TABLE}")
    positions = ", ".join(str(i + 1) for i in range(len(KEYS) + 1))
    at = bucket_sql(connection.dialect.name, "s.sent_at", "day")
    sums = ", ".join(f"sum({sql})" for sql in measures("s").values())
    connection.exec_driver_sql(
        f"INSERT INTO {TABLE} (at, {', '.join(KEYS)}, {', '.join(MEASURES)}) "
        f"SELECT {at}, {', '.join(f's.{k}' for k in KEYS)}, {sums} FROM sends AS s "
        f"GROUP BY {positions} ORDER BY {positions}"
    )
