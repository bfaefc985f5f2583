"""The number rollup: sends, accepted, throttled and answered sends per China day × number ×
carrier × province × source (`models.NumberDay`), for Throttling's "called suspiciously often"
over long ranges.

Without it, ranking numbers over 30 days read and grouped every send of the range (~16 s at
10 M reports on SQLite); with it, a range reads its whole days here and only the raw sends at
its edges. It helps as much as numbers repeat within a day: when each is called once a month
it holds about as many rows as sends, and the ranking costs what it did before.

Triggers on sends and reports keep it exact, in the writing transaction, as
`ingest.store.rollups` keeps the traffic rollups: a send counts as answered while its report
says SUCCESS. Migration 0009 made the table and 0012 added `answered` (the listed numbers'
answered calls read every call and its report before: ~0.7 s of 2 s at 10 M reports on
PostgreSQL). The migrations before them call the rollup functions while the table or the
column does not exist yet, so every function here first asks which measures there are."""

from __future__ import annotations

from sqlalchemy import Connection, inspect

from ingest.store.buckets import bucket_sql
from ingest.yunpian.codes import NUMBER_THROTTLE_CODES

TABLE = "number_days"
KEYS = ("mobile", "carrier", "province", "source")
MEASURES = ("sends", "accepted", "throttled", "answered")
ANSWERED = "answered"  # added by migration 0012
# What changes a send's or a report's place or count in the rollup.
_SEND_CHANGED = ("sid", "sent_at", "mobile", "carrier", "province", "source", "result_code")
_REPORT_CHANGED = ("sid", "status")
_THROTTLE = ", ".join(str(code) for code in sorted(NUMBER_THROTTLE_CODES))
_EVENTS = ("insert", "delete", "update")


def measures(s: str, answered: str, sign: str = "1") -> dict[str, str]:
    """SQL for what one send `s` adds to the rollup, times `sign`; `answered` is SQL for
    whether its report says SUCCESS (1 or 0)."""
    return {
        "sends": sign,
        "accepted": f"{sign} * CASE WHEN {s}.result_code = 0 THEN 1 ELSE 0 END",
        "throttled": f"{sign} * CASE WHEN {s}.result_code IN ({_THROTTLE}) THEN 1 ELSE 0 END",
        ANSWERED: f"{sign} * {answered}",
    }


def _answer(r: str) -> str:
    """1 when report `r` (which may be missing: a LEFT JOIN's NULLs) says SUCCESS, else 0."""
    return f"CASE WHEN {r}.status = 'SUCCESS' THEN 1 ELSE 0 END"


def _report_only(r: str, sign: str) -> dict[str, str]:
    """What a report `r` adds to its send's row: its answer alone."""
    return {"sends": "0", "accepted": "0", "throttled": "0", ANSWERED: f"{sign} * {_answer(r)}"}


def exists(connection: Connection) -> bool:
    return inspect(connection).has_table(TABLE)


def present(connection: Connection) -> tuple[str, ...]:
    """The measures the table has (none when it does not exist): `answered` since 0012."""
    if not exists(connection):
        return ()
    columns = {column["name"] for column in inspect(connection).get_columns(TABLE)}
    return tuple(m for m in MEASURES if m in columns)


def _upsert(select_rows: str, kept: tuple[str, ...]) -> str:
    keys = ", ".join(("at", *KEYS))
    updates = ", ".join(f"{m} = {TABLE}.{m} + excluded.{m}" for m in kept)
    return (
        f"INSERT INTO {TABLE} ({keys}, {', '.join(kept)}) {select_rows} "
        f"ON CONFLICT ({keys}) DO UPDATE SET {updates}"
    )


def _sqlite_upsert(row: str, source: str, values: dict[str, str], kept) -> str:
    """One row's upsert: send `row`'s day and keys, `values` of the measures `kept`; `source`
    a FROM … WHERE … clause (or a WHERE alone)."""
    columns = [bucket_sql("sqlite", f"{row}.sent_at", "day"), *(f"{row}.{k}" for k in KEYS)]
    columns += [values[m] for m in kept]
    return _upsert(f"SELECT {', '.join(columns)} {source}", kept)


def _sqlite_send(row: str, sign: str, kept) -> str:
    """One send row (NEW or OLD) in or out, answered while its report says SUCCESS."""
    answered = (
        f"(SELECT count(*) FROM reports AS r WHERE r.sid = {row}.sid AND r.status = 'SUCCESS')"
    )
    return _sqlite_upsert(row, "WHERE true", measures(row, answered, sign), kept)


def _sqlite_report(row: str, sign: str, kept) -> str:
    """One report row (NEW or OLD) in or out: its answer, counted where its send is."""
    source = f"FROM sends AS s WHERE s.sid = {row}.sid AND {row}.status = 'SUCCESS'"
    return _sqlite_upsert("s", source, _report_only(row, sign), kept)


def _sqlite_triggers(kept: tuple[str, ...]) -> list[str]:
    def changed(columns: tuple[str, ...]) -> str:
        return " WHEN " + " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in columns)

    bodies = {
        ("sends", "insert"): ("", [_sqlite_send("NEW", "1", kept)]),
        ("sends", "delete"): ("", [_sqlite_send("OLD", "-1", kept)]),
        ("sends", "update"): (
            changed(_SEND_CHANGED),
            [_sqlite_send("OLD", "-1", kept), _sqlite_send("NEW", "1", kept)],
        ),
    }
    if ANSWERED in kept:
        bodies |= {
            ("reports", "insert"): ("", [_sqlite_report("NEW", "1", kept)]),
            ("reports", "delete"): ("", [_sqlite_report("OLD", "-1", kept)]),
            ("reports", "update"): (
                changed(_REPORT_CHANGED),
                [_sqlite_report("OLD", "-1", kept), _sqlite_report("NEW", "1", kept)],
            ),
        }
    return [
        f"CREATE TRIGGER {_name(table, event)} AFTER {event.upper()} ON {table}{when} "
        f"BEGIN {'; '.join(statements)}; END"
        for (table, event), (when, statements) in bodies.items()
    ]


def _name(table: str, event: str) -> str:
    return f"{TABLE}_{table}_{event}"


def _postgres_rows(rows: str, values: dict[str, str], kept) -> str:
    columns = ["s.sent_at", *(f"s.{k}" for k in KEYS)]
    columns += [f"{values[m]} AS {m}" for m in kept]
    return f"SELECT {', '.join(columns)} FROM {rows}"


def _postgres_sends(rows: str, sign: str, kept) -> str:
    joined = f"{rows} AS s LEFT JOIN reports AS r ON r.sid = s.sid"
    return _postgres_rows(joined, measures("s", _answer("r"), sign), kept)


def _postgres_reports(rows: str, sign: str, kept) -> str:
    joined = f"sends AS s JOIN {rows} AS r ON r.sid = s.sid"
    return _postgres_rows(joined, _report_only("r", sign), kept)


def _postgres_apply(parts: list[str], kept) -> str:
    """The signed rows of `parts` summed per rollup key and added, in key order (so that
    concurrent writers take the rows' locks in one order and cannot deadlock)."""
    positions = ", ".join(str(i + 1) for i in range(len(KEYS) + 1))
    sums = ", ".join(f"sum(p.{m})" for m in kept)
    changed = " OR ".join(f"sum(p.{m}) <> 0" for m in kept)
    at = bucket_sql("postgresql", "p.sent_at", "day")
    return _upsert(
        f"SELECT {at}, {', '.join(f'p.{k}' for k in KEYS)}, {sums} "
        f"FROM ({' UNION ALL '.join(parts)}) AS p WHERE true GROUP BY {positions} "
        f"HAVING {changed} ORDER BY {positions}",
        kept,
    )


def _postgres_triggers(kept: tuple[str, ...]) -> list[str]:
    def moved(columns: tuple[str, ...], pick: str) -> str:
        differs = " OR ".join(f"o.{c} IS DISTINCT FROM n.{c}" for c in columns)
        return f"(SELECT {pick}.* FROM old_rows AS o JOIN new_rows AS n ON o.id = n.id WHERE {differs})"

    both = "OLD TABLE AS old_rows NEW TABLE AS new_rows"
    events = {
        ("sends", "insert"): ("NEW TABLE AS new_rows", [_postgres_sends("new_rows", "1", kept)]),
        ("sends", "delete"): ("OLD TABLE AS old_rows", [_postgres_sends("old_rows", "-1", kept)]),
        ("sends", "update"): (
            both,
            [
                _postgres_sends(moved(_SEND_CHANGED, "o"), "-1", kept),
                _postgres_sends(moved(_SEND_CHANGED, "n"), "1", kept),
            ],
        ),
    }
    if ANSWERED in kept:
        events |= {
            ("reports", "insert"): (
                "NEW TABLE AS new_rows",
                [_postgres_reports("new_rows", "1", kept)],
            ),
            ("reports", "delete"): (
                "OLD TABLE AS old_rows",
                [_postgres_reports("old_rows", "-1", kept)],
            ),
            ("reports", "update"): (
                both,
                [
                    _postgres_reports(moved(_REPORT_CHANGED, "o"), "-1", kept),
                    _postgres_reports(moved(_REPORT_CHANGED, "n"), "1", kept),
                ],
            ),
        }
    ddl = []
    for (table, event), (referencing, parts) in events.items():
        name = _name(table, event)
        ddl.append(
            f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $body$\n"
            f"BEGIN\n{_postgres_apply(parts, kept)};\nRETURN NULL;\nEND\n$body$"
        )
        ddl.append(
            f"CREATE TRIGGER {name} AFTER {event.upper()} ON {table} REFERENCING {referencing} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {name}()"
        )
    return ddl


def install_triggers(connection: Connection) -> None:
    """Create the triggers that keep the rollup exact (replacing them), if it exists."""
    drop_triggers(connection)
    kept = present(connection)
    if not kept:
        return
    postgres = connection.dialect.name == "postgresql"
    for statement in _postgres_triggers(kept) if postgres else _sqlite_triggers(kept):
        connection.exec_driver_sql(statement)


def drop_triggers(connection: Connection) -> None:
    for table, event in [(t, e) for t in ("sends", "reports") for e in _EVENTS]:
        name = _name(table, event)
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name} ON {table}")
            connection.exec_driver_sql(f"DROP FUNCTION IF EXISTS {name}()")
        else:
            connection.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name}")


def refill(connection: Connection) -> None:
    """Recompute the rollup from every stored send and its report (after a bulk load without
    triggers), rows in key order as the triggers add them."""
    kept = present(connection)
    if not kept:
        return
    connection.exec_driver_sql(f"DELETE FROM {TABLE}")
    positions = ", ".join(str(i + 1) for i in range(len(KEYS) + 1))
    at = bucket_sql(connection.dialect.name, "s.sent_at", "day")
    values = measures("s", _answer("r"))
    sums = ", ".join(f"sum({values[m]})" for m in kept)
    connection.exec_driver_sql(
        f"INSERT INTO {TABLE} (at, {', '.join(KEYS)}, {', '.join(kept)}) "
        f"SELECT {at}, {', '.join(f's.{k}' for k in KEYS)}, {sums} "
        f"FROM sends AS s LEFT JOIN reports AS r ON r.sid = s.sid "
        f"GROUP BY {positions} ORDER BY {positions}"
    )
