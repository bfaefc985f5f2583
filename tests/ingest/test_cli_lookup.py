"""`voicewatch lookup`: a number's or a sid's story as text (China time, numbers masked) or
JSON, read from a real database on both dialects."""

from __future__ import annotations

import json
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


def test_lookup_prints_a_numbers_sends_and_reports_newest_first_masked(story):
    assert lookup(MOBILE).splitlines() == [
        "152****1314 — China Mobile, Jiangsu (3 sends, 3 reports)",
        "2026-11-20 14:05:00  report FAIL           sid=orphan  关机",
        "2026-11-20 14:02:00  send   rejected 8     sid=-  同一号码相同内容发送限制"
        " (same content to the number within 30 s)",
        "2026-11-20 14:01:30  report FAIL           sid=s2  用户拒接",
        "2026-11-20 14:01:00  send   accepted       sid=s2  ",
        "2026-11-20 14:00:40  report SUCCESS        sid=s1  answered, 12 s",
        "2026-11-20 14:00:00  send   accepted       sid=s1  ",
    ]


def test_lookup_by_sid_shows_that_call_only(story):
    assert lookup("s2", "--unmask").splitlines() == [
        "15205201314 — China Mobile, Jiangsu (1 sends, 1 reports)",
        "2026-11-20 14:01:30  report FAIL           sid=s2  用户拒接",
        "2026-11-20 14:01:00  send   accepted       sid=s2  ",
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
            "why": None,
            "duration_s": 12,
            "via": "push",
        },
        {
            "at": "2026-11-20T06:00:00+00:00",
            "what": "send",
            "mobile": "152****1314",
            "sid": "s1",
            "result": "accepted",
            "why": None,
            "fee": 1.0,
            "source": "relay",
        },
    ]


def test_lookup_of_an_unknown_number_says_nothing_is_stored(story):
    assert lookup("13800138000") == "nothing stored for 138****8000\n"
