"""Writing sends, pull runs and retention, and the write transaction every store module uses.

Every write is idempotent where the world may repeat itself (reports: ingest/store/upserts.py;
raw bodies: ingest/store/inbox.py). The rollups the dashboard reads are kept by triggers in
the database (ingest/store/rollups.py), so each write updates them in its own transaction.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from weakref import WeakKeyDictionary

from sqlalchemy import (
    Connection,
    Engine,
    delete,
    update,
)
from sqlalchemy.exc import SQLAlchemyError

from ingest.numbers import describe, storage_key
from ingest.settings import Secret
from ingest.store.engine import store_wait
from ingest.store.models import PullRun, RawBody, Report, Send

_sqlite_writers: WeakKeyDictionary[Engine, threading.Lock] = WeakKeyDictionary()


class StoreBusy(SQLAlchemyError):
    """Another write of this process held the database for longer than the store wait."""


@contextmanager
def writing(engine: Engine) -> Iterator[Connection]:
    """A write transaction. SQLite has one writer at a time: threads of this process queue on
    a lock instead of sleeping in SQLite's busy handler (other processes still use that), and
    the transaction holds SQLite's write lock from its first statement. Either wait lasts at
    most the engine's store wait (VOICEWATCH_STORE_WAIT), then the write fails."""
    if engine.dialect.name != "sqlite":
        with engine.begin() as connection:
            yield connection
        return
    lock = _sqlite_writers.setdefault(engine, threading.Lock())
    wait = store_wait(engine)
    if not lock.acquire(timeout=wait):
        raise StoreBusy(f"another write held the database for {wait} s (VOICEWATCH_STORE_WAIT)")
    with _held(lock), engine.begin() as connection:
        # The write lock from the start (the driver would take it at the first write): what
        # the transaction reads first, such as the largest report id, no other process can
        # change before it commits, and a busy database is waited for (busy_timeout) rather
        # than refused when a read snapshot turns out stale at the first write.
        connection.exec_driver_sql("BEGIN IMMEDIATE")
        yield connection


@contextmanager
def _held(lock: threading.Lock) -> Iterator[None]:
    try:
        yield
    finally:
        lock.release()


def utcnow() -> datetime:
    return datetime.now(UTC)


def code_digest(key: Secret, mobile: str, code: str) -> str:
    """Keyed digest of a verification code to a number: comparable, never reversible without
    the key. Keyed by the canonical number, so one code to one number has one digest however
    the number was written (`+8615205201314`, `152 0520 1314`)."""
    content = f"{storage_key(mobile)}:{code}"
    return hmac.new(key.reveal().encode(), content.encode(), hashlib.sha256).hexdigest()


# ---------------------------------------------------------------- sends


def record_send(engine: Engine, send: Send) -> int:
    """Store one send attempt (carrier and province are filled in from the number)."""
    info = describe(send.mobile)
    send.carrier = send.carrier or info.carrier
    send.province = send.province or info.province
    with writing(engine) as connection:
        # Unset attributes are left out so that the columns' defaults apply.
        values = {
            c.key: getattr(send, c.key)
            for c in Send.__table__.columns
            if getattr(send, c.key) is not None
        }
        return connection.execute(
            Send.__table__.insert().values(values).returning(Send.id)
        ).scalar_one()


# ---------------------------------------------------------------- pull runs and retention


def start_pull_run(engine: Engine) -> int:
    with writing(engine) as connection:
        return connection.execute(
            PullRun.__table__.insert()
            .values(started_at=utcnow(), pages=0, reports=0)
            .returning(PullRun.id)
        ).scalar_one()


def finish_pull_run(
    engine: Engine, run_id: int, pages: int, reports: int, error: str | None = None
) -> None:
    with writing(engine) as connection:
        connection.execute(
            update(PullRun)
            .where(PullRun.id == run_id)
            .values(finished_at=utcnow(), pages=pages, reports=reports, error=error)
        )


def purge_older_than(engine: Engine, days: int, now: datetime | None = None) -> dict[str, int]:
    """Delete raw bodies, sends, reports and pull runs older than `days` (the retention
    setting): numbers, digests and who sent what go with them."""
    cutoff = (now or utcnow()) - timedelta(days=days)
    with writing(engine) as connection:
        return {
            "raw_inbox": connection.execute(
                delete(RawBody).where(RawBody.received_at < cutoff)
            ).rowcount,
            "sends": connection.execute(delete(Send).where(Send.sent_at < cutoff)).rowcount,
            "reports": connection.execute(
                delete(Report).where(Report.first_seen < cutoff)
            ).rowcount,
            "pull_runs": connection.execute(
                delete(PullRun).where(PullRun.started_at < cutoff)
            ).rowcount,
        }
