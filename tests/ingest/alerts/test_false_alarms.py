"""30 minutes of the demo's normal traffic, on a fast clock, under the default rules: nothing
fires. The traffic is `make run`'s: the simulator's synthetic users (a pool of 500 numbers,
3 % of them pressing "call me again") at 1 send/s, through the simulated account (its
outcome model, throttling and fees), with every report stored as it comes due."""

from __future__ import annotations

from datetime import UTC, datetime
from random import Random

from sqlalchemy.orm import Session

from ingest.alerts.balance import Balance
from ingest.alerts.channels import Channels
from ingest.alerts.loop import AlertLoop
from ingest.alerts.rules import load_rules
from ingest.numbers import describe
from ingest.settings import Secret
from ingest.simulator import ManualClock, SimulatorConfig, World
from ingest.simulator.records import Accepted
from ingest.simulator.traffic import SyntheticUsers
from ingest.store.models import Report, Send

START = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)  # 10:00 China time
APIKEY = "5e4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b"


def send_one(world: World, users: SyntheticUsers, session: Session) -> None:
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


def store_due_reports(world: World, session: Session, stored: set[str]) -> None:
    now = world.clock.now()
    for call in world.calls():
        if call.sid in stored or call.due_at > now:
            continue
        stored.add(call.sid)
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


def test_half_an_hour_of_demo_traffic_fires_no_default_rule(engine, receiver):
    clock = ManualClock(START)
    world = World(SimulatorConfig(apikey=APIKEY, seed=15, balance=10**9), clock)
    users, stored = SyntheticUsers(Random(15)), set()
    loop = AlertLoop(
        engine,
        load_rules(),
        Channels([Secret(f"json://{receiver.host}/hook")]),
        "http://dash",
        30.0,
        balance=lambda: Balance(float(world.balance), 100.0),
        clock=clock.now,
    )
    for _ in range(60):  # 60 evaluations, 30 s apart
        with Session(engine) as session, session.begin():
            for _ in range(30):
                send_one(world, users, session)
                clock.advance(1)
            store_due_reports(world, session, stored)
        loop.tick()
    assert len(stored) > 1500  # the traffic really ran
    assert [r.body["title"] for r in receiver.received] == []
