"""Group commit: one writer thread stores what concurrent requests hand it, several at a time.

SQLite has one writer at a time, and every commit costs the same whether it holds one push or
eight. Requests that arrive while a transaction is running wait in a queue; the next
transaction takes all of them, and each request is answered once that commit is done. On
PostgreSQL it saves a round trip and a commit per request just the same.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

from ingest import logs

log = logging.getLogger(__name__)

Item = TypeVar("Item")
Result = TypeVar("Result")
_STOP = object()


class GroupCommitter(Generic[Item, Result]):
    """`await submit(item)` returns `write([..., item, ...])`'s result for that item.

    `write` stores its items in one transaction and returns one result per item; it must be
    safe to repeat, since a failed group is retried (`attempts` times in all, with backoff)
    before every request in it gets the error.
    """

    def __init__(
        self,
        write: Callable[[Sequence[Item]], Sequence[Result]],
        *,
        max_group: int = 32,
        attempts: int = 3,
        backoff: float = 0.2,
        name: str = "group-commit",
    ) -> None:
        self._write = write
        self._max_group = max_group
        self._attempts = attempts
        self._backoff = backoff
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    async def submit(self, item: Item) -> Result:
        loop = asyncio.get_running_loop()
        done: asyncio.Future[Result] = loop.create_future()
        self._queue.put((item, loop, done))
        return await done

    def close(self, timeout: float = 10.0) -> None:
        """Store what is queued, then stop the thread."""
        self._queue.put(_STOP)
        self._thread.join(timeout)

    def _run(self) -> None:
        ended = False
        while not ended:
            group, ended = next_group(self._queue, self._max_group, _STOP)
            if group:
                self._commit(group)

    def _commit(self, group: list) -> None:
        items = [item for item, _, _ in group]
        for attempt in range(1, self._attempts + 1):
            try:
                results = self._write(items)
                break
            except Exception as error:
                if attempt == self._attempts:
                    self._one_by_one(group, error)
                    return
                delay = self._backoff * 2 ** (attempt - 1)
                logs.store_retry(log, attempt, error, delay, requests=len(group))
                time.sleep(delay)
        for (_, loop, done), result in zip(group, results, strict=True):
            _settle(loop, done, result=result)

    def _one_by_one(self, group: list, error: Exception) -> None:
        """A group that keeps failing is tried once more an item at a time, so that one item
        the database refuses does not fail the requests that came with it."""
        if len(group) == 1:
            _, loop, done = group[0]
            _settle(loop, done, error=error)
            return
        for item, loop, done in group:
            try:
                [result] = self._write([item])
            except Exception as own_error:
                _settle(loop, done, error=own_error)
            else:
                _settle(loop, done, result=result)


def next_group(
    waiting: queue.Queue | queue.SimpleQueue, limit: int, end: object
) -> tuple[list, bool]:
    """Wait for one item, then take whatever else is waiting, up to `limit` in all; and
    whether `end` was taken (nothing after it is)."""
    group: list = []
    item = waiting.get()
    while item is not end:
        group.append(item)
        if len(group) == limit:
            return group, False
        try:
            item = waiting.get_nowait()
        except queue.Empty:
            return group, False
    return group, True


def _settle(loop: asyncio.AbstractEventLoop, done: asyncio.Future, *, result=None, error=None):
    def settle() -> None:
        if done.done():  # the request was cancelled (client gone) meanwhile
            return
        if error is not None:
            done.set_exception(error)
        else:
            done.set_result(result)

    with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits any more
        loop.call_soon_threadsafe(settle)
