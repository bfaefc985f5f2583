"""The dashboard's audit log: logins, failed logins, logouts and unmasks, and the counts the
login's rate limit is decided from (kept in the database, so every dashboard process and every
restart sees the same failures)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine, func, insert, or_, select

from ingest.store.models import ViewerEvent

EVENTS = ("login", "login_failed", "login_refused", "logout", "unmask", "unmask_failed")
EVENTS_TABLE = ViewerEvent.__table__


def record_viewer_event(
    engine: Engine, event: str, viewer: str, client: str, at: datetime | None = None
) -> None:
    """Append one event to the audit log (names and addresses clipped to their columns)."""
    if event not in EVENTS:
        raise ValueError(f"unknown viewer event {event!r}: expected one of {EVENTS}")
    with engine.begin() as connection:
        connection.execute(
            insert(EVENTS_TABLE),
            {
                "at": at or datetime.now(UTC),
                "event": event,
                "viewer": viewer[:64],
                "client": client[:64],
            },
        )


def failures_since(
    engine: Engine, events: tuple[str, ...], since: datetime, viewer: str, client: str
) -> tuple[int, int]:
    """How many of `events` happened since `since` for this viewer name, and from this client."""
    stmt = select(
        func.count().filter(EVENTS_TABLE.c.viewer == viewer[:64]),
        func.count().filter(EVENTS_TABLE.c.client == client[:64]),
    ).where(
        EVENTS_TABLE.c.event.in_(events),
        EVENTS_TABLE.c.at >= since,
        or_(EVENTS_TABLE.c.viewer == viewer[:64], EVENTS_TABLE.c.client == client[:64]),
    )
    with engine.connect() as connection:
        by_viewer, by_client = connection.execute(stmt).one()
    return int(by_viewer or 0), int(by_client or 0)
