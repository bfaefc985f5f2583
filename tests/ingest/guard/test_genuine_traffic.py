"""The default rules, every one enforced, barely touch genuine traffic: the simulator's synthetic users (impatient
retries included) over a simulated day are falsely refused less than 0.1 % of the time.

A refusal is false when Yunpian itself would have accepted the send (ingest/throttle.py, for an
account with no 1 h / 24 h limit of its own, the default: only the 30 s and 3-in-5-min same-code
rules): the pool is 500 numbers, so a few impatient users get 20-30 sends in the day, and with
no account limit Yunpian accepts all of them but its 8/9 refusals of the quick retries."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from random import Random

from ingest.guard.config import load_config
from ingest.guard.live import Guard
from ingest.simulator.traffic import SyntheticUsers
from ingest.store.engine import make_engine
from ingest.throttle import AcceptedSend, rejection_code

DAY = 86400.0
SENDS_PER_DAY = 1500  # about 3 codes a day for each of the pool's 500 users
MIDNIGHT_CHINA = datetime(2026, 11, 19, 16, 0, tzinfo=UTC)


def test_default_rules_enforced_refuse_under_a_tenth_of_a_percent_of_a_simulated_day(sqlite_url):
    guard = Guard(make_engine(sqlite_url), load_config().with_modes("enforce"))
    users, arrivals = SyntheticUsers(Random(20261202)), Random(7)
    accepted: dict[str, list[AcceptedSend]] = defaultdict(list)  # by Yunpian, per number
    sent = refused = 0
    at = arrivals.expovariate(SENDS_PER_DAY / DAY)
    while at < DAY:  # the fast clock: each send decided at its simulated moment
        mobile, code = users.next_send(at)
        moment = MIDNIGHT_CHINA + timedelta(seconds=at)
        decision = guard.decide_now(mobile, "app", moment)
        history = sorted(accepted[mobile], key=lambda s: s.sent_at, reverse=True)
        yunpian_accepts = rejection_code(history, moment, code) is None
        sent, refused = sent + 1, refused + (decision.blocked and yunpian_accepts)
        if yunpian_accepts and not decision.blocked:
            accepted[mobile].append(AcceptedSend(moment, code))
        at += arrivals.expovariate(SENDS_PER_DAY / DAY)
    assert sent > 1300
    assert refused / sent < 0.001, (
        f"{refused} of {sent} genuine sends refused that Yunpian would accept"
    )
