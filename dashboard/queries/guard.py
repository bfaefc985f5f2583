"""The Guard page: the guard's decisions over time by rule and mode, what record-only rules
would have blocked, the spend saved, and where blocked sends were going."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import Engine, case, func, select

from dashboard.queries._sql import SENDS, Filters, bucket, buckets_to_time, frame, grain_for
from ingest.store.models import GuardAttempt

ATTEMPTS = GuardAttempt.__table__
FIRED = ATTEMPTS.c.rule.is_not(None) & (ATTEMPTS.c.rule != "allow list")


def _in_range(stmt, filters: Filters):
    return stmt.where(ATTEMPTS.c.at >= filters.start, ATTEMPTS.c.at < filters.end)


def decisions_over_time(engine: Engine, filters: Filters) -> pd.DataFrame:
    """Decisions a rule fired on per bucket × rule × mode × outcome (blocked | sent anyway)."""
    at = bucket(engine, ATTEMPTS.c.at, grain_for(filters.start, filters.end)).label("bucket")
    outcome = case((ATTEMPTS.c.passed, "sent anyway"), else_="blocked").label("outcome")
    stmt = _in_range(
        select(at, ATTEMPTS.c.rule, ATTEMPTS.c.mode, outcome, func.count().label("sends")),
        filters,
    ).where(FIRED)
    return buckets_to_time(
        frame(engine, stmt.group_by(at, ATTEMPTS.c.rule, ATTEMPTS.c.mode, outcome).order_by(at))
    )


def guard_totals(engine: Engine, filters: Filters) -> dict[str, float]:
    """Checked, blocked and would-have-been-blocked sends, and the spend saved (blocked sends
    at the mean fee of an accepted call in the range; 1 when none was accepted)."""
    stmt = _in_range(
        select(
            func.count(),
            func.count().filter(~ATTEMPTS.c.passed),
            func.count().filter(ATTEMPTS.c.passed, ATTEMPTS.c.mode == "record-only"),
        ),
        filters,
    )
    fee = select(func.avg(SENDS.c.fee)).where(
        SENDS.c.result_code == 0, SENDS.c.sent_at >= filters.start, SENDS.c.sent_at < filters.end
    )
    with engine.connect() as connection:
        checked, blocked, would_block = connection.execute(stmt).one()
        mean_fee = connection.execute(fee).scalar() or 1.0
    return {
        "checked": checked,
        "blocked": blocked,
        "would_block": would_block,
        "spend_saved": blocked * float(mean_fee),
    }


def top_blocked(
    engine: Engine, filters: Filters, by: str = "country", limit: int = 10
) -> pd.DataFrame:
    """The countries (`by="country"`) or number prefixes (`by="prefix"`) most blocked or
    would-be-blocked, with both counts."""
    column = ATTEMPTS.c[by]
    stmt = _in_range(
        select(
            column.label(by),
            func.count().filter(~ATTEMPTS.c.passed).label("blocked"),
            func.count().filter(ATTEMPTS.c.passed).label("would_block"),
        ),
        filters,
    ).where(FIRED)
    return frame(engine, stmt.group_by(column).order_by(func.count().desc()).limit(limit))
