"""Recording what the relay answered, after answering: the outbox and the thread draining it.

The relay commits each send (and each page pulled through it) to the outbox file
(ingest/store/outbox.py) on a thread of its own, answers its caller, and hands the record to
the recorder's writer thread, which stores it in the main database whenever the database lets
it (retrying with backoff, a failing record put behind the others) and then forgets it in the
outbox. The same thread joins sends of unknown outcome to their reports when it is idle.
Neither the caller's answer nor the event loop waits for the database or for the threads
the push receiver stores reports on.
"""

from __future__ import annotations

import asyncio
import base64
import heapq
import logging
import queue
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy import Engine

from ingest import logs
from ingest.service.metrics import IngestMetrics
from ingest.store.inbox import JSON, MALFORMED, keep_raw, mark_raw
from ingest.store.models import Send
from ingest.store.outbox import (
    Entry,
    RelayOutbox,
    outbox_path,
    send_from_payload,
    send_payload,
    store_send_once,
)
from ingest.store.unknown_sends import join_unknown_sends
from ingest.store.upserts import store_reports
from ingest.store.writes import utcnow
from ingest.yunpian.client import MalformedAnswer, interpret_pull_page

log = logging.getLogger(__name__)

JOIN_EVERY = 5.0  # seconds between joins of unknown sends to their reports, when idle
MAX_BACKOFF = 5.0  # seconds a record that failed to store waits at most before its next try
_STOP = object()


class RelayRecorder:
    """Stores the relay's records after the caller is answered; `open` before, `close` after."""

    def __init__(self, engine: Engine, metrics: IngestMetrics, join_every: float = JOIN_EVERY):
        self.engine = engine
        self.metrics = metrics
        self.join_every = join_every
        self._outbox: RelayOutbox | None = None
        self._queue: queue.Queue[Any] = queue.Queue()
        # Its own threads: the shared thread pool may be full of writes waiting on the database.
        self._journal = ThreadPoolExecutor(max_workers=2, thread_name_prefix="relay-outbox")
        self._writer: threading.Thread | None = None
        self._failures: dict[int, int] = {}  # by id() of an entry waiting to be retried
        self._last_error: Exception = RuntimeError("no error")

    def open(self) -> None:
        """Open the outbox, queue what a previous run left in it, start the writer thread."""
        self._outbox = RelayOutbox(outbox_path(self.engine))
        for entry in self._outbox.waiting():
            self._queue.put(entry)
        self._writer = threading.Thread(target=self._drain, name="relay-recorder", daemon=True)
        self._writer.start()

    def close(self, timeout: float = 5.0) -> None:
        """Stop the writer; records it has not stored stay in the outbox for the next start."""
        self._queue.put(_STOP)
        if self._writer is not None:
            self._writer.join(timeout)
        self._journal.shutdown(wait=True)
        if self._outbox is not None and not (self._writer and self._writer.is_alive()):
            self._outbox.close()

    async def record_send(self, send: Send) -> None:
        """Commit `send` to the outbox and queue it for the database."""
        await self._keep("send", send_payload(send))

    async def record_pull(self, status: int, answer: bytes) -> None:
        """Commit a page pulled through the relay to the outbox and queue it for the database."""
        await self._keep("pull", {"status": status, "body": base64.b64encode(answer).decode()})

    async def _keep(self, kind: str, payload: dict[str, Any]) -> None:
        assert self._outbox is not None, "RelayRecorder.open() was not called"
        loop = asyncio.get_running_loop()
        try:
            entry = await loop.run_in_executor(self._journal, self._outbox.keep, kind, payload)
        except Exception as error:  # a full disk: the record is kept in memory only
            self.metrics.store_failed("relay_outbox", error)
            logs.event(log, "relay.outbox_failed", logging.ERROR, error=type(error).__name__)
            entry = Entry(-1, kind, payload)
        self._queue.put(entry)

    # ------------------------------------------------------------ the writer thread

    def _drain(self) -> None:
        retry: list[tuple[float, int, Entry]] = []  # (when, tiebreak, entry), soonest first
        last_join = 0.0
        while True:
            item = self._next(retry)
            if item is _STOP:
                self._last_tries([entry for _, _, entry in retry])
                return
            if item is not None and (failures := self._store(item)):
                delay = min(MAX_BACKOFF, 0.2 * 2 ** (failures - 1))
                logs.store_retry(log, failures, self._last_error, delay, what="relay")
                heapq.heappush(retry, (time.monotonic() + delay, id(item), item))
            # Also while sends keep coming: a busy relay still joins its unknown sends.
            if time.monotonic() - last_join >= self.join_every:
                self._join()
                last_join = time.monotonic()

    def _next(self, retry: list[tuple[float, int, Entry]]) -> Any:
        """A record due for another try, else the next new one, else None after a while."""
        if retry and retry[0][0] <= time.monotonic():
            return heapq.heappop(retry)[2]
        wait = self.join_every
        if retry:
            wait = max(0.0, min(wait, retry[0][0] - time.monotonic()))
        try:
            return self._queue.get(timeout=wait)
        except queue.Empty:
            return None

    def _last_tries(self, retrying: list[Entry]) -> None:
        """At close: one more try for what waits; what still fails stays in the outbox."""
        while not self._queue.empty():
            item = self._queue.get_nowait()
            if item is not _STOP:
                retrying.append(item)
        for entry in retrying:
            self._store(entry)

    def _store(self, entry: Entry) -> int:
        """Store one record and forget it in the outbox: 0, or how often it failed so far."""
        try:
            if entry.kind == "send":
                store_send_once(self.engine, send_from_payload(entry.payload))
            else:
                payload = entry.payload
                self._store_pulled(payload["status"], base64.b64decode(payload["body"]))
        except Exception as error:
            self.metrics.store_failed("relay", error)
            self._last_error = error
            self._failures[id(entry)] = self._failures.get(id(entry), 0) + 1
            return self._failures[id(entry)]
        self._failures.pop(id(entry), None)
        if entry.id >= 0 and self._outbox is not None:
            self._outbox.forget(entry.id)
        return 0

    def _store_pulled(self, status: int, answer: bytes) -> None:
        """A caller pulling through the relay takes reports voicewatch would not see again:
        the good ones are stored, and a page with reports the store cannot hold is kept
        quarantined with the reasons, as the pull loop keeps it."""
        raw_id = keep_raw(self.engine, "pull", answer, content_type=JSON)
        try:
            page = interpret_pull_page(status, answer)
        except MalformedAnswer as error:
            mark_raw(self.engine, raw_id, MALFORMED, error.msg)
            return
        store_reports(self.engine, page.reports, "pull", raw_id=raw_id, refused=page.reasons())

    def _join(self) -> None:
        try:
            joined = join_unknown_sends(self.engine, utcnow())
        except Exception as error:
            logs.event(log, "relay.join_failed", logging.WARNING, error=type(error).__name__)
            return
        if joined:
            logs.event(log, "relay.unknown_joined", sends=joined)
