"""30 minutes of the demo's normal traffic, on a fast clock, under the default rules: nothing
fires, with a day of history before it so the baselines are real. The traffic is `make run`'s: the simulator's synthetic users (a pool of 500 numbers,
3 % of them pressing "call me again") at 1 send/s, through the simulated account (its
outcome model, throttling and fees), with every report stored as it comes due."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from random import Random

from sqlalchemy.orm import Session

from ingest.alerts.balance import Balance
from ingest.alerts.channels import Channels
from ingest.alerts.loop import AlertLoop
from ingest.alerts.measure import measure
from ingest.alerts.rules import load_rules
from ingest.numbers import describe
from ingest.settings import Secret
from ingest.simulator import ManualClock, SimulatorConfig, World
from ingest.simulator.records import Accepted
from ingest.simulator.traffic import SyntheticUsers
from ingest.store.models import Report, Send

START = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)  # 10:00 China time
APIKEY = "5e4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b"


def send_one(world: World, users: SyntheticUsers, session: Session) -> str | None:
    """One synthetic user's send, recorded as the relay records it; the sid if accepted."""
    now = world.clock.now()
    mobile, code = users.next_send(now.timestamp())
    answer = world.send({"apikey": APIKEY, "mobile": mobile, "code": code})
    info = describe(mobile)
    accepted = isinstance(answer, Accepted)
    session.add(
        Send(
            sent_at=now,
            mobile=mobile,
            code_digest="x",
            kind="code",
            result_code=0 if accepted else answer.code,
            http_status=200 if accepted else 400,
            fee=float(answer.fee) if accepted else 0.0,
            count=1 if accepted else 0,
            sid=answer.sid if accepted else None,
            source="relay",
            carrier=info.carrier,
            province=info.province,
        )
    )
    return answer.sid if accepted else None


def store_due_reports(world: World, session: Session, waiting: set[str]) -> int:
    """Store the reports of the `waiting` calls that came due; how many."""
    now = world.clock.now()
    due = [call for call in map(world.call, waiting) if call.due_at <= now]
    for call in due:
        waiting.discard(call.sid)
        info = describe(call.mobile)
        session.add(
            Report(
                sid=call.sid,
                mobile=call.mobile,
                status=call.outcome.report_status,
                error_msg=call.outcome.error_msg,
                user_receive_time=call.due_at,
                duration=call.outcome.duration,
                via_pull=True,
                first_seen=now,
                last_seen=now,
                carrier=info.carrier,
                province=info.province,
            )
        )
    return len(due)


def run_traffic(world, users, engine, minutes: int, tick=None) -> int:
    """`minutes` of 1 send/s, reports stored as they come due, `tick` every 30 s; the number
    of reports stored."""
    waiting: set[str] = set()
    stored = 0
    for _ in range(minutes * 2):
        with Session(engine) as session, session.begin():
            for _ in range(30):
                sid = send_one(world, users, session)
                if sid:
                    waiting.add(sid)
                world.clock.advance(1)
            stored += store_due_reports(world, session, waiting)
        if tick:
            tick()
    return stored


def test_half_an_hour_of_demo_traffic_fires_no_default_rule(engine, receiver):
    # From an hour before this time yesterday and two hours before today's half hour, so
    # every rule measures against history: the answer rate, throttling and spend against
    # whole hours of yesterday, hot numbers against a whole hour before.
    clock = ManualClock(START - timedelta(days=1, hours=1))
    world = World(SimulatorConfig(apikey=APIKEY, seed=15, balance=10**9), clock)
    users = SyntheticUsers(Random(15))
    loop = AlertLoop(
        engine,
        load_rules(),
        Channels([Secret(f"json://{receiver.host}/hook")]),
        "http://dash",
        30.0,
        balance=lambda: Balance(float(world.balance), 100.0),
        clock=clock.now,
    )
    stored = run_traffic(world, users, engine, 90)
    clock.advance(timedelta(hours=24 - 2.5).total_seconds())
    stored += run_traffic(world, users, engine, 120)
    assert clock.now() == START
    stored += run_traffic(world, users, engine, 30, tick=loop.tick)  # 60 evaluations
    assert stored > 12000  # the traffic really ran
    assert [r.body["message"] for r in receiver.received] == []
    with engine.connect() as connection:
        found = {f.rule: f for rule in load_rules() for f in measure(connection, rule, clock.now())}
    # Measured against history, not silent for want of it.
    assert found["fee_spike"].baseline > 0 and found["refusals_throttle"].baseline > 0
    assert found["answer_rate_drop"].baseline != load_rules()[0].params["fallback_baseline"]
