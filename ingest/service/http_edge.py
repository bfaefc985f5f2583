"""What the push receiver and the relay share where requests come in: a bounded body read,
a constant-time token check, a budget for what refused callers may store, values fit for
their columns, and retried idempotent writes."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import secrets
import time
from collections.abc import Callable

from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request

from ingest import logs

log = logging.getLogger(__name__)

STORE_ATTEMPTS = 3  # idempotent writes are retried this often before a 503 / a logged loss
REFUSED_HEAD = 1024  # bytes of a refused body kept: enough to see what it was
HEAD_WAIT = 0.5  # seconds a refused caller's head is waited for before the answer


class BodyTooLarge(Exception):
    def __init__(self, head: bytes) -> None:
        self.head = head


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refusing (with the head kept) once it passes `limit` bytes."""
    declared = request.headers.get("content-length", "")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(b"".join(chunks)[:limit])
    if declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(b"".join(chunks)[:limit])
    return b"".join(chunks)


async def read_head(
    request: Request, limit: int = REFUSED_HEAD, wait: float = HEAD_WAIT
) -> tuple[bytes, bool]:
    """At most the first `limit` bytes of the body, as much as arrives within `wait` seconds,
    and whether there was more; the rest is never read (a refused caller costs no more)."""
    head = b""
    with contextlib.suppress(TimeoutError, ClientDisconnect):
        async with asyncio.timeout(wait):
            async for chunk in request.stream():
                head += chunk
                if len(head) >= limit:
                    break
    declared = request.headers.get("content-length", "")
    more = len(head) > limit or (declared.isdigit() and int(declared) > len(head))
    return head[:limit], more


class RefusalBudget:
    """How many refused requests may still be kept (and logged), across all callers: up to
    `per_minute` at once, refilled at `per_minute` a minute. Past it, refusals are only
    counted, so a flood without the token can fill neither the disk nor the log."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self.denied = 0  # refusals past the budget since the last one kept
        self._clock = clock
        self._left = float(per_minute)
        self._at = clock()

    def take(self) -> bool:
        """Whether one more refused request may be kept (and count it either way)."""
        now = self._clock()
        refill = (now - self._at) * self.per_minute / 60
        self._left, self._at = min(float(self.per_minute), self._left + refill), now
        if self._left < 1:
            self.denied += 1
            return False
        self._left -= 1
        self.denied = 0
        return True


def is_loopback(request: Request) -> bool:
    """Whether the caller connected from this machine (127.0.0.0/8, ::1)."""
    host = request.client.host if request.client else ""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def token_ok(expected: str, given: str | None) -> bool:
    """Whether `given` is the `expected` token, compared in constant time."""
    return given is not None and secrets.compare_digest(expected.encode(), given.encode())


def clip(value: str | None, length: int) -> str | None:
    """`value` fit for a column of `length` characters (PostgreSQL refuses longer, and NUL)."""
    return value.replace("\x00", "")[:length] if value is not None else None


async def retrying(write: Callable[[], object], attempts: int = STORE_ATTEMPTS) -> object:
    """Run an idempotent database write, retrying briefly (a PostgreSQL restart, a lock)."""
    for attempt in range(1, attempts + 1):
        try:
            return await run_in_threadpool(write)
        except Exception as error:
            if attempt == attempts:
                raise
            delay = 0.2 * 2 ** (attempt - 1)
            logs.store_retry(log, attempt, error, delay)
            await asyncio.sleep(delay)
    raise AssertionError("unreachable")
