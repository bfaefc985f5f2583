"""The pull loop: drain Yunpian's pull_status into the store, raw body first, then wait."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import TypeVar

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from ingest import logs
from ingest.replay import keep_unstored, quarantine, replay_pending, replay_spool
from ingest.store.faults import is_transient
from ingest.store.group_commit import next_group
from ingest.store.inbox import JSON, keep_raw
from ingest.store.spool import PullSpool, Spooled, spool_for
from ingest.store.upserts import Page, store_pages
from ingest.store.writes import finish_pull_run, purge_older_than, start_pull_run, utcnow
from ingest.yunpian.client import MalformedAnswer, VoiceClient, YunpianError, interpret_pull_page
from ingest.yunpian.reports import Report

log = logging.getLogger(__name__)

PAGE_SIZE = 100  # Yunpian's maximum
# Pulled and kept, waiting for the writer (the loop waits beyond that), and the most pages a
# transaction stores: SQLite's cost per report falls as transactions grow (bench/README.md).
QUEUED_PAGES = 512
REPORT_TYPES = (1, 2)  # 1 = voice codes, 2 = voice notifications
PURGE_EVERY = 3600.0  # seconds between retention purges
PAGE_ATTEMPTS = 3  # a page the database refuses for no known reason, before its quarantine
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class DrainResult:
    pages: int
    reports: int
    new: int


def drain(client: VoiceClient, engine: Engine, stop: threading.Event | None = None) -> DrainResult:
    """Pull pages of 100 until a short page, for each report type; commit every body first.

    Each report is handed out once, so the body is committed before it is parsed and before
    the next page is asked for: to the spool beside a SQLite database (ingest/store/spool.py), to
    the raw inbox on PostgreSQL. A crash leaves it there, and `replay_pending` and
    `replay_spool` pick it up. While the body cannot be committed it is held and retried:
    pulling on would lose more. A writer thread stores the reports, and moves spooled bodies
    into the raw inbox, all the pages waiting a transaction, while the next pages are pulled.
    A page with reports the store cannot hold has its others stored and is quarantined.
    """
    stop = stop or threading.Event()
    spool = spool_for(engine)
    pages = reports = 0
    writer = _PageWriter(engine, spool, stop)
    try:
        for report_type in REPORT_TYPES:
            while True:
                status, body = client.pull_status_raw(PAGE_SIZE, report_type)
                kept = _until_stored(partial(_keep, engine, spool, body), stop)
                pages += 1
                try:
                    page = interpret_pull_page(status, body)
                except MalformedAnswer as error:
                    _until_stored(partial(keep_unstored, engine, spool, kept, error.msg), stop)
                    raise
                writer.put(kept, page.reports, page.reasons())
                reports += len(page.reports)
                if len(page.reports) + len(page.refused) < PAGE_SIZE:
                    break
    except BaseException:
        writer.close(quiet=True)  # what was queued is still stored; this error is the news
        raise
    return DrainResult(pages, reports, writer.close())


def _keep(engine: Engine, spool: PullSpool | None, body: bytes) -> int | Spooled:
    if spool is None:
        return keep_raw(engine, "pull", body, content_type=JSON)
    return spool.keep(body, utcnow())


class _PageWriter:
    """Stores pulled pages, already kept, on a thread of its own: whatever pages wait when
    it is free go into one transaction. A page it could not store stays in the spool for
    `replay_spool`, or `pending` in the raw inbox for `replay_pending`; a page the database
    refuses for what it holds is quarantined, and the other pages are stored."""

    def __init__(self, engine: Engine, spool: PullSpool | None, stop: threading.Event) -> None:
        self._engine, self._spool, self._stop = engine, spool, stop
        self._pages: queue.Queue[Page | None] = queue.Queue(QUEUED_PAGES)
        self._new = 0
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="pull-writer", daemon=True)
        self._thread.start()

    def put(self, kept: int | Spooled, page: list[Report], refused: str | None = None) -> None:
        if self._error is not None:
            raise self._error
        self._pages.put((kept, page, refused))

    def close(self, *, quiet: bool = False) -> int:
        """Store what is queued; the new reports stored. Raises what stopped the writer,
        unless `quiet`."""
        self._pages.put(None)
        self._thread.join()
        if self._error is not None and not quiet:
            raise self._error
        return self._new

    def _run(self) -> None:
        closed = False
        while not closed:
            group, closed = next_group(self._pages, QUEUED_PAGES, None)
            if not group or self._error is not None:
                continue  # after an error: only emptied, so that put() never blocks
            try:
                try:
                    self._store(group)
                except Exception as error:  # not the database being away: a page's content
                    _log_unstored(error, len(group))
                    for page in group:
                        self._store_orquarantine(page)
            except BaseException as error:
                self._error = error

    def _store(self, group: list[Page]) -> None:
        self._new += _until_stored(
            partial(store_pages, self._engine, group, "pull"), self._stop
        ).new
        spooled = [kept.id for kept, *_ in group if isinstance(kept, Spooled)]
        if spooled and self._spool is not None:
            _until_stored(partial(self._spool.forget, spooled), self._stop)

    def _store_orquarantine(self, page: Page) -> None:
        """Store one page, trying a few times; quarantine it if it still fails."""
        for attempt in range(1, PAGE_ATTEMPTS + 1):
            try:
                self._store([page])
                return
            except Exception as error:
                if attempt == PAGE_ATTEMPTS:
                    write = partial(quarantine, self._engine, self._spool, page[0], error)
                    _until_stored(write, self._stop)
                    return
                _log_unstored(error, 1, retry_in_s=0.2 * attempt)
                self._stop.wait(0.2 * attempt)


def _log_unstored(error: BaseException, pages: int, **fields: object) -> None:
    logs.event(
        log, "pull.unstored", logging.ERROR, error=type(error).__name__, pages=pages, **fields
    )


def _until_stored(write: Callable[[], T], stop: threading.Event, max_wait: float = 30.0) -> T:
    """Run a write of a pulled page, retrying with backoff while the database is away.

    Each write here is safe to repeat (a failed insert committed nothing; the upsert and the
    status update are idempotent). Pulling on without it would lose more pages. Any other
    error is raised at once: repeating a write the database refuses would not help.
    """
    failures = 0
    while True:
        try:
            return write()
        except Exception as error:
            if not is_transient(error):
                raise
            failures += 1
            delay = min(max_wait, 0.1 * 2**failures)
            logs.event(
                log,
                "pull.store_failed",
                logging.ERROR,
                error=type(error).__name__,
                retry_in_s=round(delay, 1),
            )
            # Stopping now loses this page: it goes only once the stop was asked a while.
            if stop.wait(delay) and failures > 3:
                raise


def purge_due(
    engine: Engine, retention_days: int, last_purge: float | None, now: float, every: float
) -> float | None:
    """Purge rows older than `retention_days` if `every` seconds passed since `last_purge`.

    Returns when the purge ran (or `last_purge` when none was due); 0 days keeps everything.
    """
    if retention_days <= 0 or (last_purge is not None and now - last_purge < every):
        return last_purge
    deleted = purge_older_than(engine, retention_days)
    logs.event(log, "retention.purged", days=retention_days, **deleted)
    return now


def run(
    client: VoiceClient,
    engine: Engine,
    *,
    interval: float = 5.0,
    once: bool = False,
    stop: threading.Event | None = None,
    max_backoff: float = 300.0,
    retention_days: int = 0,
    purge_every: float = PURGE_EVERY,
    clock: Callable[[], float] = time.monotonic,
) -> None:
    """Drain, wait `interval`, repeat; back off exponentially while pulls fail.

    Keeps running through upstream and database trouble, and through whatever else fails
    (each failure is logged and, once the database answers, recorded as a failed pull run;
    unclassified ones with their traceback). With `retention_days` > 0, rows
    older than that are purged at start and every `purge_every` seconds.
    """
    stop = stop or threading.Event()
    failures = 0
    last_purge: float | None = None
    replayed = False  # again after a failed run, which may have left pages unstored
    while not stop.is_set():
        error: Exception | None
        try:
            if not replayed:
                replay_spool(engine)
                replay_pending(engine)
                replayed = True
            last_purge = purge_due(engine, retention_days, last_purge, clock(), purge_every)
            error = _pull_once(client, engine, stop)
        except SQLAlchemyError as db_error:  # the database is locked or down: wait, retry
            error = db_error
        except Exception as unknown:  # no data stops the loop: logged whole, retried later
            log.exception("pull loop failed for an unclassified reason; retrying")
            error = unknown
        if once:
            if error is not None:
                raise error
            return
        failures = failures + 1 if error else 0
        replayed = replayed and error is None
        delay = min(max_backoff, interval * 2**failures) if failures else interval
        if error is not None:
            logs.event(
                log,
                "pull.failed",
                logging.WARNING,
                error=error if isinstance(error, YunpianError) else type(error).__name__,
                retry_in_s=round(delay, 1),
            )
        stop.wait(delay)


def _pull_once(client: VoiceClient, engine: Engine, stop: threading.Event) -> YunpianError | None:
    """One pull run, recorded; the upstream's error if it failed."""
    run_id = start_pull_run(engine)
    try:
        result = drain(client, engine, stop)
    except YunpianError as error:
        finish_pull_run(engine, run_id, 0, 0, error=str(error))
        return error
    finish_pull_run(engine, run_id, result.pages, result.reports)
    # An empty drain every few seconds is the normal state: not worth a line at INFO.
    level = logging.INFO if result.reports else logging.DEBUG
    logs.event(
        log, "pull.drained", level, pages=result.pages, reports=result.reports, new=result.new
    )
    return None
