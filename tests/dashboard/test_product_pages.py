"""The weekly review through the pages, as a product manager drives them (AppTest)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest
import streamlit as st
from sqlalchemy import func, select

from dashboard import state
from dashboard.lang import CHOICE
from ingest.i18n import CHINESE
from ingest.store.engine import make_engine
from ingest.store.models import Send
from tests.dashboard import test_pages
from tests.dashboard.test_pages import metrics
from tests.fixtures.dashboard import add_rows, download_bytes, report_row, send_row
from tests.servers import wait_until

MOBILE, SINGAPORE = "15205201314", "+6591234567"
TIMEDELTA_TEXT = re.compile(r"\d+ days?, \d+:\d\d:\d\d")
open_page = test_pages.open_page


@pytest.fixture
def fresh_db(tmp_path):
    """Sends only in the last hour: 40 to a mainland number (one refused), 3 to Singapore."""
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    engine = make_engine(url)
    now = datetime.now(UTC)
    sends = [send_row(MOBILE, now - timedelta(minutes=50, seconds=20 * i)) for i in range(39)]
    sends.append(send_row(MOBILE, now - timedelta(minutes=10), result_code=8))
    sends += [send_row(SINGAPORE, now - timedelta(minutes=30 - i)) for i in range(3)]
    reports = [report_row(s, "SUCCESS", 12) for s in sends if s["result_code"] == 0]
    add_rows(engine, sends, reports)
    yield url, engine
    engine.dispose()


def sidebar_keys(at) -> set[str]:
    widgets = [*at.sidebar.selectbox, *at.sidebar.multiselect, *at.sidebar.date_input]
    return {w.key for w in widgets}


@pytest.mark.parametrize("page", ["lookup", "send_test", "health"])
def test_pages_that_ignore_the_filters_do_not_show_them(open_page, fresh_db, page):
    at = open_page(page, fresh_db[0])
    assert not at.exception
    assert not sidebar_keys(at) & {"range", "carriers", "countries", "provinces", "sources"}


def test_filters_survive_a_visit_to_a_page_without_them(open_page, fresh_db):
    at = open_page("overview", fresh_db[0])
    at.sidebar.multiselect(key="countries").set_value(["Singapore"]).run()
    at.switch_page("app_pages/lookup.py").run()
    at.switch_page("app_pages/overview.py").run()
    assert at.sidebar.multiselect(key="countries").value == ["Singapore"]
    assert metrics(at)["Sends"] == "3"


def test_country_filter_and_dimension(open_page, fresh_db):
    url, engine = fresh_db
    at = open_page("overview", url)
    assert at.sidebar.multiselect(key="countries").options == ["China", "Singapore"]
    assert "Singapore" not in at.sidebar.multiselect(key="provinces").options
    at.sidebar.multiselect(key="countries").set_value(["China"]).run()
    with engine.connect() as conn:
        domestic = conn.execute(
            select(func.count()).select_from(Send).where(Send.mobile.not_like("+%"))
        ).scalar()
    assert metrics(at)["Sends"] == str(domestic) == "40"


def test_no_change_is_shown_against_an_empty_previous_period(open_page, fresh_db):
    at = open_page("overview", fresh_db[0])
    assert not at.exception
    assert not any(m.delta for m in at.metric)  # not "+43" against nothing
    assert any("no comparable data" in c.value for c in at.caption)


def test_a_page_view_keeps_one_now_until_refreshed(open_page, fresh_db):
    url, engine = fresh_db
    at = open_page("overview", url)
    shown = datetime.now(UTC)
    before = metrics(at)["Sends"]
    # A send made just after the page was shown, and a rerun once the clock has moved on
    # past the 10 s a rolling window is floored to.
    add_rows(engine, [send_row(MOBILE, shown)])
    wait_until(lambda: state.now() > shown, timeout=15)
    st.cache_data.clear()
    at.run()  # what a click on a download does: the page runs again
    assert metrics(at)["Sends"] == before
    next(b for b in at.sidebar.button if b.label == "Refresh").click().run()
    assert metrics(at)["Sends"] == str(int(before) + 1)


def test_downloads_name_their_range_and_filters(open_page, fresh_db, monkeypatch):
    offered = []
    real = st.download_button

    def recording(label, data, **kwargs):
        offered.append((label, download_bytes(data), kwargs.get("file_name")))
        return real(label, data, **kwargs)

    monkeypatch.setattr(st, "download_button", recording)
    at = open_page("overview", fresh_db[0])
    at.sidebar.multiselect(key="carriers").set_value(["SingTel"]).run()
    assert not any(label == "Download fees (CSV)" for label, _d, _n in offered)  # not asked for
    at.toggle(key="show_fees").set_value(True)
    offered.clear()
    at.run()
    fees = next((d, n) for label, d, n in offered if label == "Download fees (CSV)")
    data, name = fees
    assert name.startswith("voicewatch-fees-") and name.endswith("-carrier-SingTel.csv")
    first = data.decode("utf-8-sig").splitlines()[0]
    assert first.startswith("# voicewatch fees · ") and "carrier: SingTel" in first
    assert "China time" in first
    assert data.decode("utf-8-sig").splitlines()[1].split(",")[1] == "fees_credits"
    raw = next(d for label, d, _ in offered if label.startswith("Download every send"))
    lines = raw.decode("utf-8-sig").splitlines()  # written when clicked
    assert lines[0].startswith("# voicewatch sends with reports · ")
    assert lines[0].endswith("carrier: SingTel · fee in credits")
    assert len(lines) == 2 + 3  # the header, the column names, the 3 sends to Singapore
    assert "fee_credits" in lines[1].split(",")
    assert all(SINGAPORE not in line and "4567," in line for line in lines[2:]), lines


def test_custom_range_shows_the_range_in_force(open_page, fresh_db):
    at = open_page("overview", fresh_db[0])
    at.sidebar.selectbox(key="range").set_value("Custom").run()
    picked = at.sidebar.date_input(key="custom_days").value
    today = datetime.now(UTC).astimezone(state.CHINA).date()
    assert tuple(picked) == (today - timedelta(days=6), today)  # not empty boxes
    at.sidebar.date_input(key="custom_days").set_value((today,)).run()  # half a range
    assert not at.exception
    assert any("Pick the last day too" in c.value for c in at.sidebar.caption)
    captions = " ".join(c.value for c in at.caption)
    first = today - timedelta(days=6)
    assert f"{first:%b} {first.day}," in captions  # the range in words, from its first day
    assert not TIMEDELTA_TEXT.search(captions)


@pytest.mark.parametrize("choice", ["Last week", "Last month", "This month"])
def test_calendar_presets_run(open_page, fresh_db, choice):
    at = open_page("overview", fresh_db[0])
    at.sidebar.selectbox(key="range").set_value(choice).run()
    assert not at.exception


def test_fees_carry_their_unit(open_page, fresh_db):
    at = open_page("overview", fresh_db[0], VOICEWATCH_FEE_UNIT="yuan")
    shown = metrics(at)
    assert shown["Fees (yuan)"] == "42"
    assert "Per answer (yuan)" in shown


def test_every_page_showing_a_fee_shows_its_unit(open_page, fresh_db, monkeypatch):
    offered = []
    real = st.download_button

    def recording(label, data, **kwargs):
        offered.append((label, download_bytes(data)))
        return real(label, data, **kwargs)

    monkeypatch.setattr(st, "download_button", recording)
    at = open_page("lookup", fresh_db[0], VOICEWATCH_FEE_UNIT="yuan")
    at.text_input(key="lookup_input").input(MOBILE).run()
    [timeline] = [df for df in at.dataframe if "sid" in df.value]
    config = json.loads(timeline.proto.columns)
    assert config["fee_yuan"]["label"] == "fee (yuan)" and "fee" not in timeline.value
    csv = next(d for label, d in offered if label == "Download lookup timeline (CSV)")
    assert "fee_yuan" in csv.decode("utf-8-sig").splitlines()[0].split(",")
    at = open_page("guard", fresh_db[0], VOICEWATCH_FEE_UNIT="yuan")
    assert metrics(at)["Estimated spend saved"] == "0.0 yuan"


def test_failures_page_explains_reasons_by_category(open_page, fresh_db):
    url, engine = fresh_db
    failed = send_row(MOBILE, datetime.now(UTC) - timedelta(minutes=5))
    add_rows(engine, [failed], [report_row(failed, "FAIL", 20, error_msg="空号")])
    at = open_page("failures", url)
    assert not at.exception
    reasons = next(df.value for df in at.dataframe if "advice" in df.value)
    row = reasons.set_index("reason").loc["空号"]
    assert row["category"] == "number does not exist"
    assert row["advice"] == "Check the number with the user."
    refused = reasons.set_index("code").loc["8"]  # shown as text: calls have no code
    assert refused["category"] == "refused at send"
    assert refused["advice"].startswith("The number reached one of Yunpian's limits")
    assert refused["meaning"] == "同一手机号30秒内重复提交相同的内容"  # Yunpian's own words
    latest = next(df.value for df in at.dataframe if "sid" in df.value)
    assert list(latest.columns[:4]) == ["sent_at", "mobile", "stage", "category"]
    assert not (latest.astype(str) == "None").any().any()


def test_overview_tables_in_chinese_name_every_column(open_page, fresh_db):
    at = open_page("overview", fresh_db[0])
    at.session_state[CHOICE] = CHINESE
    at.run()
    assert not at.exception
    for table in at.dataframe:
        labels = {n: c.get("label") for n, c in json.loads(table.proto.columns).items()}
        unnamed = [c for c in table.value.columns if not labels.get(c)]
        assert unnamed == [], unnamed
    [tile] = [m for m in at.metric if m.label == "无状态报告"]
    assert "发送后15分钟内" in tile.help


def test_failures_in_chinese_name_refusals_and_stages_in_chinese(open_page, fresh_db):
    url, engine = fresh_db
    failed = send_row(MOBILE, datetime.now(UTC) - timedelta(minutes=5))
    add_rows(engine, [failed], [report_row(failed, "FAIL", 20, error_msg="空号")])
    at = open_page("failures", url)
    at.session_state[CHOICE] = CHINESE
    at.run()
    assert not at.exception
    assert len(at.dataframe) == 2  # the heatmap's table is built only when asked for
    at.toggle(key="show_failures_by_table").set_value(True).run()
    reasons, by, latest = (df.value for df in at.dataframe)
    refused = "[8] 同一手机号30秒内重复提交相同的内容"
    assert refused in reasons["reason"].tolist() and "空号" in reasons["reason"].tolist()
    assert set(reasons["stage"]) == {"呼叫", "发送"}
    assert refused in by["reason"].tolist() and set(by["stage"]) == {"呼叫", "发送"}
    assert {"空号", refused} <= set(latest["reason"])
    assert set(latest["stage"]) == {"呼叫", "发送"}


def test_overview_in_chinese(open_page, fresh_db):
    at = open_page("overview", fresh_db[0])
    at.session_state["language"] = "zh_CN"
    at.sidebar.selectbox(key="range").set_value("Last week").run()
    assert not at.exception
    assert at.title[0].value == "概览"
    shown = metrics(at)
    assert "费用（条）" in shown and "接听率" in shown
    assert at.sidebar.selectbox(key="range").label == "时间范围"
    assert any("北京时间" in c.value for c in at.caption)


@pytest.fixture
def steady_db(tmp_path):
    """The same 40 answered calls in the last hour and 24 h before, and one send a week ago
    (so data covers the period before)."""
    url = f"sqlite:///{tmp_path / 'steady.db'}"
    engine = make_engine(url)
    now = datetime.now(UTC)
    sends, reports = [], []
    for back in (timedelta(0), timedelta(days=1)):
        batch = [send_row(MOBILE, now - back - timedelta(minutes=50 - i)) for i in range(40)]
        sends += batch
        reports += [report_row(s, "SUCCESS", 12) for s in batch]
    sends.append(send_row(MOBILE, now - timedelta(days=7)))
    add_rows(engine, sends, reports)
    yield url
    engine.dispose()


def test_an_unchanged_week_shows_no_change_and_compares_by_dimension(open_page, steady_db):
    at = open_page("overview", steady_db)
    assert not at.exception
    assert not any("no comparable data" in c.value for c in at.caption)
    assert not any(m.delta for m in at.metric)  # no "+0.0 s", in red or any colour
    table = next(df.value for df in at.dataframe if "sends_before" in df.value)
    row = table.iloc[0]
    assert (row["carrier"], row["sends"], row["sends_before"], row["sends_change"]) == (
        "China Mobile",
        40,
        40,
        "0",
    )
    at.segmented_control(key="compare_by").set_value("country").run()
    table = next(df.value for df in at.dataframe if "sends_before" in df.value)
    assert table["country"].tolist() == ["China"]


def test_a_month_can_be_charted_by_week(open_page, fresh_db):
    at = open_page("overview", fresh_db[0])
    assert at.segmented_control(key="grain_hour").value == "hour"  # Last 24 h: hours
    at.sidebar.selectbox(key="range").set_value("Last 30 days").run()
    grain = at.segmented_control(key="grain_day")
    assert grain.value == "day" and "by week" in grain.options
    grain.set_value("week").run()
    assert not at.exception


def test_no_cell_reads_none(open_page, fresh_db):
    at = open_page("overview", fresh_db[0])
    at.segmented_control(key="rate_by").set_value("country")
    at.toggle(key="show_rate_by_table").set_value(True).run()
    table = next(df.value for df in at.dataframe if "answer_rate" in df.value)
    singapore = table.set_index("country").loc["Singapore"]
    assert singapore["answer_rate"] == ""  # 3 calls: no rate, and no "None"
    assert table.set_index("country").loc["China", "answer_rate"] == "100.0%"
    for frame in (df.value for df in at.dataframe):
        assert not frame.isna().any().any()


def test_failures_in_chinese(open_page, fresh_db):
    url, engine = fresh_db
    failed = send_row(MOBILE, datetime.now(UTC) - timedelta(minutes=5))
    add_rows(engine, [failed], [report_row(failed, "FAIL", 20, error_msg="空号")])
    at = open_page("failures", url)
    at.session_state["language"] = "zh_CN"
    at.run()
    assert not at.exception
    assert at.title[0].value == "失败分析"
    reasons = next(df.value for df in at.dataframe if "advice" in df.value)
    row = reasons.set_index("reason").loc["空号"]
    assert (row["category"], row["advice"]) == ("号码不存在", "请与用户核对号码。")
    assert reasons.set_index("code").loc["8", "category"] == "发送时被拒"
