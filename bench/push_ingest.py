"""Target 1: reports stored per second through POST /push/voice (uvicorn in its own process,
concurrent clients, batches of 100, every report checked in the database afterwards), against
plain sqlite3 executemany of the same rows into the same schema, one commit per batch."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import httpx
from sqlalchemy import func, insert, select
from tqdm import tqdm

from bench.data import numbers
from bench.harness import Result, fresh_dir, served
from ingest.store.models import Report, Send
from ingest.store.report_upsert import ROW_COLUMNS, TIME_TO_DB, batch_values, report_values
from ingest.yunpian.reports import Report as ReportRecord
from ingest.yunpian.reports import format_china_time

BATCH = 100
CLIENTS = 8
GOAL = 0.5
T0 = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)


def serve_ingest(port: int, db_url: str) -> None:
    """The ingest service on 127.0.0.1:`port` over `db_url` (runs in a child process)."""
    import uvicorn

    from ingest.service.app import create_app
    from ingest.settings import Settings
    from ingest.store.engine import make_engine

    settings = Settings.from_env(
        {"VOICEWATCH_DB": db_url, "VOICEWATCH_DIGEST_KEY": "bench"}, env_file=None
    )
    app = create_app(settings, make_engine(db_url))
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def make_reports(count: int) -> list[ReportRecord]:
    pool = numbers()
    reports = []
    for i in range(count):
        mobile = pool[i % len(pool)][1]
        answered = i % 7 != 0
        received = T0 + timedelta(seconds=i // 2 + 30)  # whole seconds, as Yunpian writes them
        reports.append(
            ReportRecord(
                sid=f"push{i:028d}",
                mobile=mobile,
                status="SUCCESS" if answered else "FAIL",
                user_receive_time=received,
                duration=20 if answered else 0,
                error_msg=None if answered else "无人接听",
            )
        )
    return reports


def prepare(db_url: str, reports: list[ReportRecord]) -> None:
    """A database holding the sends the reports answer (so the rollups do their full work)."""
    from ingest.store.engine import make_engine

    engine = make_engine(db_url)
    pool = {mobile: (carrier, province) for _, mobile, _, carrier, province, _ in numbers()}
    rows = [
        {
            "sent_at": report.user_receive_time - timedelta(seconds=30),
            "mobile": report.mobile,
            "code_digest": "bench",
            "kind": "code",
            "result_code": 0,
            "fee": 1.0,
            "count": 1,
            "sid": report.sid,
            "source": "relay",
            "carrier": pool[report.mobile][0],
            "province": pool[report.mobile][1],
        }
        for report in reports
    ]
    with engine.begin() as connection:
        for start in range(0, len(rows), 10_000):
            connection.execute(insert(Send), rows[start : start + 10_000])
    engine.dispose()


def push_body(batch: list[ReportRecord]) -> bytes:
    wire = [
        {
            "sid": r.sid,
            "uid": None,
            "user_receive_time": format_china_time(r.user_receive_time),
            "duration": r.duration,
            "error_msg": r.error_msg,
            "mobile": r.mobile,
            "report_status": r.status,
        }
        for r in batch
    ]
    return b"voice_status=" + quote(json.dumps(wire, ensure_ascii=False)).encode()


async def push_all(url: str, bodies: list[bytes]) -> float:
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    bar = tqdm(total=len(bodies) * BATCH, desc="pushing", unit="report")
    headers = {"content-type": "application/x-www-form-urlencoded"}

    async def client() -> None:
        async with httpx.AsyncClient(timeout=60) as http:
            while not queue.empty():
                body = queue.get_nowait()
                answer = await http.post(f"{url}/push/voice", content=body, headers=headers)
                if answer.status_code != 200 or answer.text != "SUCCESS":
                    raise RuntimeError(f"push refused: {answer.status_code} {answer.text[:200]}")
                bar.update(BATCH)

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(CLIENTS)))
    elapsed = time.perf_counter() - started
    bar.close()
    return elapsed


def verify(db_url: str, reports: list[ReportRecord]) -> int:
    """How many reports are stored exactly as pushed (sid, status, duration, time, once)."""
    from ingest.store.engine import make_engine

    engine = make_engine(db_url)
    expected = {r.sid: r for r in reports}
    good = 0
    with engine.connect() as connection:
        rows = connection.execute(
            select(
                Report.sid,
                Report.status,
                Report.duration,
                Report.user_receive_time,
                Report.deliveries,
            )
        )
        for sid, status, duration, received, deliveries in rows:
            r = expected.get(sid)
            good += bool(
                r
                and (status, duration, received, deliveries)
                == (r.status, r.duration, r.user_receive_time, 1)
            )
        total = connection.execute(select(func.count()).select_from(Report)).scalar_one()
    engine.dispose()
    return good if total == len(reports) else -1


def raw_executemany(path: str, reports: list[ReportRecord]) -> float:
    """Seconds for plain sqlite3 to insert the rows the store would write, a commit a batch."""
    now, to_db = datetime.now(UTC), TIME_TO_DB["sqlite"]
    batch = batch_values("push", now, to_db)
    columns = (*ROW_COLUMNS, *batch)
    sql = f"INSERT INTO reports ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
    rows = [(*row, *batch.values()) for row in report_values(((r, 1) for r in reports), to_db)]
    connection = sqlite3.connect(path, timeout=30)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    started = time.perf_counter()
    for start in range(0, len(rows), BATCH):
        connection.executemany(sql, rows[start : start + BATCH])
        connection.commit()
    elapsed = time.perf_counter() - started
    connection.close()
    return elapsed


def run(count: int) -> list[Result]:
    reports = make_reports(count)
    directory = fresh_dir("push")
    service_url = f"sqlite:///{directory / 'service.db'}"
    raw_path = directory / "raw.db"
    prepare(service_url, reports)
    prepare(f"sqlite:///{raw_path}", reports)
    raw_seconds = raw_executemany(str(raw_path), reports)
    raw_rate = count / raw_seconds
    bodies = [push_body(reports[i : i + BATCH]) for i in range(0, count, BATCH)]
    with served(serve_ingest, service_url) as url:
        push_seconds = asyncio.run(push_all(url, bodies))
    stored = verify(service_url, reports)
    rate = count / push_seconds if stored == count else 0.0
    print(
        f"  push: {count:,} reports in {push_seconds:.2f} s, {stored:,} verified; "
        f"raw executemany {raw_seconds:.2f} s"
    )
    ratio = rate / raw_rate
    return [
        Result(
            f"1 Push ingest, SQLite, {count:,} reports, {CLIENTS} clients",
            f"{rate:,.0f} reports/s",
            f"{raw_rate:,.0f} rows/s",
            ratio,
            f"≥ {GOAL}×",
            ratio >= GOAL,
            "" if stored == count else f"only {stored} of {count} verified",
        )
    ]


if __name__ == "__main__":
    import sys

    from bench.__main__ import print_table

    print_table(run(200_000 if "--large" in sys.argv else 50_000))
