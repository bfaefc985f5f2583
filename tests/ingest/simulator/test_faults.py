"""Fault switches: each visibly misbehaves, and none loses or double-charges a record."""

from __future__ import annotations

import json
import time

import pytest

from ingest.simulator import ManualClock
from tests.fixtures.simulator import CHINA_AFTERNOON
from tests.servers import wait_until


def send_until_accepted(simulator, mobile: str) -> tuple[str, int]:
    """Send one code, repeating after server errors; the sid and how many 500s it took."""
    for failures in range(50):
        response = simulator.post("send", mobile=mobile, code="1234")
        if response.status_code != 500:
            return response.json()["sid"], failures
    raise AssertionError("never accepted")


def pull_everything(simulator) -> tuple[list[str], int]:
    """Pull until the queue is empty, retrying bad answers; sids received and bad answers."""
    sids, bad = [], 0
    while simulator.state()["pull_queue"]["1"]:
        response = simulator.post("pull_status", page_size="2")
        try:
            page = response.json()
        except json.JSONDecodeError:
            bad += 1
            continue
        if response.status_code != 200:
            bad += 1
            continue
        sids += [report["sid"] for report in page]
    return sids, bad


def test_server_errors_are_yunpian_shaped_500s_that_change_nothing(make_simulator):
    simulator = make_simulator(fault_5xx=1.0)
    response = simulator.post("send", mobile="15205201314", code="1234")
    assert response.status_code == 500
    body = response.json()
    assert body["http_status_code"] == 500 and body["code"] in (-50, -51)
    assert body["msg"] in ("未知异常", "系统繁忙")
    state = simulator.state()
    assert (state["balance"], state["calls"], state["rejected"]) == (simulator.config.balance, 0, 0)


def test_with_some_server_errors_every_send_is_charged_once_and_every_report_pulled_once(
    make_simulator,
):
    simulator = make_simulator(fault_5xx=0.4)
    outcomes = [send_until_accepted(simulator, f"1380013{i:04d}") for i in range(25)]
    sids = [sid for sid, _ in outcomes]
    assert sum(failures for _, failures in outcomes) > 0
    assert simulator.state()["balance"] == simulator.config.balance - 25
    simulator.clock.advance(1)
    pulled, bad = pull_everything(simulator)
    assert bad > 0
    assert sorted(pulled) == sorted(sids)


def test_same_seed_gives_the_same_faults(make_simulator):
    def statuses(simulator) -> list[int]:
        return [simulator.post("pull_status").status_code for _ in range(20)]

    first = statuses(make_simulator(fault_5xx=0.5, seed=11))
    second = statuses(make_simulator(fault_5xx=0.5, seed=11))
    assert first == second and {200, 500} == set(first)


def test_latency_fault_delays_every_answer(make_simulator):
    simulator = make_simulator(fault_latency=0.3)
    started = time.monotonic()
    assert simulator.post("pull_status").status_code == 200
    assert time.monotonic() - started >= 0.3


def test_malformed_send_answer_is_not_json_but_the_call_was_placed_and_charged(make_simulator):
    simulator = make_simulator(fault_malformed=1.0)
    response = simulator.post("send", mobile="15205201314", code="1234")
    assert response.headers["content-type"] == "application/json;charset=utf-8"
    with pytest.raises(json.JSONDecodeError):
        response.json()
    state = simulator.state()
    assert (state["calls"], state["balance"]) == (1, simulator.config.balance - 1)


def test_malformed_pull_answer_does_not_consume_reports(make_simulator):
    simulator = make_simulator(fault_malformed=1.0)
    simulator.post("send", mobile="15205201314", code="1234")
    simulator.clock.advance(1)
    with pytest.raises(json.JSONDecodeError):
        simulator.post("pull_status").json()
    assert simulator.state()["pull_queue"]["1"] == 1
    assert not simulator.world.calls()[0].pulled


def test_with_some_malformed_pulls_every_report_still_arrives_once(make_simulator):
    simulator = make_simulator(fault_malformed=0.4)
    for i in range(20):
        simulator.post("send", mobile=f"1380013{i:04d}", code="1234")
    sids = [call.sid for call in simulator.world.calls()]
    assert len(sids) == 20  # every send placed its call, however its answer looked
    simulator.clock.advance(1)
    pulled, bad = pull_everything(simulator)
    assert bad > 0
    assert sorted(pulled) == sorted(sids)


def test_dropped_push_is_never_sent_but_stays_pullable(make_simulator, push_receiver):
    simulator = make_simulator(fault_drop_push=1.0)
    sid = simulator.post("send", mobile="15205201314", code="1234", callback_url=push_receiver.url)
    sid = sid.json()["sid"]
    wait_until(lambda: simulator.world.call(sid).push_dropped == 1)
    assert push_receiver.pushes == []
    assert [r["sid"] for r in simulator.post("pull_status").json()] == [sid]


def test_duplicate_push_sends_an_acknowledged_report_again(make_simulator, push_receiver):
    simulator = make_simulator(fault_duplicate_push=1.0)
    response = simulator.post(
        "send", mobile="15205201314", code="1234", callback_url=push_receiver.url
    )
    sid = response.json()["sid"]
    wait_until(lambda: len(push_receiver.acknowledged_reports()) == 2)
    first, second = push_receiver.acknowledged_reports()
    assert first == second and first["sid"] == sid
    # The simulator counts a push once its answer is back, a moment after the receiver has it.
    wait_until(lambda: simulator.world.call(sid).push_attempts == 2, timeout=5)
    assert len(push_receiver.pushes) == 2


def test_reordered_pull_page_holds_the_same_reports_out_of_order(make_simulator):
    simulator = make_simulator(fault_reorder=1.0)
    for i in range(20):
        simulator.post("send", mobile=f"1380013{i:04d}", code="1234")
    sids = [call.sid for call in simulator.world.calls()]
    simulator.clock.advance(1)
    page = [report["sid"] for report in simulator.post("pull_status").json()]
    assert page != sids and sorted(page) == sorted(sids)


def test_reordered_push_holds_the_same_reports_out_of_order(make_simulator, push_receiver):
    clock = ManualClock(CHINA_AFTERNOON)  # frozen, so all ten come due in one push
    simulator = make_simulator(clock=clock, fault_reorder=1.0, push_url=push_receiver.url)
    for i in range(10):
        simulator.post("send", mobile=f"1380013{i:04d}", code="1234")
    sids = [call.sid for call in simulator.world.calls()]
    clock.advance(1)
    [push] = wait_until(lambda: push_receiver.pushes)
    pushed = [report["sid"] for report in push.reports()]
    assert pushed != sids and sorted(pushed) == sorted(sids)
