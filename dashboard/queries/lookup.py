"""Lookup: one number's or one sid's story, when it can next be sent to, manual-send counts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import pandas as pd
from sqlalchemy import Engine, and_, func, literal, or_, select

from dashboard.queries._sql import REPORTS, SENDS, frame, seconds_between, stack, to_china
from dashboard.queries.failures import code_reason
from ingest.throttle import DEFAULT_LIMITS, AcceptedSend, NextSend, ThrottleLimits, next_send

TIMELINE_TIMES = ("sent_at", "user_receive_time", "first_seen")


@dataclass(frozen=True)
class ReportView:
    """A stored report as the send-test page shows it arriving."""

    sid: str
    status: str
    error_msg: str | None
    user_receive_time: datetime | None
    duration: int
    via_push: bool
    via_pull: bool
    first_seen: datetime


def lookup_timeline(engine: Engine, query: str, limit: int = 200) -> pd.DataFrame:
    """Sends (with their report joined by sid) and reports with no stored send, for a number
    or a sid, newest first. Times in China time."""
    query = query.strip()
    delay = seconds_between(engine, REPORTS.c.user_receive_time, SENDS.c.sent_at)
    sends = (
        select(
            SENDS.c.sent_at,
            SENDS.c.mobile,
            SENDS.c.sid,
            SENDS.c.result_code,
            SENDS.c.source,
            SENDS.c.actor,
            SENDS.c.fee,
            SENDS.c.carrier,
            SENDS.c.province,
            REPORTS.c.status,
            REPORTS.c.error_msg,
            REPORTS.c.user_receive_time,
            func.round(delay, 1).label("answer_after_s"),
            REPORTS.c.duration,
            REPORTS.c.via_push,
            REPORTS.c.via_pull,
            REPORTS.c.deliveries,
            REPORTS.c.first_seen,
        )
        .select_from(SENDS.outerjoin(REPORTS, REPORTS.c.sid == SENDS.c.sid))
        .where(or_(SENDS.c.mobile == query, SENDS.c.sid == query))
        .order_by(SENDS.c.sent_at.desc())
        .limit(limit)
    )
    orphans = (
        select(
            REPORTS.c.mobile,
            REPORTS.c.sid,
            literal("report only").label("source"),
            REPORTS.c.carrier,
            REPORTS.c.province,
            REPORTS.c.status,
            REPORTS.c.error_msg,
            REPORTS.c.user_receive_time,
            REPORTS.c.duration,
            REPORTS.c.via_push,
            REPORTS.c.via_pull,
            REPORTS.c.deliveries,
            REPORTS.c.first_seen,
        )
        .select_from(REPORTS.outerjoin(SENDS, SENDS.c.sid == REPORTS.c.sid))
        .where(or_(REPORTS.c.mobile == query, REPORTS.c.sid == query), SENDS.c.id.is_(None))
        .order_by(REPORTS.c.first_seen.desc())
        .limit(limit)
    )
    df = stack(frame(engine, sends), frame(engine, orphans))
    df["result"] = [
        "" if pd.isna(code) else ("accepted" if code == 0 else code_reason(int(code)))
        for code in df["result_code"]
    ]
    order = df["sent_at"].fillna(df["user_receive_time"]).fillna(df["first_seen"])
    df = df.assign(_order=pd.to_datetime(order, utc=True)).sort_values("_order", ascending=False)
    df = df.drop(columns="_order").reset_index(drop=True).head(limit)
    return to_china(df, *TIMELINE_TIMES)


def accepted_history(engine: Engine, mobile: str, now: datetime) -> list[AcceptedSend]:
    """Accepted sends to `mobile` in the 24 h before `now`: all any throttle rule looks at."""
    stmt = select(SENDS.c.sent_at, SENDS.c.code_digest).where(
        SENDS.c.mobile == mobile,
        SENDS.c.result_code == 0,
        SENDS.c.sent_at > now - timedelta(days=1),
        SENDS.c.sent_at <= now,
    )
    with engine.connect() as conn:
        return [AcceptedSend(row.sent_at, row.code_digest) for row in conn.execute(stmt)]


def next_accepted_send(
    engine: Engine,
    mobile: str,
    *,
    code_digest: str | None = None,
    now: datetime,
    limits: ThrottleLimits = DEFAULT_LIMITS,
) -> NextSend:
    """When Yunpian would next accept a send to `mobile`: with the code whose digest is
    given (default: the code sent last) and with a new code."""
    return next_send(accepted_history(engine, mobile, now), now, code_digest, limits)


def manual_sends_since(engine: Engine, actor: str, since: datetime) -> int:
    """Sends made from the dashboard by `actor` since `since` (for the per-viewer limit)."""
    stmt = select(func.count()).where(
        and_(SENDS.c.source == "dashboard", SENDS.c.actor == actor, SENDS.c.sent_at >= since)
    )
    with engine.connect() as conn:
        return int(conn.execute(stmt).scalar_one())


def report_for_sid(engine: Engine, sid: str) -> ReportView | None:
    """The stored report for `sid`, once it has arrived."""
    stmt = select(
        REPORTS.c.sid,
        REPORTS.c.status,
        REPORTS.c.error_msg,
        REPORTS.c.user_receive_time,
        REPORTS.c.duration,
        REPORTS.c.via_push,
        REPORTS.c.via_pull,
        REPORTS.c.first_seen,
    ).where(REPORTS.c.sid == sid)
    with engine.connect() as conn:
        row = conn.execute(stmt).mappings().first()
    return ReportView(**row) if row else None
