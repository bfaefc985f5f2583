"""The simulator's attack, switched on at runtime against the relay: the guard with its velocity
rules enforced (limits as shipped) stops the pumping burst within a stated number of sends; the victim flood is held to the
number rule's hourly limit."""

from __future__ import annotations

from collections import Counter

import httpx
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ingest.guard.live import BLOCKED_CODE
from ingest.store.models import Send
from tests.ingest.guard.support import velocity_rules
from tests.servers import wait_until

PUMPING_PASSES = 5  # default range rule: 5 distinct numbers per 8-digit prefix in 10 minutes
PREFIX_DIGITS = 8
FLOOD_PASSES = 10  # default number rule: 10 codes per number per hour


def attack(simulator, relay_url: str, scenario: str, sends: int) -> dict:
    switched = httpx.post(
        f"{simulator.url}/_sim/attack",
        data={"scenario": scenario, "target": relay_url, "rate": "40/s"},
    )
    assert switched.status_code == 200 and switched.json()["scenario"] == scenario
    wait_until(lambda: httpx.get(f"{simulator.url}/_sim/attack").json()["sent"] >= sends, 30)
    httpx.post(f"{simulator.url}/_sim/attack", data={"scenario": "off"})
    return httpx.get(f"{simulator.url}/_sim/attack").json()


def accepted_per_prefix(engine, sent: int) -> Counter:
    """Accepted sends by their number's first 8 digits, once all `sent` are recorded."""
    with Session(engine) as session:
        wait_until(lambda: session.scalar(select(func.count(Send.id))) >= sent, 10)
        numbers = session.scalars(select(Send.mobile).where(Send.result_code == 0))
        return Counter(number.lstrip("+")[:PREFIX_DIGITS] for number in numbers)


def accepted_sends(engine) -> int:
    with Session(engine) as session:
        return len(list(session.scalars(select(Send.id).where(Send.result_code == 0))))


def test_pumping_attack_is_stopped_after_the_range_limit(simulator, make_ingest, engine, tmp_path):
    relay = make_ingest(
        voice_url=simulator.url, guard_path=velocity_rules(tmp_path), guard_budget=2.0
    )  # the rules are tested, not the budget
    state = attack(simulator, relay.url, "pumping", 30)
    # The burst starts anywhere in its range: it may cross into the next 8-digit prefix
    # (…0993 → …1000 was seen), which the rule counts afresh.
    per_prefix = accepted_per_prefix(engine, state["sent"])
    assert 1 <= len(per_prefix) <= 2 and max(per_prefix.values()) <= PUMPING_PASSES, per_prefix
    passes = PUMPING_PASSES * len(per_prefix)
    assert state["answers"].get("0", 0) <= passes
    assert state["answers"][str(BLOCKED_CODE)] >= state["sent"] - passes


def test_single_victim_flood_is_held_to_the_hourly_limit(simulator, make_ingest, engine, tmp_path):
    relay = make_ingest(
        voice_url=simulator.url, guard_path=velocity_rules(tmp_path), guard_budget=2.0
    )
    state = attack(simulator, relay.url, "flood", 20)
    assert state["answers"][str(BLOCKED_CODE)] >= state["sent"] - FLOOD_PASSES
    assert wait_until(lambda: accepted_sends(engine) <= FLOOD_PASSES, 5)
