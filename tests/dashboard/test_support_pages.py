"""The Lookup and Send test pages as support uses them: any way of writing a number, a
partial number, a sid in its number's history, reasons explained, "no report", both languages."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from streamlit.dataframe_util import convert_arrow_bytes_to_pandas_df

from dashboard.lang import CHOICE
from ingest.i18n import CHINESE
from tests.dashboard import test_pages as pages
from tests.fixtures.dashboard import add_rows, send_row

MOBILE, metrics = pages.MOBILE, pages.metrics
open_page, small_db = pages.open_page, pages.small_db  # the page tests' fixtures


def look_up(at, query: str):
    at.text_input(key="lookup_input").input(query).run()
    assert not at.exception
    return at


def text_of(at) -> str:
    parts = [
        e.value for kind in ("error", "warning", "info", "success", "caption") for e in at.get(kind)
    ]
    return "\n".join(str(p) for p in parts).replace("\\", "")


@pytest.mark.parametrize(
    "written",
    [
        "+8615205201314",
        "+86 152 0520 1314",
        "152 0520 1314",
        "152-0520-1314",
        "１５２０５２０１３１４",
    ],
)
def test_lookup_finds_the_history_however_the_number_is_written(open_page, small_db, written):
    url, _, _ = small_db
    at = look_up(open_page("lookup", url), written)
    assert at.dataframe[0].value["status"].tolist() == ["FAIL", "SUCCESS"]


def test_a_partial_number_offers_the_numbers_to_choose_from(open_page, small_db):
    url, engine, _ = small_db
    add_rows(engine, [send_row("15299991314", datetime.now(UTC) - timedelta(hours=2))])
    at = look_up(open_page("lookup", url), "152****1314")
    choices = [b for b in at.button if b.label.startswith("152****1314")]
    assert len(choices) == 2 and not at.dataframe
    assert "2 sends" in choices[0].label  # most sent to first
    choices[0].click().run()
    assert at.dataframe[0].value["status"].tolist() == ["FAIL", "SUCCESS"]


def test_a_sid_is_shown_marked_in_its_numbers_history(open_page, small_db):
    url, _, failed = small_db
    at = open_page("lookup", url)
    at.query_params["sid"] = failed["sid"].upper()
    at = look_up(at, failed["sid"].upper())
    timeline = at.dataframe[0].value
    assert timeline["mark"].tolist() == ["▶", ""]  # the newer call is not hidden
    assert "is marked ▶" in text_of(at)
    assert at.error[0].value.startswith("This call (sent ")  # the banner is about that call
    assert any(link.label == "Full timeline of this number" for link in at.get("page_link"))


def test_the_latest_failure_is_explained_in_plain_words(open_page, small_db):
    url, _, failed = small_db
    at = look_up(open_page("lookup", url), MOBILE)
    [error] = at.error
    sent = failed["sent_at"].astimezone(ZoneInfo("Asia/Shanghai"))
    shown = (
        f"{sent:%H:%M:%S}"
        if sent.date() == datetime.now(sent.tzinfo).date()
        else sent.strftime("%b %-d, %H:%M:%S")
    )
    assert error.value.startswith(f"Latest call (sent {shown}): not answered.")
    assert "“用户拒接”: user did not answer — the user declined the call." in error.value
    assert "unknown number; retry" in error.value
    timeline = at.dataframe[0].value
    assert timeline["reason"].iloc[0] == "user did not answer"
    assert timeline["reason"].iloc[1] == ""  # an answered call has no reason


def test_a_send_with_no_report_after_the_set_time_is_no_report(open_page, small_db):
    url, engine, _ = small_db
    add_rows(engine, [send_row(MOBILE, datetime.now(UTC) - timedelta(minutes=16))])
    at = look_up(open_page("lookup", url, VOICEWATCH_NO_REPORT_AFTER="900"), MOBILE)
    assert metrics(at)["No report"] == "1"
    assert "no report" in at.warning[0].value and "within 15 min" in at.warning[0].value
    timeline = at.dataframe[0].value
    assert timeline["outcome"].iloc[0] == "no report"
    # Nothing to show is an empty cell, not "None" (pandas 3 keeps text as its own dtype).
    columns = ["status", "reason", "error_msg", "user_receive_time", "first_seen"]
    assert timeline[columns].iloc[0].tolist() == ["", "", "", "", ""]


def test_overview_counts_calls_with_no_report_after_the_set_time(open_page, small_db):
    url, engine, _ = small_db
    now = datetime.now(UTC)
    add_rows(engine, [send_row(MOBILE, now - timedelta(minutes=m)) for m in (16, 5)])
    at = open_page("overview", url, VOICEWATCH_NO_REPORT_AFTER="600")
    [tile] = [m for m in at.metric if m.label == "No report"]
    assert tile.value == "1"  # the 5-minute-old call is still pending
    assert "10 min after the send" in tile.help and "VOICEWATCH_NO_REPORT_AFTER" in tile.help
    assert len(at.metric) == 10  # a tile replaced, not added: the page stays as light
    volume = convert_arrow_bytes_to_pandas_df(
        at.get("vega_lite_chart")[0].proto.datasets[0].data.data
    )
    by_outcome = volume.groupby("outcome")["sends"].sum().to_dict()
    assert (by_outcome["no report"], by_outcome["pending"]) == (1, 1)  # the chart agrees
    at = open_page("overview", url, VOICEWATCH_NO_REPORT_AFTER="240")
    assert metrics(at)["No report"] == "2"


def test_retry_waits_use_the_configured_limits_and_say_which(open_page, small_db):
    url, _, _ = small_db
    at = look_up(open_page("lookup", url), MOBILE)
    assert metrics(at)["A new code"] == "now"  # no account limits unless configured
    assert "per number none per hour, none per 24 h" in text_of(at)
    at = look_up(open_page("lookup", url, VOICEWATCH_LIMIT_PER_HOUR="2"), MOBILE)
    assert metrics(at)["A new code"].startswith("in ")
    assert "2 sends in the last hour reached the account's 1 h limit (code 22)" in text_of(at)


def test_lookup_in_chinese(open_page, small_db):
    url, _, _ = small_db
    at = open_page("lookup", url)
    at.session_state[CHOICE] = CHINESE
    at = look_up(at, MOBILE)
    assert at.title[0].value == "号码查询"
    assert (metrics(at)["已接听"], metrics(at)["未接听"]) == ("1", "1")
    assert "用户未接听" in at.error[0].value and "告知用户" in at.error[0].value
    assert at.dataframe[0].value["outcome"].tolist() == ["未接听", "已接听"]
    assert at.dataframe[0].value["result"].tolist() == ["已受理", "已受理"]


def test_a_new_check_clears_the_last_result_and_a_refusal_is_one_message(
    open_page, small_db, simulator
):
    url, _, _ = small_db
    at = open_page(
        "send_test",
        url,
        YUNPIAN_APIKEY=simulator.apikey,
        YUNPIAN_VOICE_URL=simulator.url,
        VOICEWATCH_DIGEST_KEY="page-test-key",
    )
    at.text_input(key="send_actor").input("li.wei")
    accepted = []
    for _ in range(2):  # the same code twice within 30 s: refused (code 8), sent anyway
        at.text_input[1].input("+86 139 1234 5678")
        at.text_input(key="test_code").input("4321")
        at.button[0].click().run()
        next(b for b in at.button if b.label in ("Yes, call now", "Send anyway")).click().run()
        accepted += [s.value for s in at.success if s.value.startswith("Accepted")]
    assert not at.exception
    [first] = accepted  # its fee with its unit
    assert re.search(r", fee [\d.]+ credits\. Calling", first), first
    [refusal] = [e.value for e in at.error]
    assert refusal.startswith("Yunpian refused the send: code 8: same content to the number")
    assert refusal.count("same content") == 1 and "同一手机号" not in refusal
    at.text_input[1].input("13912345678")
    at.button[0].click().run()
    assert not at.error and not at.success  # the earlier result is gone


def test_the_send_form_refuses_bad_input_before_anything_is_sent(open_page, small_db):
    url, _, _ = small_db
    at = open_page("send_test", url)
    at.text_input(key="send_actor").input("li.wei")
    at.text_input[1].input("12345")
    at.text_input(key="test_code").input("12")
    at.button[0].click().run()
    errors = " ".join(e.value for e in at.error)
    assert "is not a phone number Yunpian calls" in errors and "got 2" in errors
    assert not [b for b in at.button if b.label in ("Yes, call now", "Send anyway")]


def test_send_test_audit_in_chinese(open_page, small_db):
    url, _, _ = small_db
    at = open_page("send_test", url)
    at.session_state[CHOICE] = CHINESE
    at.run()
    assert not at.exception
    headings = [h.value for h in at.subheader]
    assert "手动发送（最近 7 天）" in headings and "登录与查看完整号码（最近 7 天）" in headings
