"""The guard's records written after the decision, on a thread of their own: a decision reads
(which a SQLite writer never blocks, in WAL mode) and waits for no write. Attempts decided and
not yet committed are counted from memory, so a burst is seen whole by this process at once
and by the other relays once committed.
"""

from __future__ import annotations

import itertools
import logging
import queue
import threading
from collections.abc import Callable

from sqlalchemy import Engine

from ingest import logs
from ingest.guard.counters import INSERT, MemoryCounters, attempt_row
from ingest.guard.rules import Attempt, Decision

log = logging.getLogger(__name__)

BATCH = 200  # records written in one transaction at most
QUEUE_LIMIT = 50_000  # records waiting at most; past it new ones are dropped (and counted)
_STOP = object()


class AttemptRecorder:
    """Writes (attempt, decision) records to guard_attempts; `pending()` is what it has not."""

    def __init__(self, engine: Engine, on_failure: Callable[[str], None]) -> None:
        self.engine = engine
        self.on_failure = on_failure
        self._queue: queue.Queue = queue.Queue()
        self._pending: dict[int, Attempt] = {}  # passed attempts not yet committed, by number
        self._lock = threading.Lock()
        # Odd while a batch is being committed and taken out of `_pending`: a reader that saw
        # the same even value before and after its database read counted nothing twice.
        self.commits = 0
        self._numbers = itertools.count()
        self._writer = threading.Thread(target=self._drain, name="guard-recorder", daemon=True)
        self._writer.start()

    def add(self, attempt: Attempt, decision: Decision, passed: bool) -> None:
        if self._queue.qsize() >= QUEUE_LIMIT:
            self.on_failure("dropped")
            return
        number = next(self._numbers)
        if passed:
            with self._lock:
                self._pending[number] = attempt
        self._queue.put((number, attempt_row(attempt, decision, passed)))

    def pending(self) -> MemoryCounters:
        """Counters over the passed attempts not yet committed."""
        with self._lock:
            attempts = sorted(self._pending.values(), key=lambda a: a.at)
        counters = MemoryCounters()
        for attempt in attempts:
            counters.add(attempt)
        return counters

    def flush(self) -> None:
        """Wait until every record given so far is written (or dropped after an error)."""
        self._queue.join()

    def close(self) -> None:
        self._queue.put(_STOP)
        self._writer.join(timeout=5)

    def _drain(self) -> None:
        while True:
            batch = [self._queue.get()]
            while len(batch) < BATCH and not self._queue.empty():
                batch.append(self._queue.get())
            stop = _STOP in batch
            records = [item for item in batch if item is not _STOP]
            with self._lock:
                self.commits += 1
            try:
                if records:
                    with self.engine.begin() as connection:
                        connection.execute(INSERT, [row for _, row in records])
            except Exception as error:  # the records are lost, never the relay's sends
                self.on_failure("record")
                logs.event(
                    log,
                    "guard.record_failed",
                    logging.WARNING,
                    error=type(error).__name__,
                    records=len(records),
                )
            with self._lock:
                for number, _ in records:
                    self._pending.pop(number, None)
                self.commits += 1
            for _ in batch:
                self._queue.task_done()
            if stop:
                return
