"""What the push receiver and the relay share where requests come in: a bounded body read,
a constant-time token check, values fit for their columns, and retried idempotent writes."""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from ingest import logs

log = logging.getLogger(__name__)

STORE_ATTEMPTS = 3  # idempotent writes are retried this often before a 503 / a logged loss


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
