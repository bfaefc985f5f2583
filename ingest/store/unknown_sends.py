"""Joining sends of unknown outcome to the report Yunpian sends for them.

A send whose answer was lost (a read timeout, a connection closed mid-answer, an unreadable
answer) has no sid, so its report cannot be joined by sid. If Yunpian placed the call, a
report for the same number arrives in the following minutes: the oldest unknown send to a
number takes the earliest report for that number whose time (`user_receive_time`, else when
it reached us) falls in the send's JOIN_WINDOW and whose sid no send has. Joined, the send
gets the report's sid, result code 0, count 1 and Yunpian's usual fee (that of the latest
accepted send of the same kind, else 1: one voice code costs as one SMS), and `joined_at`
says it was joined, not answered.

Limits: a report for a call placed by something else than voicewatch (another system with
the same apikey) in the window can be joined in its place; a number stored in another form
than the report's (`+86…` against `1…`) is not matched. An unknown send with no report in its
window stays unknown (the call was probably not placed, or its report was lost).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine, func, select, update

from ingest.store.models import Report, Send
from ingest.store.writes import writing

# From a little before the send (Yunpian's clock may be behind ours) to ten minutes after it:
# Yunpian ends an unanswered call within about a minute and reports it within a few.
JOIN_BEFORE = timedelta(minutes=2)
JOIN_WINDOW = timedelta(minutes=10)
LOOK_BACK = timedelta(hours=72)  # Yunpian keeps unfetched reports 72 h
USUAL_FEE = 1.0

SENDS = Send.__table__
REPORTS = Report.__table__


def join_unknown_sends(engine: Engine, now: datetime) -> int:
    """Join the unknown sends of the last 72 h to their reports; how many were joined."""
    unknown = (
        select(SENDS.c.id, SENDS.c.mobile, SENDS.c.sent_at, SENDS.c.kind)
        .where(
            SENDS.c.result_code.is_(None),
            SENDS.c.sid.is_(None),
            SENDS.c.sent_at > now - LOOK_BACK,
        )
        .order_by(SENDS.c.sent_at, SENDS.c.id)
    )
    with engine.connect() as connection:
        if not connection.execute(unknown.limit(1)).first():
            return 0
    joined = 0
    with writing(engine) as connection:
        for send in connection.execute(unknown).all():
            sid = _report_sid(connection, send.mobile, send.sent_at)
            if sid is None:
                continue
            connection.execute(
                update(SENDS)
                .where(SENDS.c.id == send.id, SENDS.c.result_code.is_(None))
                .values(
                    sid=sid,
                    result_code=0,
                    result_msg="OK (answer lost; joined to its report by number and time)",
                    count=1,
                    fee=_usual_fee(connection, send.kind),
                    joined_at=now,
                )
            )
            joined += 1
    return joined


def _report_sid(connection: Connection, mobile: str, sent_at: datetime) -> str | None:
    """The sid of the earliest report for `mobile` in the window of a send at `sent_at`
    that no send has yet."""
    at = func.coalesce(REPORTS.c.user_receive_time, REPORTS.c.first_seen)
    taken = select(SENDS.c.id).where(SENDS.c.sid == REPORTS.c.sid).exists()
    return connection.execute(
        select(REPORTS.c.sid)
        .where(
            REPORTS.c.mobile == mobile,
            at >= sent_at - JOIN_BEFORE,
            at <= sent_at + JOIN_WINDOW,
            ~taken,
        )
        .order_by(at, REPORTS.c.id)
        .limit(1)
    ).scalar()


def _usual_fee(connection: Connection, kind: str) -> float:
    fee = connection.execute(
        select(SENDS.c.fee)
        .where(SENDS.c.kind == kind, SENDS.c.result_code == 0, SENDS.c.joined_at.is_(None))
        .order_by(SENDS.c.sent_at.desc())
        .limit(1)
    ).scalar()
    return float(fee) if fee else USUAL_FEE
