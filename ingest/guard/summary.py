"""The guard's decisions summed for the CLI and the dashboard's Guard page."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, func, select

from ingest.store.models import GuardAttempt

ATTEMPTS = GuardAttempt.__table__


def decisions_by_rule(engine: Engine, since: datetime) -> list[tuple[str, str, bool, int]]:
    """(rule, mode, blocked, count) of every decision a rule fired on since `since`."""
    c = ATTEMPTS.c
    stmt = (
        select(c.rule, c.mode, ~c.passed, func.count())
        .where(c.at >= since, c.rule.is_not(None))
        .group_by(c.rule, c.mode, c.passed)
        .order_by(func.count().desc())
    )
    with engine.connect() as connection:
        return [(r, m or "", bool(b), int(n)) for r, m, b, n in connection.execute(stmt)]
