"""What the simulated world hands out and remembers: answers, refusals, calls, push batches."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from ingest.simulator.outcomes import CallOutcome

CHINA = ZoneInfo("Asia/Shanghai")
VOICE_CODE, VOICE_NOTIFICATION = 1, 2  # pull_status `type`, and which queue a call reports to


def money(amount: Decimal) -> int | float:
    """A JSON number for an amount: an int when integral, like Yunpian's `"fee": 1`."""
    return int(amount) if amount == amount.to_integral_value() else float(amount)


def china_time(moment: datetime) -> str:
    """`YYYY-MM-DD HH:MM:SS` in China time, the form of `user_receive_time`."""
    return moment.astimezone(CHINA).strftime("%Y-%m-%d %H:%M:%S")


@dataclass(frozen=True, slots=True)
class Rejection:
    """A refused request: Yunpian return code, its detail text, and the HTTP status when it
    differs from the one ingest/yunpian/codes.py gives the code."""

    code: int
    detail: str
    http_status: int | None = None


@dataclass(frozen=True, slots=True)
class Accepted:
    """A call placed: what send.json and tpl_notify.json answer."""

    sid: str
    fee: Decimal
    count: int = 1

    def to_json(self) -> dict[str, object]:
        return {"count": self.count, "fee": money(self.fee), "sid": self.sid}


@dataclass(slots=True)
class Call:
    """Ground truth about one accepted send. The code itself is deliberately not kept."""

    sid: str
    type: int  # VOICE_CODE or VOICE_NOTIFICATION
    mobile: str
    uid: str | None
    accepted_at: datetime
    due_at: datetime
    outcome: CallOutcome
    report: dict[str, object]  # exactly what pull and push hand out
    push_url: str | None
    fee: Decimal
    due: bool = False  # report released to the pull queue (and push outbox)
    pulled: bool = False
    push_attempts: int = 0  # deliveries actually sent (dropped ones excluded)
    push_dropped: int = 0  # deliveries the drop fault swallowed
    push_acknowledged: bool = False
    push_gave_up: bool = False

    def to_json(self) -> dict[str, object]:
        return {
            "sid": self.sid,
            "type": self.type,
            "mobile": self.mobile,
            "uid": self.uid,
            "accepted_at": self.accepted_at.isoformat(),
            "due_at": self.due_at.isoformat(),
            "outcome": self.outcome.report_status,
            "error_msg": self.outcome.error_msg,
            "duration": self.outcome.duration,
            "fee": money(self.fee),
            "report": self.report,
            "push_url": self.push_url,
            "due": self.due,
            "pulled": self.pulled,
            "push_attempts": self.push_attempts,
            "push_dropped": self.push_dropped,
            "push_acknowledged": self.push_acknowledged,
            "push_gave_up": self.push_gave_up,
        }


@dataclass(frozen=True, slots=True)
class RejectedSend:
    """Ground truth about one refused send or tpl_notify."""

    at: datetime
    endpoint: str  # "send" or "tpl_notify"
    mobile: str | None
    code: int
    detail: str

    def to_json(self) -> dict[str, object]:
        return {
            "at": self.at.isoformat(),
            "endpoint": self.endpoint,
            "mobile": self.mobile,
            "code": self.code,
            "detail": self.detail,
        }


@dataclass(frozen=True, slots=True)
class PushBatch:
    """Reports due to one push address, at most one push's worth."""

    url: str
    sids: list[str]
    reports: list[dict[str, object]]
