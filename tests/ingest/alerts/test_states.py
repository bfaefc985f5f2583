"""States, not spam: one message on firing, one on resolving, reminders, grouping, silences,
and nothing sent twice across restarts or by two loops on one database."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from ingest.alerts.channels import Channels
from ingest.alerts.loop import AlertLoop
from ingest.settings import Secret
from ingest.store.alert_models import AlertEvent, AlertSilence, AlertState
from tests.ingest.alerts.support import add_calls, default_rule

START = datetime(2026, 11, 24, 6, 0, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def make_loop(engine, receiver, rules, clock, interval=30.0) -> AlertLoop:
    channels = Channels([Secret(f"json://{receiver.host}/hook")])
    return AlertLoop(engine, rules, channels, "http://dash.example", interval, clock=clock)


def outage(engine, at: datetime, **where) -> None:
    add_calls(engine, at - timedelta(minutes=3), 50, 5, **where)


def test_fires_once_and_resolves_once(engine, receiver):
    clock = Clock(START)
    loop = make_loop(engine, receiver, [default_rule("answer_rate_drop")], clock)
    outage(engine, clock.now)
    loop.tick()
    clock.advance(seconds=30)
    loop.tick()
    assert len(receiver.received) == 1
    assert "FIRING" in receiver.texts()[0] and "10.0%" in receiver.texts()[0]
    assert "http://dash.example/alerts?rule=answer_rate_drop" in receiver.texts()[0]
    clock.advance(minutes=20)  # the bad calls left the window
    add_calls(engine, clock.now - timedelta(minutes=3), 50, 45)
    loop.tick()
    loop.tick()
    assert len(receiver.received) == 2 and "RESOLVED" in receiver.texts()[1]


def test_a_firing_alert_holds_while_too_few_calls_tell_it_is_over(engine, receiver):
    # Seen in the demo: a carrier outage at 1 send/s resolved when its 2-minute window held 39
    # reports (one under the minimum), all failed, and fired again at 40.
    clock = Clock(START)
    rule = replace(default_rule("answer_rate_drop_carrier"), window=600)
    loop = make_loop(engine, receiver, [rule], clock)
    add_calls(engine, clock.now - timedelta(minutes=3), 50, 2)
    loop.tick()
    clock.advance(seconds=30)
    loop.tick()
    assert ["FIRING" in t for t in receiver.texts()] == [True]
    clock.advance(minutes=15)  # those calls left the window; 39 more, all failed
    add_calls(engine, clock.now - timedelta(minutes=3), 39, 0)
    loop.tick()
    assert len(receiver.received) == 1  # not resolved on too few calls
    clock.advance(minutes=15)  # 39 answered ones: too few too, but they look fine
    add_calls(engine, clock.now - timedelta(minutes=3), 39, 39)
    loop.tick()
    assert len(receiver.received) == 2 and "RESOLVED" in receiver.texts()[1]


@pytest.mark.parametrize(
    ("rule_name", "ago", "bad", "good"),
    [
        # Accepted sends with no report; then sends whose reports came.
        ("reports_missing", 4, {"reported": False}, {"reported": True}),
        # Sends Yunpian never answered; then sends it answered.
        ("upstream_errors", 1, {"http_status": None}, {"http_status": 200}),
    ],
)
def test_share_alerts_hold_while_too_few_sends_tell_it_is_over(
    engine, receiver, rule_name, ago, bad, good
):
    clock = Clock(START)
    rule = default_rule(rule_name)
    loop = make_loop(engine, receiver, [rule], clock)
    add_calls(engine, clock.now - timedelta(minutes=ago), 2 * rule.min_sample, 0, **bad)
    loop.tick()
    clock.advance(seconds=30)
    loop.tick()
    assert ["FIRING" in t for t in receiver.texts()] == [True]
    clock.advance(minutes=10)  # those left the window; a few more, all bad
    add_calls(engine, clock.now - timedelta(minutes=ago), rule.min_sample - 1, 0, **bad)
    loop.tick()
    assert len(receiver.received) == 1  # not resolved on too few sends
    clock.advance(minutes=10)  # as few, but fine
    add_calls(engine, clock.now - timedelta(minutes=ago), rule.min_sample - 1, 0, **good)
    loop.tick()
    assert len(receiver.received) == 2 and "RESOLVED" in receiver.texts()[1]


def test_a_long_incident_is_repeated_at_the_repeat_interval(engine, receiver):
    clock = Clock(START)
    rule = replace(default_rule("answer_rate_drop"), repeat=600, window=3600)
    loop = make_loop(engine, receiver, [rule], clock)
    outage(engine, clock.now)
    loop.tick()
    clock.advance(minutes=5)
    loop.tick()
    assert len(receiver.received) == 1
    clock.advance(minutes=6)
    loop.tick()
    assert len(receiver.received) == 2 and "STILL FIRING" in receiver.texts()[1]


def test_a_condition_that_clears_while_pending_tells_no_one(engine, receiver):
    clock = Clock(START)
    rule = replace(default_rule("answer_rate_drop"), pending_for=120)
    loop = make_loop(engine, receiver, [rule], clock)
    outage(engine, clock.now)
    loop.tick()
    clock.advance(minutes=20)
    loop.tick()
    assert receiver.received == []
    with Session(engine) as session:
        assert session.scalars(select(AlertState.status)).all() == ["cleared"]


def test_three_provinces_dropping_make_one_message(engine, receiver):
    clock = Clock(START)
    loop = make_loop(engine, receiver, [default_rule("answer_rate_drop_province")], clock)
    for province in ("Guangdong", "Jiangsu", "Hebei"):
        outage(engine, clock.now, province=province)
    loop.tick()
    (message,) = receiver.texts()
    assert "×3 province" in message
    # Each place in both languages, as the whole message is.
    assert all(name in message for name in ("广东 Guangdong", "江苏 Jiangsu", "河北 Hebei"))


def test_a_silenced_rule_sends_nothing_until_the_silence_is_over(engine, receiver):
    clock = Clock(START)
    loop = make_loop(engine, receiver, [default_rule("answer_rate_drop")], clock)
    with Session(engine) as session, session.begin():
        session.add(
            AlertSilence(
                rule="answer_rate_drop",
                subject="",
                ends_at=START + timedelta(minutes=10),
                reason="carrier maintenance",
                created_by="oncall",
                created_at=START,
            )
        )
    outage(engine, clock.now)
    loop.tick()
    assert receiver.received == []
    with Session(engine) as session:
        assert session.scalars(select(AlertEvent.silenced)).all() == [True]


def test_a_restarted_loop_neither_forgets_nor_resends(engine, receiver):
    clock = Clock(START)
    rules = [default_rule("answer_rate_drop")]
    outage(engine, clock.now)
    make_loop(engine, receiver, rules, clock).tick()
    clock.advance(seconds=30)
    restarted = make_loop(engine, receiver, rules, clock)
    clock.advance(seconds=200)  # past the old loop's lease
    restarted.tick()
    assert len(receiver.received) == 1
    clock.advance(minutes=20)
    restarted.tick()
    assert len(receiver.received) == 2 and "RESOLVED" in receiver.texts()[1]


def test_two_loops_on_one_database_send_once(engine, receiver):
    clock = Clock(START)
    rules = [default_rule("answer_rate_drop")]
    first, second = (make_loop(engine, receiver, rules, clock) for _ in range(2))
    outage(engine, clock.now)
    results = [first.tick(), second.tick(), first.tick(), second.tick()]
    assert [r.evaluated for r in results] == [True, False, True, False]
    assert len(receiver.received) == 1


def test_a_message_no_channel_took_is_sent_when_the_channel_is_back(engine, receiver):
    clock = Clock(START)
    loop = make_loop(engine, receiver, [default_rule("answer_rate_drop")], clock)
    outage(engine, clock.now)
    receiver.down = True
    assert loop.tick().failed == 1
    receiver.down = False
    clock.advance(seconds=30)
    loop.tick()
    clock.advance(seconds=30)
    loop.tick()
    assert len(receiver.received) == 1 and "FIRING" in receiver.texts()[0]


def test_loops_racing_for_the_lease_evaluate_once(engine, receiver):
    import threading

    clock = Clock(START)
    rules = [default_rule("answer_rate_drop")]
    loops = [make_loop(engine, receiver, rules, clock) for _ in range(4)]
    outage(engine, clock.now)
    barrier = threading.Barrier(len(loops))
    results = []

    def tick(loop: AlertLoop) -> None:
        barrier.wait()
        results.append(loop.tick())

    threads = [threading.Thread(target=tick, args=(loop,)) for loop in loops]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sum(r.evaluated for r in results) == 1
    assert len(receiver.received) == 1


def test_a_crashed_loops_lease_runs_out_and_another_takes_over(engine, receiver):
    clock = Clock(START)
    rules = [default_rule("answer_rate_drop")]
    crashed, successor = (make_loop(engine, receiver, rules, clock) for _ in range(2))
    crashed.tick()  # holds the lease, then dies without releasing it
    outage(engine, clock.now)
    clock.advance(seconds=10)
    assert not successor.tick().evaluated
    clock.advance(seconds=60)
    assert successor.tick().evaluated and len(receiver.received) == 1


def test_a_firing_ingest_alert_is_what_health_reports(engine, receiver):
    from ingest.alerts.status import ingest_alerts
    from tests.ingest.alerts.support import add_pull_run

    clock = Clock(START)
    rules = [default_rule("pull_stale"), default_rule("answer_rate_drop")]
    loop = make_loop(engine, receiver, rules, clock)
    add_pull_run(engine, START - timedelta(minutes=10))
    outage(engine, clock.now)
    loop.tick()
    assert [(a.rule, a.subject) for a in ingest_alerts(engine, rules)] == [("pull_stale", "")]
