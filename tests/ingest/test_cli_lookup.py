"""`voicewatch lookup`: a number's or a sid's story as text (China time, numbers masked) or
JSON, read from a real database on both dialects."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner

from ingest.cli import main
from ingest.store.models import Send
from ingest.store.upserts import store_reports
from ingest.store.writes import record_send
from ingest.yunpian.reports import Report as ReportRecord

T0 = datetime(2026, 11, 20, 6, 0, tzinfo=UTC)  # 14:00 in China
MOBILE = "15205201314"


def send(engine, sid: str | None, at: datetime, code: int = 0, msg: str = "OK") -> None:
    record_send(
        engine,
        Send(
            sent_at=at,
            mobile=MOBILE,
            code_digest="x",
            result_code=code,
            result_msg=msg,
            fee=1.0 if code == 0 else 0.0,
            source="relay",
            sid=sid,
            carrier="",
            province="",
        ),
    )


def report(sid: str, status: str, at: datetime, duration: int = 0, **fields) -> ReportRecord:
    return ReportRecord(sid, MOBILE, status, at, duration=duration, **fields)


@pytest.fixture
def story(engine, db_url, monkeypatch) -> None:
    """An answered call, one not answered, a send refused by Yunpian and a report whose send
    was never stored."""
    monkeypatch.setenv("VOICEWATCH_DB", db_url)
    monkeypatch.setenv("VOICEWATCH_DIGEST_KEY", "test-digest-key")
    send(engine, "s1", T0)
    send(engine, "s2", T0 + timedelta(minutes=1))
    send(engine, None, T0 + timedelta(minutes=2), code=8, msg="同一号码相同内容发送限制")
    store_reports(
        engine,
        [
            report("s1", "SUCCESS", T0 + timedelta(seconds=40), duration=12),
            report("s2", "FAIL", T0 + timedelta(minutes=1, seconds=30), error_msg="用户拒接"),
            report("orphan", "FAIL", T0 + timedelta(minutes=5), error_msg="关机"),
        ],
        "push",
    )


def lookup(*args: str) -> str:
    result = CliRunner().invoke(main, ["lookup", *args])
    assert result.exit_code == 0, result.output
    return result.output


NOT_ANSWERED_S2 = (
    "2026-11-20 14:01:30+08:00  report not answered   sid=s2  用户拒接 — user did not answer: "
    "the user declined the call. Tell the user the code comes by phone call from an unknown "
    "number; retry."
)


def test_lookup_prints_a_numbers_calls_newest_first_explained_with_zones(story):
    lines = lookup(MOBILE).splitlines()
    assert lines[0] == "152****1314 — China Mobile, Jiangsu (3 sends, 3 reports)"
    assert [line[2:27] for line in lines[1:7]] == [
        "2026-11-20 14:05:00+08:00",
        "2026-11-20 14:02:00+08:00",
        "2026-11-20 14:01:30+08:00",
        "2026-11-20 14:01:00+08:00",
        "2026-11-20 14:00:40+08:00",
        "2026-11-20 14:00:00+08:00",
    ]
    assert "关机 — reason not known to voicewatch." in lines[1]
    # One message per refusal: the code's meaning and what to do, not Yunpian's text twice.
    assert lines[2].endswith(
        "refused by Yunpian sid=-  code 8: same content to the number within 30 s. The number "
        "has reached one of Yunpian's per-number limits: wait until the time shown, or send a "
        "new code if only the same code is refused."
    )
    assert lines[3][2:] == NOT_ANSWERED_S2
    assert (
        lines[5][2:]
        == "2026-11-20 14:00:40+08:00  report answered       sid=s1  call lasted 12 sec"
    )


def test_lookup_in_chinese_explains_in_chinese(story, monkeypatch):
    monkeypatch.setenv("VOICEWATCH_LANG", "zh_CN")
    text = lookup(MOBILE)
    assert "同一手机号30秒内重复提交相同的内容" in text  # Yunpian's own words for code 8
    assert "告知用户验证码以陌生号码来电播报" in text
    assert " — 中国移动, 江苏 (" in text.splitlines()[0]  # the places too


def test_lookup_counts_in_plural_forms(engine, db_url, monkeypatch):
    monkeypatch.setenv("VOICEWATCH_DB", db_url)
    monkeypatch.setenv("VOICEWATCH_DIGEST_KEY", "test-digest-key")
    send(engine, "only", T0)
    assert lookup(MOBILE).splitlines()[0].endswith("(1 send, 0 reports)")


def test_lookup_by_sid_in_any_case_shows_the_call_marked_in_its_numbers_history(story):
    lines = lookup("S2", "--unmask").splitlines()
    assert lines[0] == "15205201314 — China Mobile, Jiangsu (3 sends, 3 reports)"
    assert [line[0] for line in lines[1:7]] == [" ", " ", "▶", "▶", " ", " "]
    assert lines[3][2:] == NOT_ANSWERED_S2


def test_lookup_says_when_the_number_can_next_be_sent_to_under_the_configured_limits(
    engine, db_url, monkeypatch
):
    monkeypatch.setenv("VOICEWATCH_DB", db_url)
    monkeypatch.setenv("VOICEWATCH_DIGEST_KEY", "test-digest-key")
    now = datetime.now(UTC)
    send(engine, "n1", now - timedelta(minutes=30))
    send(engine, "n2", now - timedelta(minutes=10))
    assert lookup(MOBILE).splitlines()[-2:] == [
        "next accepted send: same code now; a new code now",
        "Limits in force: same code 30 s apart and 3 per 5 min; per number none per hour, none "
        "per 24 h (VOICEWATCH_LIMIT_PER_HOUR, VOICEWATCH_LIMIT_PER_DAY).",
    ]
    monkeypatch.setenv("VOICEWATCH_LIMIT_PER_HOUR", "2")
    lines = lookup(MOBILE).splitlines()
    # The send 30 min ago leaves the hour then (a moment less, as the command runs later).
    assert re.match(r"next accepted send: same code in (30 min|29 min,? 59 sec) \(", lines[-3])
    assert lines[-2] == "  2 sends in the last hour reached the account's 1 h limit (code 22)"


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
def test_lookup_finds_a_number_however_it_is_written(story, written):
    lines = lookup(written).splitlines()
    assert lines[0].endswith("(3 sends, 3 reports)")
    assert not any(line.startswith("▶") for line in lines)  # a number marks no call


@pytest.mark.parametrize("partial", ["152****1314", "1314", "152 1314"])
def test_a_partial_number_lists_the_numbers_it_may_mean(story, partial):
    lines = lookup(partial, "--unmask").splitlines()
    assert lines == [
        f"1 stored number matches {partial}; look one up by its full number:",
        "  15205201314  China Mobile, Jiangsu (3 sends)",
    ]


def test_lookup_json_lists_events_in_utc(story):
    events = json.loads(lookup("s1", "--json"))
    assert events == [
        {
            "at": "2026-11-20T06:00:40+00:00",
            "what": "report",
            "mobile": "152****1314",
            "sid": "s1",
            "result": "SUCCESS",
            "outcome": "answered",
            "why": "call lasted 12 sec",
            "duration_s": 12,
            "via": "push",
        },
        {
            "at": "2026-11-20T06:00:00+00:00",
            "what": "send",
            "mobile": "152****1314",
            "sid": "s1",
            "result": "accepted",
            "outcome": "answered",
            "why": None,
            "fee": 1.0,
            "source": "relay",
        },
    ]


@pytest.mark.parametrize("query", ["13800138000", "138****8000", "no-such-sid"])
def test_lookup_of_nothing_stored_says_so_and_fails(story, query):
    result = CliRunner().invoke(main, ["lookup", query])
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.startswith(("nothing stored for", "no stored number matches"))
