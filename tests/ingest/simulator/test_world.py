"""The simulated world on its own, without HTTP: outcomes, determinism, timing, quiet hours."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from ingest.numbers import describe
from ingest.simulator import QUIET_HOURS_REJECTION, ManualClock, SimulatorConfig, World
from ingest.simulator.records import CHINA, Accepted, Rejection
from ingest.simulator.traffic import random_number
from tests.fixtures.simulator import CHINA_AFTERNOON, TEST_APIKEY


def make_world(clock: ManualClock | None = None, **overrides: object) -> World:
    settings = {"apikey": TEST_APIKEY, "seed": 7, "call_delay": 10.0, "balance": 10**7, **overrides}
    return World(SimulatorConfig(**settings), clock or ManualClock(CHINA_AFTERNOON))


def send(world: World, mobile: str, code: str = "1234", **extra: str) -> Accepted | Rejection:
    return world.send({"apikey": TEST_APIKEY, "mobile": mobile, "code": code, **extra})


def pull_all(world: World, kind: str = "1") -> list[dict[str, object]]:
    reports = []
    while page := world.pull_status({"apikey": TEST_APIKEY, "page_size": "100", "type": kind}):
        assert isinstance(page, list)
        reports += page
    return reports


def test_answer_rates_follow_the_carrier():
    rng = random.Random(1)
    world = make_world()
    forms = {"China Mobile": ("138", 8), "fixed line": ("0105", 7), "foreign": ("+8190", 8)}
    answered = {}
    for kind, (prefix, digits) in forms.items():
        numbers = [prefix + f"{rng.randrange(10**digits):0{digits}d}" for _ in range(1500)]
        sids = [send(world, number).sid for number in numbers]
        answered[kind] = sum(world.call(sid).outcome.answered for sid in sids) / len(sids)
    assert 0.81 < answered["China Mobile"] < 0.89
    assert 0.58 < answered["fixed line"] < 0.72
    assert answered["foreign"] < answered["fixed line"] + 0.05
    assert answered["foreign"] < answered["China Mobile"] - 0.1


def test_failed_calls_carry_a_reason_and_no_duration_answered_ones_the_opposite():
    world = make_world()
    calls = [world.call(send(world, f"1391234{i:04d}").sid) for i in range(300)]
    failed = [c for c in calls if not c.outcome.answered]
    answered = [c for c in calls if c.outcome.answered]
    assert failed and answered
    assert all(c.report["duration"] == 0 and c.report["error_msg"] for c in failed)
    assert {c.report["report_status"] for c in failed} == {"FAIL"}
    assert all(8 <= c.report["duration"] <= 40 and c.report["error_msg"] is None for c in answered)
    assert {c.report["report_status"] for c in answered} == {"SUCCESS"}
    assert len({c.report["error_msg"] for c in failed}) >= 4  # a realistic spread of reasons


def test_unassigned_number_of_the_right_shape_is_accepted_and_reported_as_empty():
    world = make_world()
    sid = send(world, "10000000000").sid
    assert world.call(sid).report["error_msg"] == "空号"


def test_same_seed_gives_the_same_sids_and_outcomes():
    def run() -> list[tuple[str, str]]:
        world = make_world()
        return [
            (c.sid, c.outcome.report_status)
            for c in (world.call(send(world, f"1501234{i:04d}").sid) for i in range(50))
        ]

    first, second = run(), run()
    assert first == second
    assert all(len(sid) == 32 and int(sid, 16) >= 0 for sid, _ in first)


def test_reports_are_not_pullable_before_the_call_delay_then_show_china_time():
    clock = ManualClock(CHINA_AFTERNOON)
    world = make_world(clock, call_delay=10.0)
    sid = send(world, "15205201314", uid="order-1").sid
    clock.advance(9.9)
    assert pull_all(world) == []
    clock.advance(0.2)
    [report] = pull_all(world)
    assert report == {
        "sid": sid,
        "uid": "order-1",
        "user_receive_time": "2024-05-14 14:00:10",
        "duration": report["duration"],
        "error_msg": report["error_msg"],
        "mobile": "15205201314",
        "report_status": report["report_status"],
    }
    assert list(report) == [
        "sid",
        "uid",
        "user_receive_time",
        "duration",
        "error_msg",
        "mobile",
        "report_status",
    ]


def test_realistic_call_ends_after_8_to_45_s_of_ringing_plus_the_answered_call():
    world = make_world(call_delay=None)
    calls = [world.call(send(world, f"1361234{i:04d}").sid) for i in range(200)]
    rings = [(c.due_at - c.accepted_at).total_seconds() - c.outcome.duration for c in calls]
    assert min(rings) >= 8 and max(rings) <= 45
    assert max(rings) - min(rings) > 20


def test_a_call_never_ends_sooner_after_its_send_than_it_lasted():
    """No "sent 14:03:42, call ended 14:03:57, lasted 40 s": user_receive_time is the end."""
    world = make_world(call_delay=None)
    calls = [world.call(send(world, f"1361234{i:04d}").sid) for i in range(200)]
    assert any(c.outcome.duration for c in calls)
    assert all((c.due_at - c.accepted_at).total_seconds() >= c.outcome.duration for c in calls)


@pytest.mark.parametrize(
    ("china_time", "refused"),
    [
        ("21:59:59", False),
        ("22:00:00", True),
        ("03:00:00", True),
        ("07:29:59", True),
        ("07:30:00", False),
    ],
)
def test_quiet_hours_refuse_domestic_voice_codes_from_22_00_to_07_30(china_time, refused):
    hour, minute, second = map(int, china_time.split(":"))
    world = make_world(ManualClock(datetime(2024, 5, 14, hour, minute, second, tzinfo=CHINA)))
    result = send(world, "15205201314")
    assert (result == QUIET_HOURS_REJECTION) is refused


def test_quiet_hours_spare_foreign_numbers_and_notifications():
    world = make_world(ManualClock(datetime(2024, 5, 14, 15, 0, tzinfo=UTC)))  # 23:00 China
    assert isinstance(send(world, "+819012345678"), Accepted)
    assert send(world, "01088880000") == QUIET_HOURS_REJECTION  # fixed lines are domestic too
    notify = {"apikey": TEST_APIKEY, "mobile": "15205201314", "tpl_id": "1136", "tpl_value": "a=b"}
    assert isinstance(world.tpl_notify(notify), Accepted)


def test_the_quiet_hours_switch_turns_them_off():
    world = make_world(ManualClock(datetime(2024, 5, 14, 15, 0, tzinfo=UTC)), quiet_hours=False)
    assert isinstance(send(world, "15205201314"), Accepted)


def test_traffic_numbers_are_ones_the_world_accepts():
    rng = random.Random(3)
    world = make_world()
    numbers = [random_number(rng) for _ in range(300)]
    assert all(isinstance(send(world, n), Accepted) for n in numbers)
    carriers = {describe(n).carrier for n in numbers}
    assert {"China Mobile", "China Unicom", "China Telecom", "fixed line"} <= carriers
    assert any(not describe(n).domestic for n in numbers)
