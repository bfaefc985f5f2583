"""Throttling: how close numbers are to Yunpian's per-number limits, and who gets called
suspiciously often."""

from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd
from sqlalchemy import Engine, and_, case, distinct, func, or_, select

from dashboard.queries._sql import (
    REPORTS,
    SENDS,
    THROTTLE_CODES,
    Filters,
    bucket,
    buckets_to_time,
    filtered,
    frame,
    grain_for,
    to_china,
    with_reports,
)
from dashboard.queries.failures import code_reason
from ingest.throttle import DEFAULT_LIMITS, ThrottleLimits

ACCEPTED = SENDS.c.result_code == 0


def _accepted_since(since: datetime):
    return func.coalesce(func.sum(case((and_(ACCEPTED, SENDS.c.sent_at >= since), 1), else_=0)), 0)


def throttle_pressure(
    engine: Engine,
    now: datetime,
    limits: ThrottleLimits = DEFAULT_LIMITS,
    *,
    only_at_limit: bool = False,
    limit: int = 100,
) -> pd.DataFrame:
    """Per number sent to in the last 24 h, accepted sends in the last 30 s / 5 min / 1 h /
    24 h, the most-repeated code's count in 5 min, and throttle rejections in 24 h.

    Columns: mobile, carrier, last_30s, last_5min, same_code_5min, last_1h, last_24h,
    throttled_24h, last_sent_at (China time), at_limit (which limits are reached now)."""
    day_ago = now - timedelta(days=1)
    window_start = now - limits.same_code_window
    per_code = (
        select(SENDS.c.mobile, func.count().label("n"))
        .where(ACCEPTED, SENDS.c.sent_at >= window_start, SENDS.c.sent_at <= now)
        .group_by(SENDS.c.mobile, SENDS.c.code_digest)
        .subquery()
    )
    same_code = (
        select(per_code.c.mobile, func.max(per_code.c.n).label("same_code_5min"))
        .group_by(per_code.c.mobile)
        .subquery()
    )
    last_1h = _accepted_since(now - timedelta(hours=1))
    last_24h = _accepted_since(day_ago)
    same = func.coalesce(func.max(same_code.c.same_code_5min), 0)
    stmt = (
        select(
            SENDS.c.mobile,
            func.max(SENDS.c.carrier).label("carrier"),
            _accepted_since(now - limits.same_code_gap).label("last_30s"),
            _accepted_since(window_start).label("last_5min"),
            same.label("same_code_5min"),
            last_1h.label("last_1h"),
            last_24h.label("last_24h"),
            func.coalesce(
                func.sum(case((SENDS.c.result_code.in_(THROTTLE_CODES), 1), else_=0)), 0
            ).label("throttled_24h"),
            func.max(SENDS.c.sent_at).label("last_sent_at"),
        )
        .select_from(SENDS.outerjoin(same_code, same_code.c.mobile == SENDS.c.mobile))
        .where(SENDS.c.sent_at >= day_ago, SENDS.c.sent_at <= now)
        .group_by(SENDS.c.mobile)
        .order_by(last_24h.desc(), last_1h.desc(), SENDS.c.mobile)
        .limit(limit)
    )
    if only_at_limit:
        stmt = stmt.having(
            or_(
                same >= limits.same_code_per_window,
                last_1h >= limits.per_hour,
                last_24h >= limits.per_day,
            )
        )
    df = to_china(frame(engine, stmt), "last_sent_at")
    df["at_limit"] = [
        ", ".join(
            name
            for name, hit in (
                ("3 in 5 min", row.same_code_5min >= limits.same_code_per_window),
                ("1 h", row.last_1h >= limits.per_hour),
                ("24 h", row.last_24h >= limits.per_day),
            )
            if hit
        )
        for row in df.itertuples()
    ]
    return df


def throttle_rejections_over_time(
    engine: Engine, filters: Filters, grain: str | None = None
) -> pd.DataFrame:
    """Throttle rejections per China-time bucket and code: bucket, code, reason, rejections."""
    when = bucket(engine, SENDS.c.sent_at, grain or grain_for(filters.start, filters.end))
    stmt = select(
        when.label("bucket"), SENDS.c.result_code.label("code"), func.count().label("rejections")
    ).where(SENDS.c.result_code.in_(THROTTLE_CODES))
    stmt = filtered(stmt, filters).group_by(when, SENDS.c.result_code).order_by(when)
    df = buckets_to_time(frame(engine, stmt))
    df["reason"] = df["code"].map(code_reason)
    return df


def frequent_numbers(
    engine: Engine, filters: Filters, *, min_sends: int = 8, limit: int = 50
) -> pd.DataFrame:
    """Numbers with at least `min_sends` send attempts in the range, most first: mobile,
    carrier, province, sends, accepted, throttled, codes (distinct), answered, first_sent_at,
    last_sent_at (China time)."""
    attempts = func.count()
    stmt = with_reports(
        select(
            SENDS.c.mobile,
            func.max(SENDS.c.carrier).label("carrier"),
            func.max(SENDS.c.province).label("province"),
            attempts.label("sends"),
            func.sum(case((ACCEPTED, 1), else_=0)).label("accepted"),
            func.sum(case((SENDS.c.result_code.in_(THROTTLE_CODES), 1), else_=0)).label(
                "throttled"
            ),
            func.count(distinct(SENDS.c.code_digest)).label("codes"),
            func.sum(case((REPORTS.c.status == "SUCCESS", 1), else_=0)).label("answered"),
            func.min(SENDS.c.sent_at).label("first_sent_at"),
            func.max(SENDS.c.sent_at).label("last_sent_at"),
        )
    )
    stmt = (
        filtered(stmt, filters)
        .group_by(SENDS.c.mobile)
        .having(attempts >= min_sends)
        .order_by(attempts.desc(), SENDS.c.mobile)
        .limit(limit)
    )
    return to_china(frame(engine, stmt), "first_sent_at", "last_sent_at")
