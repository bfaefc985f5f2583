"""Replay: stored sends of a past range run through a rule set, to see what it would have
blocked before it is enforced. The rules are the live guard's (rules.decide); only the counts
come from the replayed sends held in memory instead of the database, so a replay of the
traffic the live guard saw decides as it did (tests/ingest/guard/test_replay.py).

"Genuine-looking": a send to a number that answered a call in the range, on which no velocity
rule fired (not part of a burst). A rule set that blocks many of those would hurt real users.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Engine, select

from ingest.guard.config import GuardConfig
from ingest.guard.counters import MemoryCounters
from ingest.guard.live import BLOCKED_CODE
from ingest.guard.rules import (
    APP,
    COUNTRY,
    NUMBER,
    RANGE,
    Decision,
    Lists,
    attempt_for,
    decide,
)
from ingest.numbers import looks_like_mobile
from ingest.store.models import Report, Send

VELOCITY = frozenset({NUMBER, RANGE, COUNTRY, APP})
DEFAULT_FEE = 1.0  # what a send with no stored fee would have cost (one call)


@dataclass(frozen=True, slots=True)
class ReplayedSend:
    send_id: int
    at: datetime
    mobile: str
    country: str
    prefix: str
    fee: float
    decision: Decision
    answered: bool

    @property
    def genuine_looking(self) -> bool:
        return self.answered and not VELOCITY & {rule for rule, _ in self.decision.fired}


@dataclass
class ReplayResult:
    """Every replayed send with its decision, and the totals the CLI and the page show."""

    sends: list[ReplayedSend] = field(default_factory=list)

    @property
    def blocked(self) -> list[ReplayedSend]:
        return [s for s in self.sends if s.decision.blocked]

    @property
    def recorded(self) -> list[ReplayedSend]:
        """Sends a record-only rule fired on and no enforced rule blocked."""
        return [s for s in self.sends if s.decision.fired and not s.decision.blocked]

    @property
    def genuine_blocked(self) -> list[ReplayedSend]:
        return [s for s in self.blocked if s.genuine_looking]

    @property
    def spend_saved(self) -> float:
        return sum(s.fee for s in self.blocked)


def replay(
    engine: Engine,
    config: GuardConfig,
    lists: Lists,
    start: datetime,
    end: datetime,
) -> ReplayResult:
    """The decisions `config` would have made on the sends stored in [start, end)."""
    counters = MemoryCounters()
    warmup = start - timedelta(days=max(1, config.country.days))
    answered = _answered_numbers(engine, start, end + timedelta(hours=1))
    result = ReplayResult()
    for send in _stored_sends(engine, warmup, end):
        attempt = attempt_for(send.mobile, send.actor or "", send.sent_at, config)
        if send.sent_at < start:  # history the counters start from, as the live guard had it
            if send.result_code != BLOCKED_CODE:
                counters.add(attempt)
            continue
        decision = decide(attempt, counters.recent(attempt, config), config, lists)
        if not decision.blocked:
            counters.add(attempt)
        fee = send.fee or DEFAULT_FEE
        result.sends.append(
            ReplayedSend(
                send.id,
                send.sent_at,
                send.mobile,
                attempt.country,
                attempt.prefix,
                fee,
                decision,
                send.mobile in answered,
            )
        )
    return result


def _stored_sends(engine: Engine, start: datetime, end: datetime) -> Iterable[Send]:
    stmt = (
        select(Send.id, Send.sent_at, Send.mobile, Send.actor, Send.result_code, Send.fee)
        .where(Send.sent_at >= start, Send.sent_at < end)
        .order_by(Send.sent_at, Send.id)
        .execution_options(yield_per=5000)
    )
    with engine.connect() as connection:
        for row in connection.execute(stmt):
            if looks_like_mobile(row.mobile):
                yield row  # type: ignore[misc]


def _answered_numbers(engine: Engine, start: datetime, end: datetime) -> set[str]:
    stmt = (
        select(Report.mobile)
        .distinct()
        .where(Report.status == "SUCCESS", Report.first_seen >= start, Report.first_seen < end)
    )
    with engine.connect() as connection:
        return set(connection.execute(stmt).scalars())
