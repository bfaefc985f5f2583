"""The raw inbox: every body ingest receives, committed as it came before anything parses it.

A body's status says what became of it: pending (not yet parsed), ok (its reports are
stored), malformed (kept with the reason) or rejected (refused at the door).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Engine,
    select,
    update,
)

from ingest.store.models import RawBody
from ingest.store.writes import utcnow, writing

JSON = "application/json"  # what pull answers are
# Statuses of a raw body in the inbox.
PENDING, OK, MALFORMED, REJECTED = "pending", "ok", "malformed", "rejected"


def keep_raw(
    engine: Engine,
    channel: str,
    body: bytes,
    *,
    content_type: str | None = None,
    status: str = PENDING,
    error: str | None = None,
    truncated: bool = False,
    received_at: datetime | None = None,
) -> int:
    """Commit a body exactly as received, before anything tries to parse it."""
    row = raw_row(
        channel,
        body,
        content_type,
        status,
        error=error,
        truncated=truncated,
        received_at=received_at,
    )
    with writing(engine) as connection:
        return connection.execute(
            RawBody.__table__.insert().values(row).returning(RawBody.id)
        ).scalar_one()


def raw_row(
    channel: str,
    body: bytes,
    content_type: str | None,
    status: str,
    *,
    error: str | None = None,
    truncated: bool = False,
    report_count: int = 0,
    received_at: datetime | None = None,
) -> dict:
    return {
        "received_at": received_at or utcnow(),
        "channel": channel,
        "content_type": content_type,
        "body": body,
        "truncated": truncated,
        "parse_status": status,
        "parse_error": error,
        "report_count": report_count,
    }


def mark_raw(engine: Engine, raw_id: int, status: str, error: str | None = None) -> None:
    with writing(engine) as connection:
        connection.execute(
            update(RawBody)
            .where(RawBody.id == raw_id)
            .values(parse_status=status, parse_error=error)
        )


def inbox_holds(engine: Engine, channel: str, received_at: datetime, body: bytes) -> bool:
    """Whether the raw inbox has this body, received at that instant (a spooled body whose
    transaction committed just before a crash, ingest/store/spool.py)."""
    with engine.connect() as connection:
        found = connection.execute(
            select(RawBody.id).where(
                RawBody.received_at == received_at,
                RawBody.channel == channel,
                RawBody.body == body,
            )
        )
        return found.first() is not None


def pending_raw(engine: Engine, limit: int = 1000) -> list[tuple[int, str, bytes]]:
    """Bodies kept but never processed (the process died in between): (id, channel, body)."""
    with engine.connect() as connection:
        rows = connection.execute(
            select(RawBody.id, RawBody.channel, RawBody.body)
            .where(RawBody.parse_status == PENDING)
            .order_by(RawBody.id)
            .limit(limit)
        )
        return [tuple(row) for row in rows]
