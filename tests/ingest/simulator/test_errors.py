"""Every refusal the simulator makes, over real HTTP: Yunpian's status, code, msg and detail."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import quote

import httpx
import pytest

from ingest.simulator.records import CHINA
from ingest.yunpian.codes import lookup

SEND = {"mobile": "15205201314", "code": "1234"}
NOTIFY = {"mobile": "15205201314", "tpl_id": "1136", "tpl_value": "name=a&time=b"}


def assert_error(response: httpx.Response, code: int, status: int | None = None) -> dict:
    status = status or lookup(code).http_status
    body = response.json()
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json;charset=utf-8"
    assert list(body) == ["http_status_code", "code", "msg", "detail"]
    assert (body["http_status_code"], body["code"], body["msg"]) == (status, code, lookup(code).msg)
    assert body["detail"]
    return body


def test_bad_code_is_code_2_with_yunpians_exact_wording(simulator):
    response = simulator.post("send", mobile="15205201314", code="12a4")
    assert response.status_code == 400
    assert response.content.decode("utf-8") == (
        '{"http_status_code":400,"code":2,"msg":"请求参数格式错误",'
        '"detail":"参数 code 格式不正确，code必须为4至6位阿拉伯数字"}'
    )


@pytest.mark.parametrize("code", ["123", "1234567", "12 34", "１２３４", "-1234", "12.4"])
def test_codes_other_than_4_to_6_ascii_digits_are_refused(simulator, code):
    assert_error(simulator.post("send", mobile="15205201314", code=code), 2)


@pytest.mark.parametrize("code", ["0000", "12345", "987654"])
def test_codes_of_4_to_6_digits_are_accepted(simulator, code):
    assert simulator.post("send", mobile="15205201314", code=code).json()["count"] == 1


@pytest.mark.parametrize(
    ("endpoint", "form", "missing"),
    [
        ("send", {**SEND, "apikey": None}, "apikey"),
        ("send", {**SEND, "mobile": None}, "mobile"),
        ("send", {**SEND, "code": ""}, "code"),
        ("tpl_notify", {**NOTIFY, "tpl_id": None}, "tpl_id"),
        ("tpl_notify", {**NOTIFY, "tpl_value": None}, "tpl_value"),
        ("pull_status", {"apikey": None}, "apikey"),
    ],
)
def test_missing_required_parameter_is_code_1_naming_it(simulator, endpoint, form, missing):
    body = assert_error(simulator.post(endpoint, **form), 1)
    assert missing in body["detail"]


def test_missing_apikey_is_reported_before_anything_else(simulator):
    body = assert_error(simulator.post("send", apikey=None, code="bad"), 1)
    assert "apikey" in body["detail"]


@pytest.mark.parametrize("endpoint", ["send", "tpl_notify", "pull_status"])
def test_unknown_apikey_is_code_minus_1_with_http_401(simulator, endpoint):
    form = {"send": SEND, "tpl_notify": NOTIFY, "pull_status": {}}[endpoint]
    assert_error(simulator.post(endpoint, apikey="f" * 32, **form), -1, 401)


@pytest.mark.parametrize(
    ("endpoint", "form", "named"),
    [
        ("send", {**SEND, "mobile": "1520520131"}, "mobile"),
        ("send", {**SEND, "mobile": "15205201314,13800138000"}, "mobile"),
        ("send", {**SEND, "mobile": "+8"}, "mobile"),
        ("send", {**SEND, "mobile": "+93701234567", "language": "xx"}, "language"),
        ("send", {**SEND, "callback_url": "ftp://example.com/"}, "callback_url"),
        ("tpl_notify", {**NOTIFY, "tpl_id": "abc"}, "tpl_id"),
        ("tpl_notify", {**NOTIFY, "tpl_value": "no-pairs"}, "tpl_value"),
        ("tpl_notify", {**NOTIFY, "mobile": "12"}, "mobile"),
        ("pull_status", {"page_size": "0"}, "page_size"),
        ("pull_status", {"page_size": "101"}, "page_size"),
        ("pull_status", {"page_size": "ten"}, "page_size"),
        ("pull_status", {"type": "3"}, "type"),
    ],
)
def test_malformed_parameter_is_code_2_naming_it(simulator, endpoint, form, named):
    body = assert_error(simulator.post(endpoint, **form), 2)
    assert body["detail"].startswith(f"参数 {named} 格式不正确")


def test_supported_language_for_a_foreign_number_is_accepted(simulator):
    response = simulator.post("send", mobile="+93701234567", code="1234", language="en")
    assert response.json()["count"] == 1


def test_unknown_template_is_code_5(simulator):
    assert_error(simulator.post("tpl_notify", **{**NOTIFY, "tpl_id": "999"}), 5)


def test_balance_below_the_fee_is_code_3_and_refusals_cost_nothing(make_simulator):
    simulator = make_simulator(balance=2)
    assert simulator.post("send", mobile="15205201314", code="1111").status_code == 200
    assert_error(simulator.post("send", mobile="15205201314", code="1111"), 8)  # not charged
    assert_error(simulator.post("send", mobile="1", code="1111"), 2)  # not charged
    assert simulator.post("send", mobile="15205201315", code="1111").status_code == 200
    assert_error(simulator.post("send", mobile="15205201316", code="1111"), 3)
    assert_error(simulator.post("tpl_notify", **NOTIFY), 3)
    state = simulator.state()
    assert (state["balance"], state["calls"], state["rejected"]) == (0, 2, 4)


def test_fee_is_a_json_integer_when_whole_and_a_decimal_otherwise(make_simulator):
    assert make_simulator().post("send", **SEND).json()["fee"] == 1
    assert isinstance(make_simulator().post("send", **SEND).json()["fee"], int)
    cheap = make_simulator(fee=0.05, balance=1)
    assert cheap.post("send", **SEND).json()["fee"] == 0.05
    assert cheap.state()["balance"] == 0.95


def test_send_in_quiet_hours_is_code_minus_53_with_http_400(simulator):
    simulator.clock.set(datetime(2024, 5, 14, 23, 0, tzinfo=CHINA))
    body = assert_error(simulator.post("send", **SEND), -53, 400)
    assert "22:00" in body["detail"] and "07:30" in body["detail"]


@pytest.mark.parametrize("endpoint", ["send", "pull_status", "tpl_notify"])
def test_get_is_code_11(simulator, endpoint):
    assert_error(httpx.get(f"{simulator.url}/v2/voice/{endpoint}.json"), 11, 400)


def test_unknown_path_is_a_404_in_yunpians_json_shape(simulator):
    response = httpx.post(f"{simulator.url}/v2/voice/nope.json", data={"apikey": simulator.apikey})
    assert response.status_code == 404
    assert response.json()["http_status_code"] == 404
    assert response.json()["code"] != 0  # the official SDK must see a failure


def test_body_that_does_not_decode_in_its_charset_is_code_14(simulator):
    body = f"apikey={simulator.apikey}&mobile=15205201314&code=1234&uid=%FF%FE"
    response = httpx.post(
        f"{simulator.url}/v2/voice/send.json",
        content=body,
        headers={"Content-Type": "application/x-www-form-urlencoded;charset=utf-8"},
    )
    assert_error(response, 14)


def test_body_in_a_declared_charset_other_than_utf_8_is_decoded_with_it(simulator):
    uid = quote("订单7", encoding="gbk")
    response = httpx.post(
        f"{simulator.url}/v2/voice/send.json",
        content=f"apikey={simulator.apikey}&mobile=15205201314&code=1234&uid={uid}",
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=GBK"},
    )
    assert simulator.world.call(response.json()["sid"]).uid == "订单7"


def test_every_refusal_is_in_the_ground_truth_without_the_code(simulator):
    simulator.post("send", mobile="15205201314", code="12a4")
    simulator.post("send", apikey="f" * 32, **SEND)
    simulator.post("tpl_notify", **{**NOTIFY, "tpl_id": "999"})
    rejected = simulator.ground_truth()["rejected"]
    assert [(r["endpoint"], r["mobile"], r["code"]) for r in rejected] == [
        ("send", "15205201314", 2),
        ("send", "15205201314", -1),
        ("tpl_notify", "15205201314", 5),
    ]
    assert all(set(r) == {"at", "endpoint", "mobile", "code", "detail"} for r in rejected)
