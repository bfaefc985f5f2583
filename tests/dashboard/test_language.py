"""The dashboard's shell in English and in Simplified Chinese: the sidebar's switch, the
navigation, the filters and the login form, run by Streamlit's AppTest."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from dashboard import lang, login
from ingest.i18n import CHINESE, ENGLISH
from ingest.store.engine import make_engine
from tests.fixtures.dashboard import add_rows

APP = Path(__file__).parents[2] / "dashboard" / "app.py"


@pytest.fixture
def open_app(tmp_path, monkeypatch):
    """The app against an empty database, with the given password (none: no login)."""
    url = f"sqlite:///{tmp_path / 'language.db'}"
    make_engine(url).dispose()
    monkeypatch.setenv("VOICEWATCH_DB", url)
    monkeypatch.setenv("VOICEWATCH_DIGEST_KEY", "language-digest-key")
    monkeypatch.setenv("VOICEWATCH_UNMASK_PASSWORD", "")

    def run(password: str = "") -> AppTest:
        monkeypatch.setenv("VOICEWATCH_DASHBOARD_PASSWORD", password)
        return AppTest.from_file(str(APP), default_timeout=30).run()

    return run


def switch(at: AppTest, code: str) -> AppTest:
    return at.sidebar.selectbox(key="language_switch").set_value(code).run()


def page_in(monkeypatch, db_url: str, code: str, page: str = "overview") -> AppTest:
    """`page` of the app over `db_url`, no login, shown in language `code`."""
    monkeypatch.setenv("VOICEWATCH_DB", db_url)
    for name in ("VOICEWATCH_DASHBOARD_PASSWORD", "VOICEWATCH_UNMASK_PASSWORD"):
        monkeypatch.setenv(name, "")
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.session_state[lang.CHOICE] = code
    at.run()
    if page != "overview":
        at.switch_page(f"app_pages/{page}.py").run()
    return at


def nav_titles(at: AppTest) -> list[str]:
    # AppTest keeps what st.navigation registered; it has no public view of the sidebar nav.
    return [page["page_name"] for page in at._registered_pages.values()]


def sidebar_labels(at: AppTest) -> list[str]:
    return [w.label for w in (*at.sidebar.selectbox, *at.sidebar.multiselect)]


def test_the_shell_is_english_by_default(open_app):
    at = open_app()
    assert not at.exception
    assert nav_titles(at)[:2] == ["Overview", "Failures"]
    assert sidebar_labels(at) == [
        "Language · 语言",
        "Time range",
        "Carrier",
        "Country",
        "Province",
        "Source",
    ]
    assert at.sidebar.selectbox(key="range").options[1] == "Last 24 h"


def test_choosing_chinese_translates_navigation_and_sidebar_and_sticks_across_pages(open_app):
    at = switch(open_app(), CHINESE)
    assert not at.exception
    assert nav_titles(at) == [
        "概览",
        "失败分析",
        "限流",
        "采集健康",
        "告警",
        "号码查询",
        "发送测试呼叫",
        "风控",
    ]
    assert sidebar_labels(at) == [
        "Language · 语言",
        "时间范围",
        "运营商",
        "国家/地区",
        "省份",
        "来源",
    ]
    assert at.sidebar.selectbox(key="range").options == [
        "最近 1 小时",
        "最近 24 小时",
        "最近 7 天",
        "最近 30 天",
        "本月",
        "上周",
        "上月",
        "自定义",
    ]
    assert at.sidebar.caption[-1].value == "号码已脱敏（未配置查看完整号码的密码）。"
    at.switch_page("app_pages/failures.py").run()
    assert at.session_state[lang.CHOICE] == CHINESE
    assert "时间范围" in sidebar_labels(at)


def test_the_filter_keeps_its_value_when_the_language_changes(open_app):
    at = open_app()
    at.sidebar.selectbox(key="range").set_value("Last 7 days").run()
    at = switch(at, CHINESE)
    assert at.sidebar.selectbox(key="range").value == "Last 7 days"
    at = switch(at, ENGLISH)
    assert at.sidebar.selectbox(key="range").value == "Last 7 days"
    assert sidebar_labels(at)[1] == "Time range"


def test_the_login_form_and_its_errors_speak_chinese(open_app):
    at = switch(open_app(password="pw-1"), CHINESE)
    assert [t.label for t in at.text_input] == ["您的姓名", "密码"]
    assert at.button[0].label == "登录"
    assert at.caption[0].value.startswith("本控制台展示真实手机号的送达数据")
    at.text_input[0].input("张三")
    at.text_input[1].input("wrong")
    at.button[0].click().run()
    assert at.error[0].value == "密码错误，或未填写姓名。"


def test_the_login_lockout_reads_as_a_chinese_duration(open_app):
    at = switch(open_app(password="pw-1"), CHINESE)
    for _attempt in range(login.MAX_FAILURES_PER_NAME + 1):
        at.text_input[0].input("李四")
        at.text_input[1].input("wrong")
        at.button[0].click().run()
    assert at.error[0].value == "该用户名或该地址登录失败次数过多，请 15分钟后重试。"


def _page_with_zone_note() -> None:
    from dashboard.lang import zone_note

    zone_note()


@pytest.mark.parametrize(
    ("code", "note"),
    [(ENGLISH, "All times are China time (UTC+8)."), (CHINESE, "所有时间均为北京时间（UTC+8）。")],
)
def test_a_page_states_china_time_once_in_the_viewers_language(code, note):
    at = AppTest.from_function(_page_with_zone_note)
    at.session_state[lang.CHOICE] = code
    at.run()
    assert [c.value for c in at.caption] == [note]


PAGES_WITH_TIMES = (
    "overview",
    "failures",
    "throttling",
    "health",
    "alerts",
    "lookup",
    "send_test",
    "guard",
)


@pytest.mark.parametrize("page", PAGES_WITH_TIMES)
@pytest.mark.parametrize(
    ("code", "note"),
    [(ENGLISH, "All times are China time (UTC+8)."), (CHINESE, "所有时间均为北京时间（UTC+8）。")],
)
def test_every_page_states_china_time_once_under_its_title(open_app, page, code, note):
    at = switch(open_app(), code)
    if page != "overview":
        at.switch_page(f"app_pages/{page}.py").run()
    assert not at.exception
    captions = [c.value for c in at.main.caption]
    assert captions[0] == note and captions.count(note) == 1


# Latin words a Chinese page may show: Yunpian's own term, the file type, the time zone.
LATIN_KEPT = {"sid", "CSV", "UTC"}
LATIN_WORD = re.compile(r"[A-Za-z][A-Za-z_']+")


def _chart_titles(spec: object) -> list[str]:
    """Axis and legend titles and legend entries of a Vega-Lite spec (not its data)."""
    if isinstance(spec, list):
        return [t for item in spec for t in _chart_titles(item)]
    if not isinstance(spec, dict):
        return []
    found = [spec["title"]] if isinstance(spec.get("title"), str) else []
    if isinstance(spec.get("scale"), dict):
        found += [str(d) for d in spec["scale"].get("domain") or [] if isinstance(d, str)]
    return found + [
        t
        for key, value in spec.items()
        if key not in ("data", "datasets")
        for t in _chart_titles(value)
    ]


def _shown_words(at: AppTest) -> list[str]:
    """What a viewer reads as the page's own words: headings, labels, table headers, chart
    titles and legends, download buttons."""
    words = [e.value for e in (*at.main.title, *at.main.header, *at.main.subheader)]
    words += [m.label for m in at.main.metric]
    words += [w.label for w in (*at.main.selectbox, *at.main.text_input, *at.main.button)]
    words += [b.proto.label for b in at.get("download_button")]
    for table in at.dataframe:
        config = json.loads(table.proto.columns or "{}")
        words += [str(config.get(str(c), {}).get("label", c)) for c in table.value.columns]
    for chart in (*at.get("arrow_vega_lite_chart"), *at.get("vega_lite_chart")):
        words += _chart_titles(json.loads(chart.proto.spec))
    return words


@pytest.mark.parametrize("page", PAGES_WITH_TIMES)
def test_every_page_in_chinese_has_no_english_in_its_own_words(seeded_sqlite, monkeypatch, page):
    at = page_in(monkeypatch, seeded_sqlite.url, CHINESE, page)
    assert not at.exception
    shown = _shown_words(at)
    english = {w: found for w in shown if (found := set(LATIN_WORD.findall(w)) - LATIN_KEPT)}
    assert len(shown) >= 2 and english == {}


@pytest.mark.parametrize(
    ("code", "problem"),
    [
        (ENGLISH, "The pull loop has not succeeded lately: no successful pull since 2026-12-01"),
        (CHINESE, "拉取循环近期未成功: 自 2026-12-01 22:05:00 起没有成功的拉取"),
    ],
)
def test_what_healthz_sees_reads_in_the_viewers_language(tmp_path, monkeypatch, code, problem):
    url = f"sqlite:///{tmp_path / 'stale.db'}"
    engine = make_engine(url)
    ended = datetime(2026, 12, 1, 14, 5, tzinfo=UTC)  # 22:05 China time
    add_rows(engine, pulls=[{"started_at": ended, "finished_at": ended, "pages": 1}])
    engine.dispose()
    at = page_in(monkeypatch, url, code, "health")
    assert at.error[0].value.replace("\\", "").startswith(problem)


@pytest.mark.parametrize(
    ("code", "places"),
    [
        (ENGLISH, {"carriers": "China Mobile", "countries": "Singapore", "provinces": "Jiangsu"}),
        (CHINESE, {"carriers": "中国移动", "countries": "新加坡", "provinces": "江苏"}),
    ],
)
def test_carriers_countries_and_provinces_are_named_in_the_viewers_language(
    seeded_sqlite, monkeypatch, code, places
):
    at = page_in(monkeypatch, seeded_sqlite.url, code, "failures")
    for key, name in places.items():
        assert name in at.sidebar.multiselect(key=key).options
    at.toggle(key="show_failures_by_table").set_value(True).run()
    (by_place,) = [t for t in at.dataframe if t.value.columns[0] == "carrier"]
    assert places["carriers"] in by_place.value["carrier"].tolist()


@pytest.mark.parametrize(
    ("code", "refusal"),
    [
        (ENGLISH, "[8] same content to the number within 30 s"),
        (CHINESE, "[8] 同一手机号30秒内重复提交相同的内容"),  # Yunpian's own words
    ],
)
def test_send_refusals_read_in_the_viewers_language(seeded_sqlite, monkeypatch, code, refusal):
    at = page_in(monkeypatch, seeded_sqlite.url, code, "failures")
    assert refusal in at.dataframe[0].value["reason"].tolist()
