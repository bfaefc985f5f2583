"""Replay: stored sends run through a rule set decide as the live guard decided on them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from ingest.guard.config import load_config
from ingest.guard.lists import add_entry, load_lists
from ingest.guard.replay import replay
from ingest.store.models import GuardAttempt, Send
from tests.servers import wait_until

RULES = """
[number]
mode = "enforce"
per_hour = 3
[range]
mode = "enforce"
max_numbers = 4
[destination]
mode = "record-only"
countries = ["CN"]
[app]
mode = "enforce"
per_minute = 25
"""


def traffic() -> list[tuple[str, str]]:
    """(mobile, app): a pumped range, a flooded victim, ordinary users, a noisy app."""
    pumped = [(f"+2327612{n:04d}", "shop") for n in range(8)]
    victim = [("13900001111", "shop")] * 6
    ordinary = [
        (f"1{p}{n:08d}", "shop") for p, n in zip((38, 52, 86, 59), range(1, 5), strict=True)
    ]
    noisy = [(f"1{30 + n}{n:08d}", "noisy") for n in range(30)]  # one per range
    mixed = [*pumped, *victim, *ordinary, *noisy]
    return mixed[::2] + mixed[1::2]


def test_replay_of_the_traffic_the_live_guard_saw_decides_as_it_did(
    simulator, make_ingest, engine, tmp_path
):
    rules = tmp_path / "guard.toml"
    rules.write_text(RULES)
    add_entry(engine, "allow", "13900001111", "test", "cli")
    add_entry(engine, "block", "+8869*", "test", "cli")
    relay = make_ingest(voice_url=simulator.url, guard_path=str(rules), guard_budget=2.0)
    started = datetime.now(UTC) - timedelta(seconds=1)
    sent = [*traffic(), ("+886912345678", "shop")]
    with httpx.Client(base_url=relay.url) as client:
        for i, (mobile, app) in enumerate(sent):
            client.post(
                "/v2/voice/send.json",
                data={"apikey": simulator.apikey, "mobile": mobile, "code": f"{1000 + i}"},
                headers={"X-Voicewatch-App": app},
            )
    wait_until(lambda: _count(engine) >= len(sent), 10)
    wait_until(lambda: len(_attempts(engine)) >= len(sent), 10)
    live = [(a.mobile, a.rule, a.mode, not a.passed) for a in _attempts(engine)]
    result = replay(
        engine, load_config(rules), load_lists(engine), started, datetime.now(UTC) + timedelta(1)
    )
    replayed = [
        (s.mobile, s.decision.rule, s.decision.mode, s.decision.blocked) for s in result.sends
    ]
    assert replayed == live
    # The traffic tripped every kind of rule, so the equality says something.
    assert {rule for _, rule, _, _ in live} >= {
        "range velocity",
        "allow list",
        "block list",
        "app velocity",
        "destination",
    }
    assert len(result.blocked) == sum(blocked for *_, blocked in live) > 0


def _attempts(engine) -> list[GuardAttempt]:
    with Session(engine) as session:
        return list(session.scalars(select(GuardAttempt).order_by(GuardAttempt.id)))


def _count(engine) -> int:
    with Session(engine) as session:
        return len(list(session.scalars(select(Send.id))))
