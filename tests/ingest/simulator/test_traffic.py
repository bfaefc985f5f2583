"""Synthetic users: rate parsing, realistic sends, throttling showing up, stopping on request."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta
from random import Random

import pytest

from ingest.simulator import ManualClock, SimulatorConfig, World
from ingest.simulator.records import Rejection
from ingest.simulator.traffic import SyntheticUsers, parse_rate, run_traffic
from tests.fixtures.simulator import CHINA_AFTERNOON, TEST_APIKEY
from tests.servers import wait_until


@pytest.mark.parametrize(
    ("text", "per_second"),
    [("2/s", 2.0), ("30/m", 0.5), ("360/h", 0.1), ("3", 3.0), (" 1.5 / s ", 1.5)],
)
def test_parse_rate_understands_per_second_minute_and_hour(text, per_second):
    assert parse_rate(text) == pytest.approx(per_second)


@pytest.mark.parametrize("text", ["fast", "0/s", "-1/s", "2/d", ""])
def test_parse_rate_refuses_what_it_cannot_read(text):
    with pytest.raises(ValueError, match="rate"):
        parse_rate(text)


def test_impatient_users_make_the_world_throttle_them():
    clock = ManualClock(CHINA_AFTERNOON)
    world = World(SimulatorConfig(apikey=TEST_APIKEY, seed=1, balance=10**6), clock)
    users = SyntheticUsers(Random(5))
    answers: Counter[int] = Counter()
    for second in range(1500):  # one send a second for 25 minutes
        clock.set(CHINA_AFTERNOON + timedelta(seconds=second))
        mobile, code = users.next_send(float(second))
        result = world.send({"apikey": TEST_APIKEY, "mobile": mobile, "code": code})
        answers[result.code if isinstance(result, Rejection) else 0] += 1
    assert answers[8] > 0
    assert answers[0] > 1400


def test_traffic_sends_realistic_codes_that_the_simulator_records(simulator, push_receiver):
    stats = run_traffic(
        simulator.url, simulator.apikey, 500, push_receiver.url, seed=3, max_sends=60
    )
    assert stats.sent == 60 and stats.failed == 0
    truth = simulator.ground_truth()
    assert len(truth["calls"]) == stats.accepted
    assert len(truth["rejected"]) == sum(stats.rejected.values())
    assert {call["push_url"] for call in truth["calls"]} == {push_receiver.url}
    assert len({call["mobile"] for call in truth["calls"]}) > 40


def test_traffic_stops_when_asked(simulator):
    stop = threading.Event()
    users = threading.Thread(
        target=run_traffic, args=(simulator.url, simulator.apikey, 100), kwargs={"stop_event": stop}
    )
    users.start()
    wait_until(lambda: simulator.state()["calls"] >= 5)
    stop.set()
    users.join(timeout=5)
    assert not users.is_alive()


def test_traffic_counts_an_unreachable_target_as_failures():
    stats = run_traffic("http://127.0.0.1:9", TEST_APIKEY, 1000, max_sends=3)
    assert (stats.sent, stats.failed, stats.accepted) == (3, 3, 0)
