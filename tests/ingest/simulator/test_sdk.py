"""Yunpian's official Python SDK against the simulator: it works, and fails, as against Yunpian."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from yunpian_python_sdk.ypclient import YunpianClient

from tests.servers import wait_until


def voice(simulator, apikey: str | None = None):
    return YunpianClient(apikey or simulator.apikey, conf={"yp.voice.host": simulator.url}).voice()


def test_sdk_sends_a_voice_code(simulator):
    result = voice(simulator).send({"mobile": "15205201314", "code": "1234"})
    assert result.code() == 0 and result.exception() is None
    data = result.data()
    assert (data["count"], data["fee"], len(data["sid"])) == (1, 1, 32)
    assert simulator.world.call(data["sid"]).mobile == "15205201314"


def test_sdk_pulls_the_report_of_its_send(simulator):
    api = voice(simulator)
    sid = api.send({"mobile": "15205201314", "code": "1234", "uid": "u-1"}).data()["sid"]
    wait_until(lambda: simulator.world.call(sid).due)
    result = api.pull_status({"page_size": 20})
    assert result.code() == 0
    [report] = result.data()
    assert (report["sid"], report["uid"], report["mobile"]) == (sid, "u-1", "15205201314")
    assert report["report_status"] in ("SUCCESS", "FAIL")
    assert api.pull_status().data() == []


def test_sdk_sends_a_voice_notification_and_pulls_it_as_type_2(simulator):
    api = voice(simulator)
    tpl_value = f"{quote('name')}={quote('深度学习')}&{quote('time')}={quote('14:00')}"
    result = api.tpl_notify({"mobile": "15205201314", "tpl_id": 1136, "tpl_value": tpl_value})
    assert result.code() == 0
    sid = result.data()["sid"]
    wait_until(lambda: simulator.world.call(sid).due)
    assert [r["sid"] for r in api.pull_status({"type": 2}).data()] == [sid]


def test_sdk_gets_code_2_for_a_bad_code(simulator):
    result = voice(simulator).send({"mobile": "15205201314", "code": "12a4"})
    assert (result.code(), result.msg()) == (2, "请求参数格式错误")
    assert result.detail() == "参数 code 格式不正确，code必须为4至6位阿拉伯数字"


def test_sdk_gets_code_minus_1_for_an_unknown_apikey(simulator):
    result = voice(simulator, apikey="f" * 32).send({"mobile": "15205201314", "code": "1234"})
    assert (result.code(), result.msg()) == (-1, "非法的apikey")


def test_sdk_gets_code_8_then_9_for_repeated_codes(simulator):
    api = voice(simulator)
    codes = []
    for _ in range(4):
        codes.append(api.send({"mobile": "15205201314", "code": "1234"}).code())
        codes.append(api.send({"mobile": "15205201314", "code": "1234"}).code())
        simulator.clock.advance(31)
    assert codes == [0, 8, 0, 8, 0, 8, 9, 9]


def test_sdk_gets_code_5_for_an_unknown_template(simulator):
    result = voice(simulator).tpl_notify({"mobile": "15205201314", "tpl_id": 1, "tpl_value": "a=b"})
    assert result.code() == 5


@pytest.mark.parametrize(
    ("fault", "codes"), [("fault_5xx", {-50, -51}), ("fault_malformed", {-50})]
)
def test_sdk_sees_server_trouble_as_a_failure_code(make_simulator, fault, codes):
    simulator = make_simulator(**{fault: 1.0})
    result = voice(simulator).send({"mobile": "15205201314", "code": "1234"})
    assert result.code() in codes
