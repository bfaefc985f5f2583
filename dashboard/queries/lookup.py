"""Lookup: one number's or one sid's story, when it can next be sent to, manual-send counts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pandas as pd
from sqlalchemy import Engine, and_, func, select

from dashboard.queries._sql import SENDS, to_china
from dashboard.queries.failures import code_reason
from dashboard.queries.traffic import NO_REPORT_AFTER
from ingest.i18n import N_
from ingest.numbers import storage_key
from ingest.store.lookup import Call, Candidate, candidates, lookup
from ingest.store.models import ACCEPTED, JOINED, REJECTED, UNKNOWN
from ingest.support import call_outcome
from ingest.throttle import NO_ACCOUNT_LIMITS, AcceptedSend, NextSend, ThrottleLimits, next_send

TIMELINE_TIMES = ("sent_at", "user_receive_time", "first_seen")
REPORT_COLUMNS = (
    "status",
    "error_msg",
    "user_receive_time",
    "duration",
    "via_push",
    "via_pull",
    "deliveries",
    "first_seen",
)
TIMELINE_COLUMNS = (
    "sent_at",
    "mobile",
    "number",
    "sid",
    "result_code",
    "send_state",
    "source",
    "actor",
    "fee",
    "carrier",
    "province",
    "status",
    "error_msg",
    "user_receive_time",
    "call_ended_after_s",
    "duration",
    "via_push",
    "via_pull",
    "deliveries",
    "first_seen",
    "outcome",
)


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


def lookup_timeline(
    engine: Engine,
    query: str,
    limit: int = 200,
    *,
    now: datetime | None = None,
    no_report_after: timedelta = NO_REPORT_AFTER,
) -> pd.DataFrame:
    """Sends (with their report joined by sid) and reports with no send found, for a number
    (however written) or a sid, newest first (ingest.store.lookup), one row each; `outcome`
    is one of ingest.support's words (an accepted call with no report after
    `no_report_after` is "no report"). Times in China time."""
    now = now or datetime.now(UTC)
    rows = [_timeline_row(call, now, no_report_after) for call in lookup(engine, query, limit)]
    df = pd.DataFrame(rows, columns=TIMELINE_COLUMNS)
    df["result"] = [
        _result(send_state, code)
        for send_state, code in zip(df["send_state"], df["result_code"], strict=True)
    ]
    return to_china(df, *TIMELINE_TIMES)


# What became of a send, as the timeline shows it (ingest.store.models, Send.state).
RESULT_WORDS = {
    ACCEPTED: N_("accepted"),
    JOINED: N_("accepted (answer lost, joined to its report)"),
    UNKNOWN: N_("unknown: may have been placed"),
}


def _result(send_state: str | None, code: object) -> str:
    """A send's result in English: a refusal's code and meaning, else RESULT_WORDS."""
    if send_state is None or pd.isna(send_state):
        return ""
    if send_state == REJECTED:
        return code_reason(int(code))
    return RESULT_WORDS.get(send_state, send_state)


def _timeline_row(call: Call, now: datetime, no_report_after: timedelta) -> dict[str, object]:
    send, report = call.send, call.report
    found = send or report  # number, sid, carrier and province: the send's when there is one
    after = call.until_call_ended
    return {
        "sent_at": send.sent_at if send else None,
        "mobile": found.mobile,
        "number": found.number or storage_key(found.mobile),
        "sid": found.sid,
        "result_code": send.result_code if send else None,
        "send_state": send.state if send else None,
        "source": send.source if send else "report only",
        "actor": send.actor if send else None,
        "fee": send.fee if send else None,
        "carrier": found.carrier,
        "province": found.province,
        **{column: getattr(report, column) if report else None for column in REPORT_COLUMNS},
        "call_ended_after_s": None if after is None else round(after.total_seconds(), 1),
        "outcome": call_outcome(
            send.state if send else None,
            report.status if report else None,
            send.sent_at if send else None,
            now,
            no_report_after,
        ),
    }


def number_choices(engine: Engine, partial) -> list[Candidate]:
    """The stored numbers a partial number (ingest.numbers.partial_number) may mean."""
    return candidates(engine, partial)


def accepted_history(engine: Engine, mobile: str, now: datetime) -> list[AcceptedSend]:
    """Accepted sends to `mobile` (however written: one number, one history) in the 24 h
    before `now`: all any throttle rule looks at."""
    stmt = select(SENDS.c.sent_at, SENDS.c.code_digest).where(
        SENDS.c.number == storage_key(mobile),
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
    limits: ThrottleLimits = NO_ACCOUNT_LIMITS,
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
    """The stored report for `sid`, once it has arrived (read through ingest.store.lookup)."""
    calls = lookup(engine, sid, limit=1)
    report = calls[0].report if calls else None
    if report is None:
        return None
    return ReportView(**{name: getattr(report, name) for name in ReportView.__dataclass_fields__})
