"""Rollups: sends joined with their reports, pre-aggregated per minute, hour and China day, and
a histogram of send→answer delays per hour and day, so the dashboard's Overview reads a few
thousand rows however many millions of reports are stored.

They are kept exact by triggers inside the database: every insert, update or delete of a send
or a report (the store's upserts, the seeder, a retention purge, a hand-made row) applies the
difference between the old and the new state of the (send, report) pair to each rollup, in the
writing transaction. Order does not matter: a report stored before its send adds nothing until
the send arrives, and the send then brings its report's contribution with it.

SQLite runs row triggers (one upsert per rollup, no grouping); PostgreSQL runs statement triggers over transition tables, which
also upsert the rollup rows in key order so that concurrent writers cannot deadlock on them.
`rebuild_rollups` recomputes every rollup from scratch (after a bulk load without triggers).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, Engine

from ingest.store import failure_rollup, number_rollup
from ingest.store.buckets import bucket_sql
from ingest.yunpian.codes import NUMBER_THROTTLE_CODES

TRAFFIC_TABLES = {"minute": "traffic_minutes", "hour": "traffic_hours", "day": "traffic_days"}
DELAY_TABLES = {"hour": "answer_delay_hours", "day": "answer_delay_days"}
TRAFFIC_KEYS = ("carrier", "province", "source")
DELAY_KEYS = ("carrier",)
SEND_COLUMNS = ("id", "sid", "sent_at", "carrier", "province", "source", "result_code", "fee")
REPORT_COLUMNS = ("id", "sid", "status", "duration", "user_receive_time")
_THROTTLE = ", ".join(str(code) for code in sorted(NUMBER_THROTTLE_CODES))


def traffic_measures(s: str = "s", r: str | None = "r") -> dict[str, str]:
    """SQL for what one send `s` with its report `r` (None: no report) adds to a traffic rollup."""

    def status_is(value: str) -> str:
        return f"{r}.status = '{value}'" if r else "1 = 0"

    def flag(condition: str) -> str:
        return f"CASE WHEN {condition} THEN 1 ELSE 0 END"

    return {
        "sends": "1",
        "accepted": flag(f"{s}.result_code = 0"),
        "throttled": flag(f"{s}.result_code IN ({_THROTTLE})"),
        "rejected": flag(f"{s}.result_code <> 0"),
        "fees": f"{s}.fee",
        "reported": flag(f"{r}.sid IS NOT NULL") if r else "0",
        "answered": flag(status_is("SUCCESS")),
        "failed": flag(status_is("FAIL")),
        "answered_accepted": flag(f"{s}.result_code = 0 AND {status_is('SUCCESS')}"),
        "failed_accepted": flag(f"{s}.result_code = 0 AND {status_is('FAIL')}"),
        "answered_duration": f"CASE WHEN {status_is('SUCCESS')} THEN {r}.duration ELSE 0 END"
        if r
        else "0",
    }


MEASURES = tuple(traffic_measures())
SEND_MEASURES = ("sends", "accepted", "throttled", "rejected", "fees")  # no report involved


def delay_ds_sql(dialect: str, received: str, sent: str) -> str:
    """SQL for `received - sent` in whole tenths of a second, rounded half away from zero.

    The one definition of the delay the Overview's median and p95 are taken over. SQLite's
    julianday() keeps milliseconds, so its delay is first made an exact integer of them."""
    if dialect == "postgresql":
        return f"CAST(round(extract(epoch from ({received} - {sent})) * 10) AS integer)"
    ms = f"CAST(round((julianday({received}) - julianday({sent})) * 86400000.0) AS INTEGER)"
    return f"(CASE WHEN {ms} >= 0 THEN ({ms} + 50) / 100 ELSE -((50 - {ms}) / 100) END)"


# ---------------------------------------------------------------- triggers


@dataclass(frozen=True)
class _Pair:
    """Sends `s` (with reports `r`, or none) whose contribution is added times `sign`."""

    sign: int
    source: str  # a FROM clause defining s (and r when with_report)
    with_report: bool


def _pairs_select(dialect: str, pairs: list[_Pair]) -> str:
    """One row per (send, report) pair: its keys, signed measures and signed answer delay."""
    parts = []
    for pair in pairs:
        r = "r" if pair.with_report else None
        measures = traffic_measures("s", r)
        delay = (
            f"CASE WHEN r.status = 'SUCCESS' AND r.user_receive_time IS NOT NULL "
            f"THEN {delay_ds_sql(dialect, 'r.user_receive_time', 's.sent_at')} END"
            if r
            else "NULL"
        )
        columns = [
            "s.sent_at AS sent_at",
            *(f"s.{key} AS {key}" for key in TRAFFIC_KEYS),
            *(f"{pair.sign} * ({sql}) AS {name}" for name, sql in measures.items()),
            f"{delay} AS delay_ds",
            f"{pair.sign} AS sign",
        ]
        parts.append(f"SELECT {', '.join(columns)} FROM {pair.source}")
    return " UNION ALL ".join(parts)


def _apply(dialect: str, pairs: list[_Pair]) -> list[str]:
    """Statements adding the pairs' contributions to every rollup."""
    union = _pairs_select(dialect, pairs)
    statements = []
    for grain, table in TRAFFIC_TABLES.items():
        keys = ", ".join(("at", *TRAFFIC_KEYS))
        sums = ", ".join(f"sum({m})" for m in MEASURES)
        changed = " OR ".join(f"sum({m}) <> 0" for m in MEASURES)
        updates = ", ".join(f"{m} = {table}.{m} + excluded.{m}" for m in MEASURES)
        statements.append(
            f"INSERT INTO {table} ({keys}, {', '.join(MEASURES)}) "
            f"SELECT {bucket_sql(dialect, 'p.sent_at', grain)} AS at, "
            f"{', '.join(f'p.{k}' for k in TRAFFIC_KEYS)}, {sums} FROM ({union}) AS p "
            f"WHERE true GROUP BY 1, 2, 3, 4 HAVING {changed} ORDER BY 1, 2, 3, 4 "
            f"ON CONFLICT ({keys}) DO UPDATE SET {updates}"
        )
    for grain, table in DELAY_TABLES.items():
        keys = ", ".join(("at", *DELAY_KEYS, "delay_ds"))
        statements.append(
            f"INSERT INTO {table} ({keys}, answered) "
            f"SELECT {bucket_sql(dialect, 'p.sent_at', grain)} AS at, p.carrier, p.delay_ds, "
            f"sum(p.sign) FROM ({union}) AS p WHERE p.delay_ds IS NOT NULL "
            f"GROUP BY 1, 2, 3 HAVING sum(p.sign) <> 0 ORDER BY 1, 2, 3 "
            f"ON CONFLICT ({keys}) DO UPDATE SET answered = {table}.answered + excluded.answered"
        )
    return statements


# What a write to one table does to the pairs, with `s_rows`/`r_rows` the rows written.
def _send_pairs(rows: str, sign: int) -> _Pair:
    return _Pair(sign, f"{rows} AS s LEFT JOIN reports AS r ON r.sid = s.sid", True)


def _report_pairs(rows: str, sign: int) -> list[_Pair]:
    """A report joining its send: its own contribution in, the send-without-report out."""
    return [
        _Pair(sign, f"sends AS s JOIN {rows} AS r ON s.sid = r.sid", True),
        _Pair(-sign, f"sends AS s JOIN {rows} AS k ON s.sid = k.sid", False),
    ]


_SEND_CHANGED = ("sid", "sent_at", "carrier", "province", "source", "result_code", "fee")
_REPORT_CHANGED = ("sid", "status", "duration", "user_receive_time")


def _distinct(old: str, new: str, columns: tuple[str, ...]) -> str:
    return " OR ".join(f"{old}.{c} IS NOT {new}.{c}" for c in columns)


def _sqlite_upserts(send: str, source: str, terms: list[tuple[int, str | None]]) -> list[str]:
    """Row-trigger statements adding, for the one send `send` (found by `source`, a FROM …
    WHERE clause), the sum of sign × contribution with each report of `terms` (None: none).
    One send per statement means one upsert per rollup, with no grouping."""
    statements = []
    measures = [traffic_measures(send, r) for _, r in terms]
    # A report changing leaves the send's own measures alone: their terms cancel out.
    cancels = sum(sign for sign, _ in terms) == 0
    moving = [m for m in MEASURES if not (cancels and m in SEND_MEASURES)]
    deltas = [
        " + ".join(f"{sign} * ({m[name]})" for (sign, _), m in zip(terms, measures, strict=True))
        if name in moving
        else "0"
        for name in MEASURES
    ]
    for grain, table in TRAFFIC_TABLES.items():
        keys = ", ".join(("at", *TRAFFIC_KEYS))
        updates = ", ".join(f"{m} = {table}.{m} + excluded.{m}" for m in moving)
        statements.append(
            f"INSERT INTO {table} ({keys}, {', '.join(MEASURES)}) "
            f"SELECT {bucket_sql('sqlite', f'{send}.sent_at', grain)}, "
            f"{', '.join(f'{send}.{k}' for k in TRAFFIC_KEYS)}, {', '.join(deltas)} {source} "
            f"ON CONFLICT ({keys}) DO UPDATE SET {updates}"
        )
    for sign, r in terms:
        if r is None:
            continue
        for grain, table in DELAY_TABLES.items():
            keys = ", ".join(("at", *DELAY_KEYS, "delay_ds"))
            delay = delay_ds_sql("sqlite", f"{r}.user_receive_time", f"{send}.sent_at")
            statements.append(
                f"INSERT INTO {table} ({keys}, answered) "
                f"SELECT {bucket_sql('sqlite', f'{send}.sent_at', grain)}, {send}.carrier, "
                f"{delay}, {sign} {source} AND {r}.status = 'SUCCESS' "
                f"AND {r}.user_receive_time IS NOT NULL "
                f"ON CONFLICT ({keys}) DO UPDATE SET answered = {table}.answered + excluded.answered"
            )
    return statements


def _sqlite_send(row: str, sign: int) -> list[str]:
    """A send row (NEW or OLD) in or out, with whatever report its sid has."""
    source = f"FROM (SELECT 1) AS one LEFT JOIN reports AS r ON r.sid = {row}.sid WHERE true"
    return _sqlite_upserts(row, source, [(sign, "r")])


def _sqlite_report(row: str, sign: int) -> list[str]:
    """A report row in (its contribution replaces its send's no-report one) or out."""
    source = f"FROM sends AS s WHERE s.sid = {row}.sid"
    return _sqlite_upserts("s", source, [(sign, row), (-sign, None)])


def _sqlite_triggers() -> list[str]:
    same_sid_changed = f"OLD.sid = NEW.sid AND ({_distinct('OLD', 'NEW', _REPORT_CHANGED)})"
    events = {
        ("sends", "insert", "INSERT", ""): _sqlite_send("NEW", 1),
        ("sends", "delete", "DELETE", ""): _sqlite_send("OLD", -1),
        ("sends", "update", "UPDATE", _distinct("OLD", "NEW", _SEND_CHANGED)): [
            *_sqlite_send("OLD", -1),
            *_sqlite_send("NEW", 1),
        ],
        ("reports", "insert", "INSERT", ""): _sqlite_report("NEW", 1),
        ("reports", "delete", "DELETE", ""): _sqlite_report("OLD", -1),
        # The usual correction: same sid, new status or time — one delta per rollup.
        ("reports", "update", "UPDATE", same_sid_changed): _sqlite_upserts(
            "s", "FROM sends AS s WHERE s.sid = NEW.sid", [(-1, "OLD"), (1, "NEW")]
        ),
        ("reports", "update_sid", "UPDATE", "OLD.sid IS NOT NEW.sid"): [
            *_sqlite_report("OLD", -1),
            *_sqlite_report("NEW", 1),
        ],
    }
    ddl = []
    for (table, name, event, when), statements in events.items():
        condition = f" WHEN {when}" if when else ""
        ddl.append(
            f"CREATE TRIGGER rollup_{table}_{name} AFTER {event} ON {table}"
            f"{condition} BEGIN {'; '.join(statements)}; END"
        )
    return ddl


def _postgres_triggers() -> list[str]:
    def changed(columns: tuple[str, ...], pick: str) -> str:
        differs = " OR ".join(f"o.{c} IS DISTINCT FROM n.{c}" for c in columns)
        return f"(SELECT {pick}.* FROM old_rows AS o JOIN new_rows AS n ON o.id = n.id WHERE {differs})"

    events = {
        ("sends", "INSERT", "NEW TABLE AS new_rows"): [_send_pairs("new_rows", 1)],
        ("sends", "DELETE", "OLD TABLE AS old_rows"): [_send_pairs("old_rows", -1)],
        ("sends", "UPDATE", "OLD TABLE AS old_rows NEW TABLE AS new_rows"): [
            _send_pairs(changed(_SEND_CHANGED, "o"), -1),
            _send_pairs(changed(_SEND_CHANGED, "n"), 1),
        ],
        ("reports", "INSERT", "NEW TABLE AS new_rows"): _report_pairs("new_rows", 1),
        ("reports", "DELETE", "OLD TABLE AS old_rows"): _report_pairs("old_rows", -1),
        ("reports", "UPDATE", "OLD TABLE AS old_rows NEW TABLE AS new_rows"): [
            *_report_pairs(changed(_REPORT_CHANGED, "o"), -1),
            *_report_pairs(changed(_REPORT_CHANGED, "n"), 1),
        ],
    }
    ddl = []
    for (table, event, referencing), pairs in events.items():
        name = f"rollup_{table}_{event.lower()}"
        body = "".join(f"{statement};\n" for statement in _apply("postgresql", pairs))
        ddl.append(
            f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $body$\n"
            f"BEGIN\n{body}RETURN NULL;\nEND\n$body$"
        )
        ddl.append(
            f"CREATE TRIGGER {name} AFTER {event} ON {table} REFERENCING {referencing} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {name}()"
        )
    return ddl


def _trigger_names() -> list[tuple[str, str]]:
    names = [
        (f"rollup_{table}_{event}", table)
        for table in ("sends", "reports")
        for event in ("insert", "delete", "update")
    ]
    return [*names, ("rollup_reports_update_sid", "reports")]


def install_triggers(connection: Connection) -> None:
    """Create the triggers that keep every rollup exact (idempotent: replaces them)."""
    drop_triggers(connection)
    ddl = _postgres_triggers() if connection.dialect.name == "postgresql" else _sqlite_triggers()
    for statement in ddl:
        connection.exec_driver_sql(statement)
    number_rollup.install_triggers(connection)
    failure_rollup.install_triggers(connection)


def drop_triggers(connection: Connection) -> None:
    """Remove the rollup triggers (bulk loads do this, then `rebuild_rollups`)."""
    for name, table in _trigger_names():
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name} ON {table}")
            connection.exec_driver_sql(f"DROP FUNCTION IF EXISTS {name}()")
        else:
            connection.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name}")
    number_rollup.drop_triggers(connection)
    failure_rollup.drop_triggers(connection)


# ---------------------------------------------------------------- from scratch


def aggregate_sql(dialect: str, grain: str) -> str:
    """A from-scratch SELECT of the traffic rollup at `grain` over sends ⟕ reports."""
    measures = traffic_measures("s", "r")
    sums = ", ".join(f"sum({sql}) AS {name}" for name, sql in measures.items())
    keys = ", ".join(f"s.{k}" for k in TRAFFIC_KEYS)
    return (
        f"SELECT {bucket_sql(dialect, 's.sent_at', grain)} AS at, {keys}, {sums} "
        f"FROM sends AS s LEFT JOIN reports AS r ON r.sid = s.sid GROUP BY 1, 2, 3, 4 "
        f"ORDER BY 1, 2, 3, 4"
    )


def delay_aggregate_sql(dialect: str, grain: str) -> str:
    """A from-scratch SELECT of the answer-delay histogram at `grain`."""
    delay = delay_ds_sql(dialect, "r.user_receive_time", "s.sent_at")
    return (
        f"SELECT {bucket_sql(dialect, 's.sent_at', grain)} AS at, s.carrier, {delay} AS delay_ds, "
        f"count(*) AS answered FROM sends AS s JOIN reports AS r ON r.sid = s.sid "
        f"WHERE r.status = 'SUCCESS' AND r.user_receive_time IS NOT NULL GROUP BY 1, 2, 3 "
        f"ORDER BY 1, 2, 3"
    )


def _coarser(table: str, grain: str, dialect: str, keys: tuple[str, ...], sums: list[str]) -> str:
    """A rollup re-bucketed to a coarser grain (sums add up, so this is exact)."""
    columns = ", ".join(keys)
    positions = ", ".join(str(i + 1) for i in range(len(keys) + 1))
    return (
        f"SELECT {bucket_sql(dialect, 'at', grain)} AS at, {columns}, "
        f"{', '.join(f'sum({m}) AS {m}' for m in sums)} FROM {table} "
        f"GROUP BY {positions} ORDER BY {positions}"
    )


def rebuild_rollups(engine: Engine) -> None:
    """Recompute every rollup from sends and reports, in one transaction."""
    with engine.begin() as connection:
        for table in (*TRAFFIC_TABLES.values(), *DELAY_TABLES.values()):
            connection.exec_driver_sql(f"DELETE FROM {table}")
        fill_rollups(connection)


def fill_rollups(connection: Connection) -> None:
    """Roll up every stored send and report into the (empty) rollup tables; the number and
    failure rollups are emptied and refilled.

    Rows go in in key order, time first, as the triggers add them: on PostgreSQL, whose tables
    are heaps, a range of buckets is then a few contiguous pages, not one page a row."""
    dialect = connection.dialect.name
    measures = ", ".join(MEASURES)
    traffic_keys = ", ".join(("at", *TRAFFIC_KEYS))
    # Minutes from the raw rows, then each coarser grain from the finer rollup.
    connection.exec_driver_sql(
        f"INSERT INTO traffic_minutes ({traffic_keys}, {measures}) "
        f"{aggregate_sql(dialect, 'minute')}"
    )
    for finer, grain in (("traffic_minutes", "hour"), ("traffic_hours", "day")):
        connection.exec_driver_sql(
            f"INSERT INTO {TRAFFIC_TABLES[grain]} ({traffic_keys}, {measures}) "
            f"{_coarser(finer, grain, dialect, TRAFFIC_KEYS, list(MEASURES))}"
        )
    delay_keys = "at, carrier, delay_ds"
    connection.exec_driver_sql(
        f"INSERT INTO answer_delay_hours ({delay_keys}, answered) "
        f"{delay_aggregate_sql(dialect, 'hour')}"
    )
    day_delays = _coarser(
        "answer_delay_hours", "day", dialect, ("carrier", "delay_ds"), ["answered"]
    )
    connection.exec_driver_sql(
        f"INSERT INTO answer_delay_days ({delay_keys}, answered) {day_delays}"
    )
    number_rollup.refill(connection)
    failure_rollup.refill(connection)
