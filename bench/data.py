"""Bulk history for benchmarks: `reports` delivery reports (and their sends) over 30 days
ending now, written by INSERT … SELECT in the database itself (a recursive CTE on SQLite,
generate_series on PostgreSQL), a million rows per statement.

The rollup triggers are dropped for the load and the rollups rebuilt from scratch afterwards
(`ingest.store.rollups.rebuild_rollups`, the function tests/ingest/test_rollups.py proves equal to
what the triggers keep); then the triggers are put back, so the database is as ingest leaves it,
and on PostgreSQL vacuumed and analyzed, as autovacuum leaves it.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, Engine, text
from tqdm import tqdm

from ingest.numbers import describe, storage_key
from ingest.seed.history import CARRIER_SHARE, PREFIXES, SOURCES
from ingest.store.rollups import drop_triggers, install_triggers, rebuild_rollups

DAYS = 30
CHUNK = 1_000_000
NUMBERS = 5000  # distinct mobiles the sends go to
ACCEPTED_SHARE = 0.96  # the rest rejected: codes 8, 9, 17, 22 (throttled), 2 and 3
REPORTED_SHARE = 0.97  # of accepted sends; the newest ones are still pending
ANSWERED_PERCENT = 85
# Changed when the rows change shape; files made before are made again (bench/queries.py).
# 2: sends and reports carry their canonical number, as the store writes them.
DATA_VERSION = 2


@dataclass(frozen=True)
class Generated:
    sends: int
    reports: int
    start: datetime
    end: datetime
    seconds: float


def numbers(seed: int = 1) -> list[tuple[int, str, str, str, str, str]]:
    """(k, mobile, number, carrier, province, source) rows: real prefixes, carriers by market
    share; `number` is the canonical form the store keys a number's history by."""
    rng = random.Random(seed)
    carriers, weights = list(CARRIER_SHARE), list(CARRIER_SHARE.values())
    names, source_weights = zip(*SOURCES, strict=True)
    rows = []
    while len(rows) < NUMBERS:
        prefix = rng.choice(PREFIXES[rng.choices(carriers, weights)[0]].split())
        mobile = prefix + f"{rng.randrange(10**8):08d}"
        info = describe(mobile)
        if info.province != "unknown":
            source = rng.choices(names, source_weights)[0]
            rows.append(
                (len(rows), mobile, storage_key(mobile), info.carrier, info.province, source)
            )
    return rows


def generate(engine: Engine, reports: int, *, end: datetime | None = None) -> Generated:
    """Fill an empty voicewatch database with `reports` reports over the 30 days before `end`."""
    end = (end or datetime.now(UTC)).replace(microsecond=0)
    start = end - timedelta(days=DAYS)
    sends = int(reports / (ACCEPTED_SHARE * REPORTED_SHARE)) + 1
    began = time.perf_counter()
    dialect = engine.dialect.name
    with engine.begin() as connection:
        drop_triggers(connection)
        connection.exec_driver_sql(
            "CREATE TABLE bench_numbers (k INTEGER PRIMARY KEY, mobile VARCHAR(32), "
            "number VARCHAR(32), carrier VARCHAR(32), province VARCHAR(64), source VARCHAR(16))"
        )
        connection.execute(
            text("INSERT INTO bench_numbers VALUES (:k, :m, :n, :c, :p, :s)"),
            [dict(zip("kmncps", row, strict=True)) for row in numbers()],
        )
    step = DAYS * 86400 / sends
    with tqdm(total=sends + reports, desc=f"generating {reports:,} reports", unit="row") as bar:
        for first in range(0, sends, CHUNK):
            last = min(sends, first + CHUNK)
            with engine.begin() as connection:
                _execute(connection, _sends_sql(dialect, first, last, start, step))
            bar.update(last - first)
        for first in range(0, reports, CHUNK):
            last = min(reports, first + CHUNK)
            with engine.begin() as connection:
                _execute(connection, _reports_sql(dialect, first, last))
            bar.update(last - first)
    with engine.begin() as connection:
        connection.exec_driver_sql("DROP TABLE bench_numbers")
    if dialect == "postgresql":
        # Plan the rebuild from statistics of the loaded rows, not from whatever autoanalyze saw
        # so far: once, without this, the rebuild's sends-reports join held ~20 GB for minutes.
        with engine.connect() as connection:
            connection.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(
                "ANALYZE sends, reports"
            )
    print("rebuilding rollups …", flush=True)
    rebuild_rollups(engine)
    with engine.begin() as connection:
        install_triggers(connection)
    if dialect == "postgresql":
        # What autovacuum does soon after such a load: done here, the timings do not depend on
        # whether it is still at work (competing for the CPUs) when the queries run.
        with engine.connect() as connection:
            connection.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(
                "VACUUM ANALYZE"
            )
    else:
        with engine.begin() as connection:
            connection.exec_driver_sql("ANALYZE")
    return Generated(sends, reports, start, end, time.perf_counter() - began)


def _sends_sql(dialect: str, first: int, last: int, start: datetime, step: float) -> str:
    """Sends `first`..`last`-1, evenly over the range with jitter; sid = the number in hex."""
    base = start.replace(tzinfo=None).isoformat(sep=" ")
    # r: a pseudo-random 0..999999 per row, a hash of i (SQLite may evaluate random() once per
    # reference once the subquery is flattened).
    if dialect == "postgresql":
        rows = f"SELECT i, {_hash('i')} AS r FROM generate_series({first}::bigint, {last - 1}) AS i"
        at = f"timestamp '{base}' + make_interval(secs => (i + r / 1000000.0) * {step})"
        sid = "lpad(to_hex(i), 32, '0')"
    else:
        rows = (
            f"WITH RECURSIVE n(i) AS (SELECT {first} UNION ALL SELECT i + 1 FROM n WHERE i < {last - 1}) "
            f"SELECT i, {_hash('i')} AS r FROM n"
        )
        at = f"strftime('%Y-%m-%d %H:%M:%f', '{base}', '+' || ((i + r / 1000000.0) * {step}) || ' seconds') || '000'"
        sid = "printf('%032x', i)"
    code = (
        "CASE WHEN r % 100 < 96 THEN 0 WHEN r % 100 = 96 THEN 8 WHEN r % 100 = 97 THEN 9 "
        "WHEN r % 100 = 98 THEN 22 WHEN r % 1000 < 995 THEN 17 ELSE 3 END"
    )
    return (
        "INSERT INTO sends (sent_at, mobile, number, code_digest, kind, result_code, result_msg, "
        "http_status, fee, count, sid, latency_ms, source, carrier, province) "
        f"SELECT {at}, b.mobile, b.number, 'bench', 'code', c.code, "
        "CASE WHEN c.code = 0 THEN 'OK' ELSE 'refused' END, "
        "CASE WHEN c.code = 0 THEN 200 ELSE 400 END, CASE WHEN c.code = 0 THEN 1.0 ELSE 0 END, "
        f"CASE WHEN c.code = 0 THEN 1 ELSE 0 END, CASE WHEN c.code = 0 THEN {sid} END, "
        "120.0 + r % 200, b.source, b.carrier, b.province "
        f"FROM (SELECT i, r, {code} AS code FROM ({rows}) AS g) AS c "
        f"JOIN bench_numbers AS b ON b.k = (c.i * 7919 + c.r) % {NUMBERS}"
    )


def _reports_sql(dialect: str, first: int, last: int) -> str:
    """Reports for the accepted sends with ids first+1..last (in send order, so the newest
    accepted sends stay pending): answered 85 %, after 10-60 s, seen 1-12 s later."""
    if dialect == "postgresql":
        received = (
            "date_trunc('second', s.sent_at + make_interval(secs => 10 + (s.r % 50000) / 1000.0))"
        )
        seen = "s.sent_at + make_interval(secs => 10 + (s.r % 50000) / 1000.0 + 1 + s.r % 11)"
        true, false = "true", "false"
    else:
        received = "strftime('%Y-%m-%d %H:%M:%S.000000', s.sent_at, '+' || (10 + (s.r % 50000) / 1000.0) || ' seconds')"
        seen = "strftime('%Y-%m-%d %H:%M:%f', s.sent_at, '+' || (11 + (s.r % 50000) / 1000.0 + s.r % 11) || ' seconds') || '000'"
        true, false = "1", "0"
    answered = f"s.r % 100 < {ANSWERED_PERCENT}"
    return (
        "INSERT INTO reports (sid, mobile, number, uid, status, error_msg, user_receive_time, "
        "duration, via_push, via_pull, deliveries, first_seen, last_seen, carrier, province) "
        f"SELECT s.sid, s.mobile, s.number, NULL, CASE WHEN {answered} THEN 'SUCCESS' ELSE 'FAIL' END, "
        f"CASE WHEN {answered} THEN NULL ELSE '无人接听' END, {received}, "
        f"CASE WHEN {answered} THEN 12 + s.r % 24 ELSE 0 END, {true}, {false}, 1, {seen}, {seen}, "
        "s.carrier, s.province "
        f"FROM (SELECT sid, mobile, number, sent_at, carrier, province, {_hash('id + 7')} AS r "
        "FROM sends "
        f"WHERE result_code = 0 ORDER BY id LIMIT {last - first} OFFSET {first}) AS s"
    )


def _hash(column: str) -> str:
    """A well-mixed 0..999999 from an integer column (Knuth's multiplicative hash)."""
    return f"(({column}) * 2654435761 % 4294967291 % 1000000)"


def _execute(connection: Connection, sql: str) -> None:
    """Run literal SQL; psycopg reads % as a placeholder, so it is doubled there."""
    if connection.dialect.name == "postgresql":
        sql = sql.replace("%", "%%")
    connection.exec_driver_sql(sql)
