"""The raw inbox: every body ingest receives, committed as it came before anything parses it.

A body's status says what became of it: pending (not yet parsed), ok (its reports are
stored), quarantined (its good reports are stored, the others are not: parse_error says
why), malformed (not a body of reports at all, kept with the reason) or rejected (refused at
the door). `voicewatch db replay` parses quarantined and malformed bodies again.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Engine,
    func,
    select,
    update,
)

from ingest.store.models import RawBody
from ingest.store.writes import utcnow, writing

JSON = "application/json"  # what pull answers are
# Statuses of a raw body in the inbox.
PENDING, OK, MALFORMED, REJECTED = "pending", "ok", "malformed", "rejected"
QUARANTINED = "quarantined"
MAX_ERROR = 4000  # characters of a parse_error kept


def storable_error(error: str | None) -> str | None:
    """A reason as any column of text holds it: no NUL, no lone surrogate, not too long
    (reasons quote what came from outside)."""
    if error is None:
        return None
    text = error.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\x00")
    return text if len(text) <= MAX_ERROR else f"{text[: MAX_ERROR - 3]}..."


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
        "parse_error": storable_error(error),
        "report_count": report_count,
    }


def mark_raw(engine: Engine, raw_id: int, status: str, error: str | None = None) -> None:
    with writing(engine) as connection:
        connection.execute(
            update(RawBody)
            .where(RawBody.id == raw_id)
            .values(parse_status=status, parse_error=storable_error(error))
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
    return raw_with_status(engine, (PENDING,), limit=limit)


def raw_with_status(
    engine: Engine, statuses: tuple[str, ...], *, after: int = 0, limit: int = 1000
) -> list[tuple[int, str, bytes]]:
    """Untruncated bodies in one of `statuses`, (id, channel, body), by id from `after` on."""
    with engine.connect() as connection:
        rows = connection.execute(
            select(RawBody.id, RawBody.channel, RawBody.body)
            .where(
                RawBody.parse_status.in_(statuses),
                RawBody.id > after,
                RawBody.truncated.is_(False),
            )
            .order_by(RawBody.id)
            .limit(limit)
        )
        return [tuple(row) for row in rows]


def count_with_status(engine: Engine, statuses: tuple[str, ...]) -> int:
    """How many untruncated bodies are in one of `statuses`."""
    with engine.connect() as connection:
        return connection.scalar(
            select(func.count()).where(
                RawBody.parse_status.in_(statuses), RawBody.truncated.is_(False)
            )
        )
