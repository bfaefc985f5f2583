"""Harassment prevention per number and content, driven by the simulator's ManualClock."""

from __future__ import annotations


def send(simulator, mobile: str = "15205201314", code: str = "1234") -> int:
    """The return code Yunpian answers (0 when the call was placed)."""
    return simulator.post("send", mobile=mobile, code=code).json().get("code", 0)


def test_second_send_of_the_same_code_within_30s_is_code_8(simulator):
    assert send(simulator) == 0
    simulator.clock.advance(29)
    assert send(simulator) == 8


def test_same_code_is_allowed_again_after_30s(simulator):
    assert send(simulator) == 0
    simulator.clock.advance(30)
    assert send(simulator) == 0


def test_fourth_same_code_within_5_minutes_is_code_9(simulator):
    for _ in range(3):
        assert send(simulator) == 0
        simulator.clock.advance(31)
    assert send(simulator) == 9


def test_fourth_same_code_is_allowed_once_the_first_leaves_the_5_minute_window(simulator):
    for _ in range(3):
        assert send(simulator) == 0
        simulator.clock.advance(31)
    simulator.clock.advance(5 * 60 - 3 * 31)
    assert send(simulator) == 0


def test_a_different_code_to_the_same_number_is_not_throttled(simulator):
    assert send(simulator, code="1234") == 0
    assert send(simulator, code="5678") == 0
    assert send(simulator, mobile="13800138000", code="1234") == 0


def test_throttled_sends_do_not_count_toward_the_windows(simulator):
    assert send(simulator) == 0
    for _ in range(5):
        simulator.clock.advance(5)
        assert send(simulator) == 8
    simulator.clock.advance(31)
    assert send(simulator) == 0  # 2nd counted send
    simulator.clock.advance(31)
    assert send(simulator) == 0  # 3rd: the five refusals did not make it the 4th


def test_notifications_with_the_same_template_and_values_are_throttled_too(simulator):
    form = {"mobile": "15205201314", "tpl_id": "1136", "tpl_value": "name=a&time=b"}
    assert simulator.post("tpl_notify", **form).status_code == 200
    assert simulator.post("tpl_notify", **form).json()["code"] == 8
    assert simulator.post("tpl_notify", **{**form, "tpl_value": "name=a&time=c"}).status_code == 200


def test_hourly_limit_per_number_is_code_22_when_configured(make_simulator):
    simulator = make_simulator(limit_per_hour=2)
    assert [send(simulator, code=c) for c in ("1111", "2222", "3333")] == [0, 0, 22]
    assert send(simulator, mobile="13800138000", code="3333") == 0
    simulator.clock.advance(3601)
    assert send(simulator, code="3333") == 0


def test_daily_limit_per_number_is_code_17_when_configured(make_simulator):
    simulator = make_simulator(limit_per_day=3)
    for code in ("1111", "2222", "3333"):
        assert send(simulator, code=code) == 0
        simulator.clock.advance(2 * 3600)
    assert send(simulator, code="4444") == 17
    simulator.clock.advance(24 * 3600)
    assert send(simulator, code="4444") == 0


def test_no_hourly_or_daily_limit_unless_configured(simulator):
    codes = [f"{i:04d}" for i in range(30)]
    assert {send(simulator, code=code) for code in codes} == {0}
