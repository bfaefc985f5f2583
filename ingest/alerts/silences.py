"""Silences: set with an end time and a reason, lifted early by someone; both audited (who
and when stay in alert_silences)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from ingest.store.alert_models import AlertSilence


class SilenceError(ValueError):
    """A silence without a reason or an author, or ending in the past."""


def silence(
    engine: Engine, rule: str, subject: str, ends_at: datetime, reason: str, by: str, now: datetime
) -> int:
    """Hold back `rule`'s notifications (for `subject`, or all when "") until `ends_at`."""
    if not reason.strip() or not by.strip():
        raise SilenceError("a silence needs a reason and the name of who sets it")
    if ends_at <= now:
        raise SilenceError(f"a silence must end in the future, not at {ends_at.isoformat()}")
    with Session(engine) as session, session.begin():
        row = AlertSilence(
            rule=rule,
            subject=subject,
            ends_at=ends_at,
            reason=reason.strip(),
            created_by=by.strip(),
            created_at=now,
        )
        session.add(row)
        session.flush()
        return row.id


def lift(engine: Engine, silence_id: int, by: str, now: datetime) -> bool:
    """End silence `silence_id` now; False when it was already over or lifted."""
    if not by.strip():
        raise SilenceError("lifting a silence needs the name of who lifts it")
    with Session(engine) as session, session.begin():
        row = session.scalars(
            select(AlertSilence).where(
                AlertSilence.id == silence_id,
                AlertSilence.lifted_at.is_(None),
                AlertSilence.ends_at > now,
            )
        ).first()
        if row is None:
            return False
        row.lifted_at, row.lifted_by = now, by.strip()
        return True
