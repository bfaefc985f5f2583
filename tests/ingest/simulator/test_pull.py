"""pull_status over HTTP: paging, once-only delivery, oldest first, one queue per type."""

from __future__ import annotations

from ingest.simulator import ManualClock
from ingest.simulator.records import CHINA
from tests.fixtures.simulator import CHINA_AFTERNOON
from tests.servers import wait_until


def send_many(simulator, count: int) -> list[str]:
    return [
        simulator.post("send", mobile=f"1380013{i:04d}", code="2468").json()["sid"]
        for i in range(count)
    ]


def pull(simulator, **form: str) -> list[dict]:
    response = simulator.post("pull_status", **form)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json;charset=utf-8"
    return response.json()


def test_pull_pages_hand_each_report_out_once_oldest_first(simulator):
    sids = send_many(simulator, 45)
    simulator.clock.advance(1)
    pages = [pull(simulator), pull(simulator), pull(simulator), pull(simulator)]
    assert [len(page) for page in pages] == [20, 20, 5, 0]  # page_size defaults to 20
    assert [report["sid"] for page in pages for report in page] == sids


def test_page_size_up_to_100(simulator):
    send_many(simulator, 130)
    simulator.clock.advance(1)
    assert [len(pull(simulator, page_size="100")), len(pull(simulator, page_size="100"))] == [
        100,
        30,
    ]


def test_empty_queue_answers_an_empty_array(simulator):
    response = simulator.post("pull_status")
    assert response.content == b"[]"


def test_reports_wait_for_the_call_to_end(make_simulator):
    clock = ManualClock(CHINA_AFTERNOON)  # frozen: nothing comes due on its own
    simulator = make_simulator(clock=clock, call_delay=20.0)
    send_many(simulator, 3)
    assert pull(simulator) == []
    clock.advance(19)
    assert pull(simulator) == []
    clock.advance(1)
    assert len(pull(simulator)) == 3


def test_code_reports_and_notification_reports_are_pulled_by_type(simulator):
    [code_sid] = send_many(simulator, 1)
    form = {"mobile": "15205201314", "tpl_id": "1136", "tpl_value": "name=a&time=b"}
    notify_sid = simulator.post("tpl_notify", **form).json()["sid"]
    simulator.clock.advance(1)
    assert [r["sid"] for r in pull(simulator, type="2")] == [notify_sid]
    assert [r["sid"] for r in pull(simulator, type="1")] == [code_sid]
    assert pull(simulator, type="2") == pull(simulator, type="1") == []


def test_report_says_what_happened_to_the_call_as_the_ground_truth_does(simulator):
    sid = simulator.post("send", mobile="15205201314", code="1234", uid="u-42").json()["sid"]
    wait_until(lambda: simulator.world.call(sid).due)  # the clock ticks: 0.05 s later
    [report] = pull(simulator)
    truth = simulator.world.call(sid)
    assert report == truth.report
    assert (report["sid"], report["uid"], report["mobile"]) == (sid, "u-42", "15205201314")
    due_in_china = truth.due_at.astimezone(CHINA).strftime("%Y-%m-%d %H:%M:%S")
    assert report["user_receive_time"] == due_in_china
    assert due_in_china.startswith("2024-05-14 14:00:")  # the fixture's afternoon
    assert truth.pulled


def test_uid_is_null_when_not_sent(simulator):
    send_many(simulator, 1)
    simulator.clock.advance(1)
    assert pull(simulator)[0]["uid"] is None


def test_state_shows_balance_and_queue_sizes(simulator):
    send_many(simulator, 3)
    before = simulator.state()
    simulator.clock.advance(1)
    after = simulator.state()
    assert before["balance"] == after["balance"] == simulator.config.balance - 3
    assert after["pull_queue"] == {"1": 3, "2": 0}
    assert after["pending"] == 0 and after["push_outbox"] == 0
