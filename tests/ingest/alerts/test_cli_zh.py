"""`voicewatch alerts list | test` for a reader whose VOICEWATCH_LANG is Chinese."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ingest.store.engine import make_engine
from tests.ingest.alerts.support import add_calls
from tests.ingest.alerts.test_cli import TOKEN, env, voicewatch  # noqa: F401  (the fixture)


def test_list_in_chinese_shows_the_same_figures(env, receiver):  # noqa: F811
    engine = make_engine(env["VOICEWATCH_DB"])
    add_calls(engine, datetime.now(UTC) - timedelta(minutes=1), 40, 2, carrier="China Mobile")
    assert voicewatch(env, "run", "--once").exit_code == 0
    listed = voicewatch({**env, "VOICEWATCH_LANG": "zh_CN"}, "list").output
    assert "告警中 运营商：中国移动: 5.0%" in listed
    assert "answer_rate（按运营商），阈值 0.3，窗口 120 秒，最少样本 40" in listed
    assert f"通知渠道：json://{receiver.host}/***" in listed and TOKEN not in listed


def test_test_in_chinese_says_what_was_sent_and_what_to_set(env, receiver):  # noqa: F811
    chinese = {**env, "VOICEWATCH_LANG": "zh_CN"}
    sent = voicewatch(chinese, "test")
    assert sent.exit_code == 0 and f"已发送：json://{receiver.host}/***" in sent.output
    unset = voicewatch({**chinese, "VOICEWATCH_ALERT_URLS": ""}, "test")
    assert unset.exit_code == 2 and "未配置通知渠道：请设置 VOICEWATCH_ALERT_URLS" in unset.output
