"""Incidents on demand (POST /_sim/faults, `simulate` flags): each one visibly misbehaves,
the control refuses what it does not understand, and clearing it restores normal service."""

from __future__ import annotations

import httpx
import pytest

from ingest.simulator.faults import OUTAGE_ERROR_MSG
from tests.ingest.simulator.test_cli import simulator_process
from tests.servers import wait_until

pytest_plugins = ["tests.fixtures.simulator"]

MOBILE_CM = "13800138000"  # China Mobile, Beijing
MOBILE_CU = "13012345678"  # China Unicom


def faults(simulator, **spec: object) -> httpx.Response:
    return simulator.http.post("/_sim/faults", json=spec)


def report_of(simulator, sid: str) -> dict[str, object]:
    return wait_until(lambda: simulator.world.call(sid).due and simulator.world.call(sid).report)


def test_carrier_outage_fails_its_calls_with_a_realistic_error_and_spares_others(simulator):
    assert faults(simulator, outage={"carriers": ["China Mobile"]}).status_code == 200
    down = simulator.post("send", mobile=MOBILE_CM, code="1234").json()["sid"]
    up = [
        simulator.post("send", mobile=MOBILE_CU, code=f"12{i:02d}").json()["sid"] for i in range(8)
    ]
    assert report_of(simulator, down)["error_msg"] == OUTAGE_ERROR_MSG
    assert report_of(simulator, down)["report_status"] == "FAIL"
    assert any(report_of(simulator, sid)["report_status"] == "SUCCESS" for sid in up)


def test_province_outage_ends_when_cleared(simulator):
    faults(simulator, outage={"provinces": ["Beijing"]})
    failed = simulator.post("send", mobile=MOBILE_CM, code="1234").json()["sid"]
    assert report_of(simulator, failed)["error_msg"] == OUTAGE_ERROR_MSG
    assert faults(simulator, clear=True).json()["outage"] == {"carriers": [], "provinces": []}
    sids = [
        simulator.post("send", mobile=MOBILE_CM, code=f"55{i:02d}").json()["sid"] for i in range(8)
    ]
    assert any(report_of(simulator, sid)["report_status"] == "SUCCESS" for sid in sids)


def test_withheld_reports_are_released_when_the_fault_clears(simulator):
    faults(simulator, reports="withheld")
    sid = simulator.post("send", mobile=MOBILE_CM, code="1234").json()["sid"]
    simulator.clock.advance(3600)
    assert simulator.post("pull_status").json() == []
    faults(simulator, reports="normal")
    assert [r["sid"] for r in simulator.post("pull_status").json()] == [sid]


def test_delayed_reports_come_due_after_the_delay(simulator):
    faults(simulator, reports="delayed", report_delay=300)
    simulator.post("send", mobile=MOBILE_CM, code="1234")
    simulator.clock.advance(60)
    assert simulator.post("pull_status").json() == []
    simulator.clock.advance(300)
    assert len(simulator.post("pull_status").json()) == 1


def test_pull_5xx_answers_yunpian_shaped_errors_and_keeps_the_reports(simulator):
    simulator.post("send", mobile=MOBILE_CM, code="1234")
    faults(simulator, pull="5xx")
    simulator.clock.advance(1)
    response = simulator.post("pull_status")
    assert response.status_code == 500 and response.json()["code"] == -51
    faults(simulator, pull="normal")
    assert len(simulator.post("pull_status").json()) == 1


def test_stalled_pull_hangs_past_the_client_timeout_and_loses_nothing(simulator):
    simulator.post("send", mobile=MOBILE_CM, code="1234")
    simulator.clock.advance(1)
    faults(simulator, pull="stall")
    with pytest.raises(httpx.ReadTimeout):
        simulator.http.post(
            "/v2/voice/pull_status.json", data={"apikey": simulator.apikey}, timeout=0.5
        )
    faults(simulator, pull="normal")
    assert len(simulator.post("pull_status").json()) == 1


def test_unreachable_api_times_out_every_endpoint_without_charging(simulator):
    faults(simulator, unreachable=True)
    for path in ("/v2/voice/send.json", "/v2/user/get.json"):
        with pytest.raises(httpx.ReadTimeout):
            simulator.http.post(
                path,
                data={"apikey": simulator.apikey, "mobile": MOBILE_CM, "code": "1234"},
                timeout=0.5,
            )
    faults(simulator, unreachable=False)
    assert simulator.state()["calls"] == 0
    assert simulator.post("send", mobile=MOBILE_CM, code="1234").status_code == 200


def test_user_get_answers_the_balance_and_follows_balance_changes(simulator):
    response = simulator.http.post("/v2/user/get.json", data={"apikey": simulator.apikey})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json;charset=utf-8"
    assert response.json()["balance"] == simulator.config.balance
    faults(simulator, balance=2)
    assert (
        simulator.http.post("/v2/user/get.json", data={"apikey": simulator.apikey}).json()[
            "balance"
        ]
        == 2
    )
    simulator.post("send", mobile=MOBILE_CM, code="1234")
    simulator.post("send", mobile=MOBILE_CU, code="1234")
    refused = simulator.post("send", mobile="13912345678", code="1234")
    assert refused.json()["code"] == 3


def test_user_get_with_a_wrong_apikey_is_refused(simulator):
    response = simulator.http.post("/v2/user/get.json", data={"apikey": "x" * 32})
    assert response.json()["code"] == -1


@pytest.mark.parametrize(("mode", "code", "status"), [("apikey", -1, 401), ("ip", -3, 403)])
def test_refused_auth_refuses_every_endpoint_until_cleared(simulator, mode, code, status):
    faults(simulator, auth=mode)
    for name in ("send", "pull_status"):
        response = simulator.post(name, mobile=MOBILE_CM, code="1234")
        assert (response.status_code, response.json()["code"]) == (status, code)
    user = simulator.http.post("/v2/user/get.json", data={"apikey": simulator.apikey})
    assert user.json()["code"] == code
    assert simulator.state()["calls"] == 0
    faults(simulator, auth="normal")
    assert simulator.post("send", mobile=MOBILE_CM, code="1234").status_code == 200


def test_quiet_hours_on_demand_refuse_domestic_codes_in_the_afternoon(simulator):
    faults(simulator, quiet_hours=True)
    refused = simulator.post("send", mobile=MOBILE_CM, code="1234")
    assert (refused.status_code, refused.json()["code"]) == (400, -53)
    assert simulator.post("send", mobile="+14155550123", code="1234").status_code == 200
    faults(simulator, quiet_hours=False)
    assert simulator.post("send", mobile=MOBILE_CU, code="1234").status_code == 200


def test_rate_limiting_refuses_its_share_of_sends_with_code_minus_5(simulator):
    faults(simulator, rate_limited=0.5)
    answers = [
        simulator.post("send", mobile=f"1380013{i:04d}", code="1234").json() for i in range(40)
    ]
    refused = [a for a in answers if a.get("code") == -5]
    assert 5 < len(refused) < 35 and refused[0]["msg"] == "访问频率超限"
    assert simulator.state()["calls"] == 40 - len(refused)
    faults(simulator, rate_limited=0)
    assert simulator.post("send", mobile=MOBILE_CM, code="1234").status_code == 200


def test_a_raised_fee_is_charged_per_call_until_cleared(simulator):
    assert faults(simulator, fee=5).json()["fee"] == 5
    assert simulator.post("send", mobile=MOBILE_CM, code="1234").json()["fee"] == 5
    assert simulator.state()["balance"] == simulator.config.balance - 5
    faults(simulator, fee=None)
    assert simulator.post("send", mobile=MOBILE_CU, code="1234").json()["fee"] == 1
    assert simulator.state()["balance"] == simulator.config.balance - 6


@pytest.mark.parametrize(
    "spec",
    [
        {"reports": "sometimes"},
        {"pull": "slow"},
        {"unreachable": "yes"},
        {"auth": "maybe"},
        {"quiet_hours": 1},
        {"rate_limited": 2},
        {"fee": -1},
        {"balance": -5},
        {"balance": True},
        {"outage": {"carriers": "China Mobile"}},
        {"outage": {"cities": ["x"]}},
        {"meteor": True},
        [1, 2],
    ],
)
def test_fault_requests_it_does_not_understand_are_refused_and_change_nothing(simulator, spec):
    response = simulator.http.post("/_sim/faults", json=spec)
    assert response.status_code == 400 and response.json()["error"]
    state = simulator.http.get("/_sim/faults").json()
    assert state["reports"] == "normal" and state["unreachable"] is False
    assert state["balance"] == simulator.config.balance


def test_fault_body_that_is_not_json_is_refused(simulator):
    response = simulator.http.post("/_sim/faults", content=b"\xff\xfe{")
    assert response.status_code == 400


def test_faults_are_switched_from_loopback_only(simulator):
    from starlette.testclient import TestClient

    # TestClient presents itself as host "testclient": a remote caller, as far as the app knows.
    with TestClient(simulator.server.server.config.app, client=("10.0.0.7", 5000)) as remote:
        response = remote.post("/_sim/faults", json={"unreachable": True})
    assert response.status_code == 403
    assert simulator.http.get("/_sim/faults").json()["unreachable"] is False


def test_attacks_are_switched_from_loopback_only(simulator):
    from starlette.testclient import TestClient

    with TestClient(simulator.server.server.config.app, client=("10.0.0.7", 5000)) as remote:
        form = {"scenario": "bombing", "target": "http://198.51.100.1"}
        assert remote.post("/_sim/attack", data=form).status_code == 403
    assert simulator.http.get("/_sim/attack").json()["scenario"] == "off"


def test_simulate_flags_start_the_simulator_with_an_outage():
    with simulator_process("--outage-carrier", "China Mobile", "--pull-fault", "5xx") as (url, _):
        state = httpx.get(f"{url}/_sim/faults").json()
    assert state["outage"]["carriers"] == ["China Mobile"] and state["pull"] == "5xx"


def test_simulate_flags_start_the_simulator_refusing_sends():
    flags = ("--auth-fault", "ip", "--quiet-hours-now", "--rate-limited", "0.25", "--fee", "3")
    with simulator_process(*flags) as (url, _):
        state = httpx.get(f"{url}/_sim/faults").json()
        sim = httpx.get(f"{url}/_sim/state").json()
    assert (state["auth"], state["quiet_hours"], state["rate_limited"]) == ("ip", True, 0.25)
    assert sim["fee"] == 3
