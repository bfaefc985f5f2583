"""Lookup: a number's or a sid's calls, sends joined with their reports by sid — on both
dialects."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ingest.store.engine import make_engine
from ingest.store.lookup import _by_report, _by_send, lookup
from ingest.store.models import Send
from ingest.store.upserts import store_reports
from ingest.store.writes import record_send
from ingest.yunpian.reports import Report as ReportRecord

T0 = datetime(2026, 11, 20, 6, 0, tzinfo=UTC)
MOBILE = "15205201314"


def send(engine, sid: str | None, at: datetime, mobile: str = MOBILE, code: int = 0) -> None:
    record_send(
        engine,
        Send(
            sent_at=at,
            mobile=mobile,
            code_digest="x",
            result_code=code,
            source="cli",
            sid=sid,
            carrier="",
            province="",
        ),
    )


def report(sid: str, at: datetime | None, mobile: str = MOBILE, status: str = "FAIL"):
    return ReportRecord(sid=sid, mobile=mobile, status=status, user_receive_time=at, duration=0)


def test_a_numbers_sends_come_with_their_reports_newest_first(engine):
    send(engine, "s1", T0)
    send(engine, "s2", T0 + timedelta(minutes=1))
    send(engine, None, T0 + timedelta(minutes=2), code=8)
    store_reports(
        engine,
        [report("s1", T0 + timedelta(seconds=30)), report("other", T0, mobile="13800138000")],
        "pull",
    )
    calls = lookup(engine, f" {MOBILE} ")
    assert [(c.send.sid, c.send.result_code) for c in calls] == [(None, 8), ("s2", 0), ("s1", 0)]
    assert [c.report and c.report.sid for c in calls] == [None, None, "s1"]
    assert calls[2].until_call_ended == timedelta(seconds=30) and calls[1].until_call_ended is None
    assert calls[2].send.sent_at == T0  # aware UTC, as the models return it


def test_reports_without_a_send_found_are_calls_of_their_own(engine):
    send(engine, "s1", T0, mobile="+8615205201314")  # the report names the number differently
    store_reports(
        engine,
        [report("s1", T0 + timedelta(seconds=20)), report("orphan", None)],
        "push",
    )
    # One number, one history: the send written +86… is found with its report.
    for written in (MOBILE, "+8615205201314"):
        calls = lookup(engine, written)
        assert [(c.send and c.send.mobile, c.report.sid) for c in calls] == [
            (None, "orphan"),
            ("+8615205201314", "s1"),
        ]


def test_a_sid_finds_its_one_call(engine):
    send(engine, "s1", T0)
    send(engine, "s2", T0 + timedelta(minutes=1))
    store_reports(engine, [report("s1", T0), report("orphan", T0)], "pull")
    [call] = lookup(engine, "s1")
    assert (call.send.sid, call.report.sid) == ("s1", "s1")
    [orphan] = lookup(engine, "orphan")
    assert (orphan.send, orphan.report.mobile) == (None, MOBILE)
    assert lookup(engine, "nothing") == []


def test_the_limit_keeps_the_newest_calls(engine):
    for minute in range(4):
        send(engine, f"s{minute}", T0 + timedelta(minutes=minute))
    store_reports(engine, [report("late", T0 + timedelta(minutes=10))], "pull")
    calls = lookup(engine, MOBILE, limit=3)
    assert [c.report.sid if c.send is None else c.send.sid for c in calls] == ["late", "s3", "s2"]


def test_a_lookup_reads_by_index_whatever_the_statistics_say(tmp_path):
    """SQLite's plan: searches by number, mobile and sid, never a scan of sends or reports.
    As one OR, the plan hung on the statistics: with a number column SQLite thought useless
    (bench/data.py's rows had none) it walked every send in time order, 2.5 s for a sid at
    1 M sends."""
    engine = make_engine(f"sqlite:///{tmp_path / 'plan.db'}")
    for i in range(300):
        send(engine, f"{i:032x}", T0 + timedelta(seconds=i), mobile=f"1520520{i % 30:04d}")
    with engine.begin() as connection:
        connection.exec_driver_sql("UPDATE sends SET number = NULL")
        connection.exec_driver_sql("ANALYZE")
    for query in (f"{7:032x}", "15205200007"):
        for part in (_by_send(query, 200), _by_report(query, 200)):
            sql = str(part.compile(engine, compile_kwargs={"literal_binds": True}))
            with engine.connect() as connection:
                plan = [row[3] for row in connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}")]
            assert not [step for step in plan if step.startswith("SCAN")], plan
    assert len(lookup(engine, f"{7:032x}")) == 1
    assert len(lookup(engine, "15205200007")) == 10
    engine.dispose()
