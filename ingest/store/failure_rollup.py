"""The failure rollups: failures per hour and per China day × stage × reason × code × carrier ×
province × source (`models.FailureHour`, `models.FailureDay`), for the Failures page.

A failure is a failed call (a report with status FAIL, by its send's time, carrier, province
and source; stage 'call', its reason the report's error_msg, code 0) or a refused send (result
code other than 0; stage 'send', reason '', its code). Without the rollups the page joined every
send of the range to its report (1.3 s a query for 24 h and 6-7 s for 30 days at 10 M reports
on PostgreSQL); with them, a range reads its whole days and hours here and raw rows only at its
edges, less than half an hour each.

A reason is its first `REASON_CHARS` characters (`reason_sql`), here and on raw rows alike:
error_msg comes from outside and may be 4,096 characters, more than a PostgreSQL index entry
holds, and reasons that differ only after that many characters are one reason on the page.

Triggers on sends and reports keep them exact in the writing transaction, as
`ingest.store.rollups` keeps the traffic rollups. Migration 0011 made the tables; the
migrations before it call the rollup functions while they do not exist yet, so every function
here first asks whether they do."""

from __future__ import annotations

from sqlalchemy import Connection, inspect

from ingest.store.buckets import bucket_sql

TABLES = {"hour": "failure_hours", "day": "failure_days"}
TABLE = TABLES["day"]  # made last: when it exists, both do
KEYS = ("stage", "reason", "code", "carrier", "province", "source")
NO_REASON = "(no error_msg)"  # a failed call's reason when its report has no error_msg
REASON_CHARS = 200
CALL, SEND = "call", "send"
# What changes a send's or a report's failures or where they are counted.
_SEND_CHANGED = ("sid", "sent_at", "carrier", "province", "source", "result_code")
_REPORT_CHANGED = ("sid", "status", "error_msg")
_EVENTS = ("insert", "delete", "update")
_TRIGGERS = "failure_rollup"  # their names' start


def reason_sql(error_msg: str) -> str:
    """SQL for a failed call's reason, from its report's `error_msg` column."""
    return f"substr(coalesce({error_msg}, '{NO_REASON}'), 1, {REASON_CHARS})"


def exists(connection: Connection) -> bool:
    return inspect(connection).has_table(TABLE)


def _columns(s: str, stage: str, reason: str, code: str, sign: str) -> str:
    """The select list of one failure of send `s`, before bucketing: sent_at, keys, failures."""
    keys = [f"{s}.sent_at AS sent_at", f"'{stage}' AS stage", f"{reason} AS reason"]
    keys += [f"{code} AS code", *(f"{s}.{k} AS {k}" for k in ("carrier", "province", "source"))]
    return ", ".join([*keys, f"{sign} AS failures"])


def _refused(s: str, source: str, sign: str) -> str:
    """The refused sends among `s` (`source`: a FROM clause defining it, or '')."""
    columns = _columns(s, SEND, "''", f"{s}.result_code", sign)
    return f"SELECT {columns} {source} WHERE {s}.result_code <> 0"


def _failed(s: str, r: str, source: str, sign: str) -> str:
    """The failed calls of sends `s` with reports `r` (`source`: a FROM … WHERE … clause)."""
    columns = _columns(s, CALL, reason_sql(f"{r}.error_msg"), "0", sign)
    return f"SELECT {columns} {source} AND {r}.status = 'FAIL'"


def _upserts(dialect: str, rows: str, *, grouped: bool) -> list[str]:
    """Add `rows` (sent_at, keys, failures) to each rollup."""
    return [_upsert(dialect, rows, grain, grouped=grouped) for grain in TABLES]


def _upsert(dialect: str, rows: str, grain: str, *, grouped: bool) -> str:
    """Add `rows` to the rollup of `grain`: per row when each statement brings at most one
    (SQLite's row triggers), else summed per key and in key order, so that concurrent writers
    take the rows' locks in one order and cannot deadlock."""
    table = TABLES[grain]
    keys = ", ".join(("at", *KEYS))
    at = bucket_sql(dialect, "p.sent_at", grain)
    picked = ", ".join(f"p.{k}" for k in KEYS)
    if grouped:
        positions = ", ".join(str(i + 1) for i in range(len(KEYS) + 1))
        select_rows = (
            f"SELECT {at}, {picked}, sum(p.failures) FROM ({rows}) AS p WHERE true "
            f"GROUP BY {positions} HAVING sum(p.failures) <> 0 ORDER BY {positions}"
        )
    else:
        select_rows = f"SELECT {at}, {picked}, p.failures FROM ({rows}) AS p WHERE true"
    return (
        f"INSERT INTO {table} ({keys}, failures) {select_rows} "
        f"ON CONFLICT ({keys}) DO UPDATE SET failures = {table}.failures + excluded.failures"
    )


def _sqlite_send(row: str, sign: str) -> list[str]:
    """A send row (NEW or OLD) in or out: its refusal, and its report's failure if any."""
    failed = _failed(row, "r", f"FROM reports AS r WHERE r.sid = {row}.sid", sign)
    return [
        *_upserts("sqlite", _refused(row, "", sign), grouped=False),
        *_upserts("sqlite", failed, grouped=False),
    ]


def _sqlite_report(row: str, sign: str) -> list[str]:
    """A report row (NEW or OLD) in or out: its failure, counted where its send is."""
    source = f"FROM sends AS s WHERE s.sid = {row}.sid"
    return _upserts("sqlite", _failed("s", row, source, sign), grouped=False)


def _sqlite_triggers() -> list[str]:
    def changed(columns: tuple[str, ...]) -> str:
        return " WHEN " + " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in columns)

    bodies = {
        ("sends", "insert"): ("", _sqlite_send("NEW", "1")),
        ("sends", "delete"): ("", _sqlite_send("OLD", "-1")),
        ("sends", "update"): (
            changed(_SEND_CHANGED),
            [*_sqlite_send("OLD", "-1"), *_sqlite_send("NEW", "1")],
        ),
        ("reports", "insert"): ("", _sqlite_report("NEW", "1")),
        ("reports", "delete"): ("", _sqlite_report("OLD", "-1")),
        ("reports", "update"): (
            changed(_REPORT_CHANGED),
            [*_sqlite_report("OLD", "-1"), *_sqlite_report("NEW", "1")],
        ),
    }
    return [
        f"CREATE TRIGGER {_TRIGGERS}_{table}_{event} AFTER {event.upper()} ON {table}{when} "
        f"BEGIN {'; '.join(statements)}; END"
        for (table, event), (when, statements) in bodies.items()
    ]


def _postgres_sends(rows: str, sign: str) -> list[str]:
    return [
        _refused("s", f"FROM {rows} AS s", sign),
        _failed("s", "r", f"FROM {rows} AS s JOIN reports AS r ON r.sid = s.sid WHERE true", sign),
    ]


def _postgres_reports(rows: str, sign: str) -> list[str]:
    return [
        _failed("s", "r", f"FROM sends AS s JOIN {rows} AS r ON r.sid = s.sid WHERE true", sign)
    ]


def _postgres_triggers() -> list[str]:
    def moved(columns: tuple[str, ...], pick: str) -> str:
        differs = " OR ".join(f"o.{c} IS DISTINCT FROM n.{c}" for c in columns)
        return f"(SELECT {pick}.* FROM old_rows AS o JOIN new_rows AS n ON o.id = n.id WHERE {differs})"

    both = "OLD TABLE AS old_rows NEW TABLE AS new_rows"
    events = {
        ("sends", "insert"): ("NEW TABLE AS new_rows", _postgres_sends("new_rows", "1")),
        ("sends", "delete"): ("OLD TABLE AS old_rows", _postgres_sends("old_rows", "-1")),
        ("sends", "update"): (
            both,
            [
                *_postgres_sends(moved(_SEND_CHANGED, "o"), "-1"),
                *_postgres_sends(moved(_SEND_CHANGED, "n"), "1"),
            ],
        ),
        ("reports", "insert"): ("NEW TABLE AS new_rows", _postgres_reports("new_rows", "1")),
        ("reports", "delete"): ("OLD TABLE AS old_rows", _postgres_reports("old_rows", "-1")),
        ("reports", "update"): (
            both,
            [
                *_postgres_reports(moved(_REPORT_CHANGED, "o"), "-1"),
                *_postgres_reports(moved(_REPORT_CHANGED, "n"), "1"),
            ],
        ),
    }
    ddl = []
    for (table, event), (referencing, parts) in events.items():
        name = f"{_TRIGGERS}_{table}_{event}"
        statements = _upserts("postgresql", " UNION ALL ".join(parts), grouped=True)
        body = "".join(f"{statement};\n" for statement in statements)
        ddl.append(
            f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $body$\n"
            f"BEGIN\n{body}RETURN NULL;\nEND\n$body$"
        )
        ddl.append(
            f"CREATE TRIGGER {name} AFTER {event.upper()} ON {table} REFERENCING {referencing} "
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
    for table in ("sends", "reports"):
        for event in _EVENTS:
            name = f"{_TRIGGERS}_{table}_{event}"
            if connection.dialect.name == "postgresql":
                connection.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name} ON {table}")
                connection.exec_driver_sql(f"DROP FUNCTION IF EXISTS {name}()")
            else:
                connection.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name}")


def refill(connection: Connection) -> None:
    """Recompute the rollups from every stored send and report (after a bulk load without
    triggers), rows in key order as the triggers add them: hours from the raw rows, days from
    the hours (sums add up, so this is exact)."""
    if not exists(connection):
        return
    for table in TABLES.values():
        connection.exec_driver_sql(f"DELETE FROM {table}")
    every = [
        _refused("s", "FROM sends AS s", "1"),
        _failed("s", "r", "FROM sends AS s JOIN reports AS r ON r.sid = s.sid WHERE true", "1"),
    ]
    dialect = connection.dialect.name
    connection.exec_driver_sql(_upsert(dialect, " UNION ALL ".join(every), "hour", grouped=True))
    hours = f"SELECT at AS sent_at, {', '.join(KEYS)}, failures FROM {TABLES['hour']}"
    connection.exec_driver_sql(_upsert(dialect, hours, "day", grouped=True))
