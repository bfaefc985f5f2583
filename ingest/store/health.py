"""Whether ingest is healthy, from what the database and its disk say.

One evaluation shared by `/healthz` (which adds what only the running service knows, such as
its recent failed writes) and the dashboard's Ingest health page, so that both agree.
`read_signals` reads; `evaluate` is a pure function of what was read.
"""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, func, or_, select, text

from ingest.i18n import N_
from ingest.store.models import PullRun, RawBody, Send
from ingest.store.writes import utcnow

# The reasons `evaluate` may give: a fixed set, for machines to match on.
STORE_FAILING = "store_failing"  # writes fail, the database is locked or does not answer
PULL_STALE = "pull_stale"  # the pull loop has not succeeded for several intervals
DISK_LOW = "disk_low"  # the database's filesystem is nearly full
UPSTREAM_UNREACHABLE = "upstream_unreachable"  # Yunpian did not answer the latest calls
INGEST_ALERT = "ingest_alert"  # an alert about ingest (pull, pushes, reports) is firing
REASONS = (STORE_FAILING, PULL_STALE, DISK_LOW, UPSTREAM_UNREACHABLE, INGEST_ALERT)

PULL_STALE_INTERVALS = 4  # a pull is stale after this many intervals without success...
PULL_STALE_MIN_S = 30.0  # ...and never sooner than this (a long drain is not stale)
FAILURES_IN_A_ROW = 3  # this many failed pulls, or relayed sends without an answer, in a row
SEND_WINDOW = timedelta(minutes=5)  # relayed sends older than this say nothing of now
PROBE_WAIT = 1.0  # seconds a SQLite write lock is waited for by the health probe


@dataclass(frozen=True)
class StoreSignals:
    """What the database and its disk said at `checked_at`."""

    checked_at: datetime
    database_error: str | None  # the error's type name when the database did not answer
    write_locked: bool  # SQLite: no write could begin within PROBE_WAIT
    pull_ever_ran: bool
    last_pull_alive: datetime | None  # last successful pull's end, or a running pull's start
    failed_pulls_in_a_row: int  # most recent pull runs that failed (Yunpian's error)
    unanswered_sends_in_a_row: int  # most recent relayed sends with no answer or a 5xx
    disk_free_bytes: int | None  # None: not a local SQLite file
    last_write: datetime | None = None  # the newest body, send or pull run stored


@dataclass(frozen=True)
class Problem:
    """One reason ingest is degraded (`reason` is one of REASONS) and what was seen: `detail`
    in English, and for a reader in another language `words` (a msgid) and their `values`."""

    reason: str
    detail: str
    words: str = ""
    values: tuple[tuple[str, object], ...] = ()


def problem(reason: str, words: str, **values: object) -> Problem:
    """A Problem whose detail is `words` with `values` put in (datetimes as ISO 8601)."""
    shown = {k: v.isoformat() if isinstance(v, datetime) else v for k, v in values.items()}
    return Problem(reason, words.format(**shown), words, tuple(values.items()))


def read_signals(engine: Engine, now: datetime | None = None) -> StoreSignals:
    """Read the health signals; a database that does not answer is itself a signal."""
    now = now or utcnow()
    disk_free = _disk_free(engine)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
            pulls = _pull_signals(connection)
            sends = _unanswered_sends_in_a_row(connection, now)
            last_write = _last_write(connection)
    except Exception as error:  # health must answer whatever the database does
        return StoreSignals(now, type(error).__name__, False, False, None, 0, 0, disk_free)
    locked = _write_locked(engine)
    return StoreSignals(now, None, locked, *pulls, sends, disk_free, last_write)


def evaluate(
    signals: StoreSignals,
    *,
    pull_interval: float,
    disk_min_free_bytes: int,
    recent_store_errors: int = 0,
    firing_alerts: Sequence[str] = (),
) -> list[Problem]:
    """The problems the signals show (empty: healthy). `recent_store_errors`: failed writes
    the running service saw lately and since `signals.last_write`, which the database cannot
    know of. `firing_alerts`: the alerts about ingest firing now (ingest.alerts.status), so
    health and the alerts never disagree."""
    problems = [problem(INGEST_ALERT, N_("alert firing: {name}"), name=n) for n in firing_alerts]
    if signals.database_error:
        unreachable = N_("database unreachable: {error}")
        problems.append(problem(STORE_FAILING, unreachable, error=signals.database_error))
    elif signals.write_locked:
        locked = N_("database write-locked for over {wait} s")
        problems.append(problem(STORE_FAILING, locked, wait=PROBE_WAIT))
    elif recent_store_errors:
        failed = N_("{n} failed writes lately")
        problems.append(problem(STORE_FAILING, failed, n=recent_store_errors))
    stale_after = max(PULL_STALE_INTERVALS * pull_interval, PULL_STALE_MIN_S)
    alive = signals.last_pull_alive
    if signals.pull_ever_ran and (
        alive is None or (signals.checked_at - alive).total_seconds() > stale_after
    ):
        if alive:
            problems.append(
                problem(PULL_STALE, N_("no successful pull since {since}"), since=alive)
            )
        else:
            problems.append(problem(PULL_STALE, N_("no successful pull yet")))
    free = signals.disk_free_bytes
    if free is not None and free < disk_min_free_bytes:
        low = N_("{mib} MiB free on the database's disk")
        problems.append(problem(DISK_LOW, low, mib=free // 2**20))
    if signals.failed_pulls_in_a_row >= FAILURES_IN_A_ROW:
        failed = N_("the last {n} pulls failed")
        problems.append(problem(UPSTREAM_UNREACHABLE, failed, n=signals.failed_pulls_in_a_row))
    if signals.unanswered_sends_in_a_row >= FAILURES_IN_A_ROW:
        unanswered = N_("the last {n} relayed sends got no answer")
        problems.append(
            problem(UPSTREAM_UNREACHABLE, unanswered, n=signals.unanswered_sends_in_a_row)
        )
    return problems


def _pull_signals(connection) -> tuple[bool, datetime | None, int]:
    ok_end = select(func.max(PullRun.finished_at)).where(PullRun.error.is_(None))
    running = select(func.max(PullRun.started_at)).where(PullRun.finished_at.is_(None))
    last_ok, running_since = (connection.execute(q).scalar() for q in (ok_end, running))
    recent = connection.execute(
        select(PullRun.error).order_by(PullRun.id.desc()).limit(FAILURES_IN_A_ROW)
    ).all()
    alive = max((t for t in (last_ok, running_since) if t is not None), default=None)
    return bool(recent), alive, _leading(error is not None for (error,) in recent)


def _last_write(connection) -> datetime | None:
    newest = [
        connection.execute(select(func.max(column))).scalar()
        for column in (RawBody.received_at, Send.sent_at, PullRun.started_at)
    ]
    return max((moment for moment in newest if moment is not None), default=None)


def _unanswered_sends_in_a_row(connection, now: datetime) -> int:
    unanswered = or_(Send.http_status.is_(None), Send.http_status >= 500)
    recent = connection.execute(
        select(unanswered)
        .where(Send.sent_at >= now - SEND_WINDOW)
        # Newest by time, read from ix_sends_sent_at: ordered by id alone, SQLite walked the
        # whole table backwards whenever no send was recent (1 s at 10 M sends, each /healthz).
        .order_by(Send.sent_at.desc(), Send.id.desc())
        .limit(FAILURES_IN_A_ROW)
    ).all()
    return _leading(bool(flag) for (flag,) in recent)


def _leading(flags) -> int:
    count = 0
    for flag in flags:
        if not flag:
            break
        count += 1
    return count


def _sqlite_file(engine: Engine) -> Path | None:
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        return None
    return Path(database)


def _disk_free(engine: Engine) -> int | None:
    path = _sqlite_file(engine)
    if path is None:
        return None
    try:
        return shutil.disk_usage(path.resolve().parent).free
    except OSError:
        return None


def _write_locked(engine: Engine) -> bool:
    """Whether a write could not begin within PROBE_WAIT (nothing is written: rolled back)."""
    path = _sqlite_file(engine)
    if path is None:
        return False
    connection = sqlite3.connect(path, timeout=PROBE_WAIT, isolation_level=None)
    try:
        connection.execute("BEGIN IMMEDIATE")
        connection.execute("ROLLBACK")
        return False
    except sqlite3.OperationalError:
        return True
    finally:
        connection.close()
