"""Push delivery to a real local receiver, in Yunpian's format, with retries."""

from __future__ import annotations

from itertools import pairwise
from urllib.parse import parse_qs

from tests.servers import wait_until


def send(simulator, mobile: str = "15205201314", code: str = "1234", **extra: str) -> str:
    response = simulator.post("send", mobile=mobile, code=code, **extra)
    assert response.status_code == 200, response.text
    return response.json()["sid"]


def test_report_is_pushed_to_the_callback_url_as_a_url_encoded_json_array(simulator, push_receiver):
    sid = send(simulator, callback_url=push_receiver.url, uid="u-7")
    [push] = wait_until(lambda: push_receiver.pushes)
    assert push.content_type.startswith("application/x-www-form-urlencoded")
    form = parse_qs(push.body.decode("ascii"), strict_parsing=True)
    assert list(form) == ["voice_status"]  # one field, and nothing else
    [report] = push.reports()
    assert report == simulator.world.call(sid).report
    assert (report["sid"], report["uid"]) == (sid, "u-7")


def test_pushed_reports_are_still_pullable(simulator, push_receiver):
    sid = send(simulator, callback_url=push_receiver.url)
    wait_until(lambda: push_receiver.pushes)
    assert [r["sid"] for r in simulator.post("pull_status").json()] == [sid]


def test_account_wide_push_url_takes_reports_without_a_callback_url(make_simulator, push_receiver):
    simulator = make_simulator(push_url=push_receiver.url)
    sid = send(simulator)
    wait_until(lambda: push_receiver.acknowledged_reports())
    assert [r["sid"] for r in push_receiver.acknowledged_reports()] == [sid]


def test_sends_without_any_push_address_are_only_pulled(simulator):
    sid = send(simulator)
    wait_until(lambda: simulator.world.call(sid).due)
    assert simulator.world.call(sid).push_url is None
    assert simulator.world.call(sid).push_attempts == 0


def test_many_reports_are_pushed_in_batches_of_at_most_the_batch_size(
    make_simulator, push_receiver
):
    simulator = make_simulator(push_url=push_receiver.url, push_batch_size=5)
    clock = simulator.clock
    sids = [send(simulator, mobile=f"1380013{i:04d}") for i in range(12)]
    clock.advance(1)  # all due at once
    wait_until(lambda: len(push_receiver.acknowledged_reports()) == 12)
    sizes = [len(push.reports()) for push in push_receiver.pushes]
    # Batched, never above the size; how the 12 split depends on when the pusher wakes
    # ([2, 5, 5] on a quiet machine, [1, 1, 5, 5] seen under load).
    assert max(sizes) == 5 and sum(sizes) == 12, sizes
    assert sorted(r["sid"] for r in push_receiver.acknowledged_reports()) == sorted(sids)


def test_push_is_retried_until_acknowledged(simulator, push_receiver):
    push_receiver.fail_first = 2
    sid = send(simulator, callback_url=push_receiver.url)
    wait_until(lambda: simulator.world.call(sid).push_acknowledged)
    assert [push.acknowledged for push in push_receiver.pushes] == [False, False, True]
    assert {push.body for push in push_receiver.pushes} == {push_receiver.pushes[0].body}
    assert simulator.world.call(sid).push_attempts == 3


def test_zero_is_accepted_as_an_acknowledgement(simulator, push_receiver):
    push_receiver.answer = "0"
    sid = send(simulator, callback_url=push_receiver.url)
    wait_until(lambda: simulator.world.call(sid).push_acknowledged)
    assert len(push_receiver.pushes) == 1


def test_other_answers_are_not_acknowledgements_and_retries_give_up(make_simulator, push_receiver):
    simulator = make_simulator(push_max_attempts=3)
    push_receiver.answer = "OK"
    sid = send(simulator, callback_url=push_receiver.url)
    wait_until(lambda: simulator.world.call(sid).push_gave_up)
    call = simulator.world.call(sid)
    assert (call.push_attempts, call.push_acknowledged) == (3, False)
    assert len(push_receiver.pushes) == 3


def test_retry_waits_grow(make_simulator, push_receiver):
    simulator = make_simulator(push_max_attempts=4, push_retry_base=0.1)
    push_receiver.fail_first = 4
    sid = send(simulator, callback_url=push_receiver.url)
    wait_until(lambda: simulator.world.call(sid).push_gave_up)
    arrivals = [push.received_at for push in push_receiver.pushes]
    gaps = [later - earlier for earlier, later in pairwise(arrivals)]
    assert len(gaps) == 3
    assert gaps[0] >= 0.1 and gaps[1] >= 0.2 and gaps[2] >= 0.4


def test_unreachable_push_address_is_retried_and_reports_stay_pullable(make_simulator):
    simulator = make_simulator(push_max_attempts=2)
    sid = send(simulator, callback_url="http://127.0.0.1:9/push")  # discard port: refused
    wait_until(lambda: simulator.world.call(sid).push_gave_up)
    assert simulator.world.call(sid).push_attempts == 2
    assert [r["sid"] for r in simulator.post("pull_status").json()] == [sid]
