"""The Alerts page in Simplified Chinese under AppTest: its title, metrics, table headers and
chart in Chinese, with the same figures as in English."""

from __future__ import annotations

import json

from streamlit.testing.v1 import AppTest

from dashboard.lang import CHOICE
from ingest.i18n import CHINESE, ENGLISH
from tests.dashboard.test_alerts_page import APP, firing_db  # noqa: F401  (the fixture)


def open_alerts_in(monkeypatch, db_url: str, code: str) -> AppTest:
    monkeypatch.setenv("VOICEWATCH_DB", db_url)
    for name in ("VOICEWATCH_DASHBOARD_PASSWORD", "VOICEWATCH_UNMASK_PASSWORD"):
        monkeypatch.setenv(name, "")
    at = AppTest.from_file(str(APP), default_timeout=30)
    at.session_state[CHOICE] = code
    return at.run().switch_page("app_pages/alerts.py").run()


def headers(table) -> list[str]:
    """The column headers a viewer sees: the labels of the table's column config."""
    config = json.loads(table.proto.columns)
    return [config[column]["label"] for column in table.value.columns]


def chart_encoding(at: AppTest) -> dict:
    (chart,) = at.get("arrow_vega_lite_chart") or at.get("vega_lite_chart")
    return json.loads(chart.proto.spec)["encoding"]


def test_alerts_page_in_chinese_shows_the_same_figures(monkeypatch, firing_db):  # noqa: F811
    english = open_alerts_in(monkeypatch, firing_db[0], ENGLISH)
    at = open_alerts_in(monkeypatch, firing_db[0], CHINESE)
    assert not at.exception
    assert at.title[0].value == "告警"
    assert [h.value for h in at.subheader] == ["运营商接通率下降"]
    assert any(t.value == "运营商：中国移动" for t in at.text)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics == {"当前值": "10.0%", "阈值": "48.0%", "基线": "78.0%", "统计呼叫数": "40"}
    assert [m.value for m in at.metric] == [m.value for m in english.metric]
    captions = [c.value for c in at.caption]
    assert "所有时间均为北京时间（UTC+8）。" in captions
    assert any(c.startswith("告警中 · 严重 · 自 ") for c in captions)
    (events,) = [t for t in at.dataframe if "event" in t.value.columns]
    assert headers(events)[:4] == ["时间", "规则", "范围", "事件"]
    assert events.value["event"].tolist() == ["告警中"]
    (english_events,) = [t for t in english.dataframe if "event" in t.value.columns]
    assert events.value["value"].tolist() == english_events.value["value"].tolist()
    encoding = chart_encoding(at)
    assert encoding["x"]["title"] == "北京时间（UTC+8）" and encoding["y"]["title"] == "实测值"
    assert encoding["color"]["scale"]["domain"] == ["实测值", "基线", "阈值"]
    assert [b.label for b in at.get("form_submit_button")] == ["静默"]
    assert "原因" in [t.label for t in at.text_input]
