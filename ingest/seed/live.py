"""The last days of demo history as the live demo traffic makes them: the synthetic users of
`ingest.simulator.traffic` at its rate, refused by the simulator's throttle and answered by its
outcome model, so the alert rules, which measure live traffic against the same hours on
previous days, find the demo's present like its past (and fire on nothing while it is normal).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from ingest.numbers import NumberInfo, describe
from ingest.seed.history import _Planned, _send_row
from ingest.seed.summary import Incident, SeedSummary
from ingest.settings import Secret
from ingest.simulator.outcomes import decide_outcome
from ingest.simulator.throttle import HarassmentGuard
from ingest.simulator.traffic import SyntheticUsers, asleep
from ingest.simulator.world import REALISTIC_CALL_DELAY
from ingest.store.writes import code_digest

# No call is placed in the last minutes before `now`: each seeded call then has its report (the
# slowest comes after about 100 s). A call left pending would stay so forever, and the seed's
# last minute, with no live traffic yet to dilute it, would read as reports missing.
SETTLED = timedelta(minutes=2)
# What the rules look back at: the same hour on each of 7 days before (alerts.toml's
# baseline_days) and the hour before that day's window; two hours, so a late start fits.
LIVE_SPAN = timedelta(days=7, hours=2)
PIECE = timedelta(hours=6)  # of live history drawn, then written


@dataclass(frozen=True)
class LiveTraffic:
    """The live demo traffic the last `span` of history follows (`voicewatch up`'s)."""

    rate_per_s: float
    quiet_hours: bool = False
    span: timedelta = LIVE_SPAN


def live_history(
    rng: random.Random,
    start: datetime,
    now: datetime,
    live: LiveTraffic,
    summary: SeedSummary,
    key: Secret,
) -> Iterator[tuple[list[dict], list[dict]]]:
    """Sends and reports from `start` to `now` at the live rate (Poisson arrivals, every hour
    alike, domestic numbers silent in quiet hours if they are on), counted into `summary`;
    in pieces of `PIECE` of time, each written before the next is drawn (a week at once held
    1.4 GB)."""
    rate_per_s, quiet_hours = live.rate_per_s, live.quiet_hours
    users = SyntheticUsers(rng)
    guard = HarassmentGuard()
    info: dict[str, NumberInfo] = {}
    sends: list[dict] = []
    reports: list[dict] = []
    at = start + timedelta(seconds=rng.expovariate(rate_per_s))
    piece_end = start + PIECE
    while at < now - SETTLED:
        if at >= piece_end:
            yield sends, reports
            sends, reports, piece_end = [], [], piece_end + PIECE
        mobile, code = users.next_send(at.timestamp())
        where = info.get(mobile) or info.setdefault(mobile, describe(mobile))
        if not asleep(where, at, quiet_hours):
            refusal = guard.check(mobile, code, at)
            planned = _Planned(at, mobile, code, "relay", None)
            digest = code_digest(key, mobile, code)
            send = _send_row(
                rng, planned, digest, refusal.code if refusal else 0, where.carrier, where.province
            )
            sends.append(send)
            summary.sends += 1
            if refusal:
                summary.rejected += 1
                summary.throttled += 1
            else:
                guard.remember(mobile, code, at)
                _accepted(rng, send, where, now, summary, reports)
        at += timedelta(seconds=rng.expovariate(rate_per_s))
    yield sends, reports


def _accepted(rng, send: dict, where: NumberInfo, now, summary: SeedSummary, reports) -> None:
    report = _report_row(rng, send, where, now, summary.incidents)
    summary.count_accepted(send["fee"], report)
    if report is not None:
        reports.append(report)


def _report_row(
    rng: random.Random, send: dict, where: NumberInfo, now: datetime, incidents: list[Incident]
) -> dict | None:
    """The report the simulator would give the send (None while the call is under way), as
    ingest stores it: pushed mostly, pulled sometimes, now and then both."""
    outcome = decide_outcome(where, rng)
    answered, duration, error_msg = outcome.answered, outcome.duration, outcome.error_msg
    for incident in incidents:
        if (
            incident.covers(send["carrier"], send["sent_at"])
            and rng.random() > incident.answer_rate
        ):
            answered, duration, error_msg = False, 0, "用户信号不佳、关机等"
    received = send["sent_at"] + timedelta(seconds=rng.uniform(*REALISTIC_CALL_DELAY) + duration)
    via_push = rng.random() < 0.85
    via_pull = not via_push or rng.random() < 0.1
    first_seen = received + timedelta(seconds=rng.uniform(1, 6) if via_push else rng.uniform(2, 12))
    if first_seen > now:
        return None
    both = via_push and via_pull
    last_seen = min(now, first_seen + timedelta(seconds=rng.uniform(3, 30))) if both else first_seen
    return {
        "sid": send["sid"],
        "mobile": send["mobile"],
        "uid": None,
        "status": "SUCCESS" if answered else "FAIL",
        "error_msg": error_msg,
        "user_receive_time": received.replace(microsecond=0),
        "duration": duration,
        "via_push": via_push,
        "via_pull": via_pull,
        "deliveries": 2 if both else 1,
        "first_seen": first_seen,
        "last_seen": last_seen,
        "carrier": send["carrier"],
        "province": send["province"],
    }
