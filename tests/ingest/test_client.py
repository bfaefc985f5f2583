"""The Yunpian client against the simulator, over real HTTP on 127.0.0.1."""

from __future__ import annotations

import re
import time
from datetime import timedelta

import httpx
import pytest

from ingest.yunpian.client import MalformedAnswer, Unreachable, VoiceClient, YunpianError
from ingest.yunpian.codes import Category
from ingest.yunpian.reports import CHINA
from tests.servers import free_port


@pytest.fixture
def client(simulator):
    with VoiceClient(simulator.url, simulator.apikey, backoff=0.01) as client:
        yield client


def rejection(call) -> YunpianError:
    with pytest.raises(YunpianError) as caught:
        call()
    return caught.value


def test_accepted_send_answers_count_fee_and_a_32_hex_sid(client):
    result = client.send("15205201314", "1234")
    assert (result.count, result.fee) == (1, 1)
    assert re.fullmatch(r"[0-9a-f]{32}", result.sid)


@pytest.mark.parametrize(
    ("mobile", "code", "expected", "status", "category"),
    [
        ("15205201314", "12", 2, 400, Category.INPUT),
        ("15205201314", "12a4", 2, 400, Category.INPUT),
        ("1520520", "1234", 2, 400, Category.INPUT),
    ],
)
def test_bad_input_is_a_typed_error(client, mobile, code, expected, status, category):
    error = rejection(lambda: client.send(mobile, code))
    assert (error.code, error.http_status, error.category) == (expected, status, category)
    assert error.detail


def test_unknown_apikey_is_an_auth_error_that_never_shows_the_key(simulator):
    wrong_key = "f" * 32
    with VoiceClient(simulator.url, wrong_key) as client:
        error = rejection(lambda: client.send("15205201314", "1234"))
        assert (error.code, error.http_status, error.category) == (-1, 401, Category.AUTH)
        assert wrong_key not in str(error) + repr(error) + repr(client)


def test_same_code_twice_within_30s_is_throttled_then_allowed(client, simulator):
    client.send("15205201314", "5678")
    error = rejection(lambda: client.send("15205201314", "5678"))
    assert (error.code, error.throttled) == (8, True)
    assert client.send("15205201314", "9999").sid  # other content is not throttled
    simulator.clock.advance(31)
    assert client.send("15205201314", "5678").sid


def test_fourth_same_code_within_5_minutes_is_throttled_until_the_window_passes(client, simulator):
    for _ in range(3):
        client.send("13800138000", "4321")
        simulator.clock.advance(31)
    error = rejection(lambda: client.send("13800138000", "4321"))
    assert (error.code, error.throttled) == (9, True)
    simulator.clock.advance(5 * 60 - 3 * 31 + 1)
    assert client.send("13800138000", "4321").sid


def test_balance_runs_out_with_code_3(make_simulator):
    simulator = make_simulator(balance=2)
    with VoiceClient(simulator.url, simulator.apikey) as client:
        client.send("15205201314", "1111")
        client.send("15205201315", "1111")
        error = rejection(lambda: client.send("15205201316", "1111"))
    assert (error.code, error.category) == (3, Category.BALANCE)


def test_pull_pages_hand_each_report_out_once(client, simulator):
    sent = {client.send(f"1380013{i:04d}", "2468").sid for i in range(150)}
    simulator.clock.advance(120)
    pages = [client.pull_status(100), client.pull_status(100), client.pull_status(100)]
    assert [len(page) for page in pages] == [100, 50, 0]
    assert {report.sid for page in pages for report in page} == sent


def test_report_times_are_aware_utc_matching_the_ground_truth(client, simulator):
    sid = client.send("15205201314", "1357").sid
    simulator.clock.advance(120)
    [report] = client.pull_status()
    truth = next(
        call
        for call in httpx.get(f"{simulator.url}/_sim/calls").json()["calls"]
        if call["sid"] == sid
    )
    assert report.user_receive_time.utcoffset() == timedelta(0)
    assert report.status == truth["report"]["report_status"]
    assert (
        report.user_receive_time.astimezone(CHINA).strftime("%Y-%m-%d %H:%M:%S")
        == (truth["report"]["user_receive_time"])
    )


def test_voice_notification_from_a_template(client):
    assert client.tpl_notify("15205201314", 1136, {"name": "深度学习", "time": "14:00"}).sid
    error = rejection(lambda: client.tpl_notify("15205201314", 9999, "name=x"))
    assert error.code == 5


def test_truncated_answer_is_an_error_not_a_crash(make_simulator):
    simulator = make_simulator(fault_malformed=1.0)
    with VoiceClient(simulator.url, simulator.apikey) as client, pytest.raises(MalformedAnswer):
        client.send("15205201314", "1234")


def test_unreachable_endpoint_is_an_error_without_the_apikey():
    key = "a" * 32
    with VoiceClient(f"http://127.0.0.1:{free_port()}", key, backoff=0.01) as client:
        error = rejection(lambda: client.send("15205201314", "1234"))
    assert isinstance(error, Unreachable) and error.code is None
    assert key not in str(error)


def test_send_is_not_repeated_after_a_timeout(make_simulator):
    simulator = make_simulator(fault_latency=1.0)
    with VoiceClient(
        simulator.url, simulator.apikey, timeout=0.3, connect_retries=3, backoff=0.01
    ) as client:
        started = time.monotonic()
        with pytest.raises(Unreachable):
            client.send("15205201314", "1234")
        elapsed = time.monotonic() - started
    # Four attempts would take >= 1.27 s (timeouts and backoff); one times out after 0.3 s.
    assert elapsed < 1.1


def test_region_names_pick_yunpians_hosts():
    assert VoiceClient("cn", "k" * 32).base_url == "https://voice.yunpian.com"
    assert VoiceClient("us", "k" * 32).base_url == "https://us.yunpian.com"
