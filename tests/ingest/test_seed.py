"""ingest.seed writes believable, self-consistent history, the same every time for a seed."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import func, insert, select

from ingest.numbers import storage_key
from ingest.seed.history import seed, seed_command
from ingest.seed.live import SETTLED, LiveTraffic
from ingest.store.engine import make_engine
from ingest.store.models import PullRun, RawBody, Report, Send, TrafficMinute
from ingest.throttle import in_quiet_hours

NOW = datetime(2025, 11, 20, 6, 0, tzinfo=UTC)  # a Thursday, 14:00 in China


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('seed') / 'v.db'}")
    summary = seed(engine, days=12, per_day=400, seed=3, now=NOW, progress=False)
    with engine.connect() as conn:
        sends = conn.execute(select(Send.__table__)).mappings().all()
        reports = conn.execute(select(Report.__table__)).mappings().all()
    yield engine, summary, sends, reports
    engine.dispose()


def test_summary_counts_match_the_rows_written(seeded):
    engine, summary, sends, reports = seeded
    assert summary.sends == len(sends) > 3000
    assert summary.accepted == sum(s["result_code"] == 0 for s in sends)
    assert summary.rejected == summary.sends - summary.accepted
    assert summary.throttled == sum(s["result_code"] in (8, 9, 17, 22) for s in sends) > 0
    assert summary.answered == sum(r["status"] == "SUCCESS" for r in reports)
    assert summary.failed == sum(r["status"] == "FAIL" for r in reports)
    assert summary.accepted == summary.answered + summary.failed + summary.pending
    assert summary.fees == sum(s["fee"] for s in sends) == summary.accepted
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(PullRun)).scalar() == summary.pull_runs
        assert (
            conn.execute(select(func.count()).select_from(RawBody)).scalar() == summary.raw_bodies
        )


def test_no_domestic_call_in_the_chinese_night(seeded):
    _, _, sends, _ = seeded
    domestic = [s for s in sends if not s["mobile"].startswith("+")]
    assert domestic and not any(in_quiet_hours(s["sent_at"]) for s in domestic)
    assert any(s["mobile"].startswith("+") and in_quiet_hours(s["sent_at"]) for s in sends)


def test_accepted_and_rejected_sends_look_like_yunpians_answers(seeded):
    _, _, sends, _ = seeded
    for send in sends:
        assert re.fullmatch(r"[0-9a-f]{64}", send["code_digest"])
        if send["result_code"] == 0:
            assert (
                re.fullmatch(r"[0-9a-f]{32}", send["sid"])
                and send["fee"] == 1
                and send["count"] == 1
            )
        else:
            assert send["sid"] is None and send["fee"] == 0 and send["count"] == 0
    codes = {s["result_code"] for s in sends}
    assert {0, 2, 3, 8, 9}.issubset(codes)
    assert {s["source"] for s in sends} == {"relay", "cli", "dashboard"}
    carriers = {s["carrier"] for s in sends}
    assert {"China Mobile", "China Unicom", "China Telecom"}.issubset(carriers)


def test_every_code_8_follows_the_same_code_within_30_seconds(seeded):
    _, _, sends, _ = seeded
    accepted = [
        (s["mobile"], s["code_digest"], s["sent_at"]) for s in sends if s["result_code"] == 0
    ]
    for send in (s for s in sends if s["result_code"] == 8):
        assert any(
            m == send["mobile"]
            and d == send["code_digest"]
            and timedelta(0) <= send["sent_at"] - t < timedelta(seconds=30)
            for m, d, t in accepted
        )


def test_reports_belong_to_accepted_sends_and_end_10_to_60_s_later(seeded):
    _, _, sends, reports = seeded
    by_sid = {s["sid"]: s for s in sends if s["sid"]}
    for report in reports:
        send = by_sid[report["sid"]]
        delay = (report["user_receive_time"] - send["sent_at"]).total_seconds()
        assert 9 <= delay <= 61  # user_receive_time is whole seconds, like Yunpian's
        assert report["via_push"] or report["via_pull"]
        assert report["first_seen"] <= report["last_seen"] <= NOW
        assert (report["duration"] > 0) == (report["status"] == "SUCCESS")
    texts = {r["error_msg"] for r in reports if r["status"] == "FAIL"}
    assert {"用户拒接", "无人接听", "用户关机", "空号", "Send Exception"}.issubset(texts)


def test_the_unicom_incident_shows_as_a_collapsed_answer_rate(seeded):
    _, summary, sends, reports = seeded
    incident = next(i for i in summary.incidents if i.carrier == "China Unicom")
    sids = {s["sid"] for s in sends if s["sid"] and incident.covers(s["carrier"], s["sent_at"])}
    during = [r for r in reports if r["sid"] in sids]
    answered = sum(r["status"] == "SUCCESS" for r in during) / len(during)
    overall = summary.answered / (summary.answered + summary.failed)
    assert answered < 0.5 < overall


def test_same_seed_and_now_give_the_same_database(tmp_path):
    first, second = (make_engine(f"sqlite:///{tmp_path / name}") for name in ("a.db", "b.db"))
    assert seed(first, days=3, per_day=200, now=NOW, progress=False) == seed(
        second, days=3, per_day=200, now=NOW, progress=False
    )
    rows = []
    for engine in (first, second):
        with engine.connect() as conn:
            columns = [Send.sent_at, Send.mobile, Send.sid, Send.result_code, Send.code_digest]
            rows.append(conn.execute(select(*columns).order_by(Send.id)).all())
    assert rows[0] == rows[1]


def test_seed_command_fills_the_configured_database(tmp_path, monkeypatch):
    db = tmp_path / "cli.db"
    monkeypatch.setenv("VOICEWATCH_DB", f"sqlite:///{db}")
    result = CliRunner().invoke(seed_command, ["--days", "2", "--per-day", "100", "--seed", "5"])
    assert result.exit_code == 0, result.output
    engine = make_engine(f"sqlite:///{db}")
    with engine.connect() as conn:
        count = conn.execute(select(func.count()).select_from(Send)).scalar()
    assert count > 0 and f"seeded {count} sends" in result.output


def test_the_live_span_is_the_demo_traffic_hour_by_hour_and_settled(engine):
    """`voicewatch up`'s seed: its last hours at the live rate, every hour alike, each call
    with its report, domestic numbers silent in quiet hours; the rows as the models store them
    (on each database) and the rollup triggers back in place after the bulk load."""
    live = LiveTraffic(0.2, quiet_hours=True, span=timedelta(hours=10))
    summary = seed(engine, days=2, per_day=300, seed=4, now=NOW, progress=False, live=live)
    with engine.connect() as conn:
        sends = conn.execute(select(Send.__table__).order_by(Send.id)).mappings().all()
        reports = conn.execute(select(Report.__table__)).mappings().all()
        minutes = conn.execute(select(func.sum(TrafficMinute.sends))).scalar_one()
    recent = [s for s in sends if s["sent_at"] >= NOW - live.span]
    assert summary.sends == len(sends) == minutes and summary.pending == 0
    assert len({r["sid"] for r in reports}) == summary.accepted
    assert all(s["number"] == storage_key(s["mobile"]) for s in sends)
    assert all(s["sent_at"] < NOW - SETTLED for s in recent if s["mobile"][0] != "+")
    for hour in range(10):  # 14:00 back to 04:00 in China: awake, waking at 07:30, quiet
        start = NOW - timedelta(hours=hour + 1)
        calls = [s for s in recent if start <= s["sent_at"] < start + timedelta(hours=1)]
        domestic = [s for s in calls if s["mobile"][0] != "+" and s["carrier"] != "unknown"]
        quiet = [in_quiet_hours(start + timedelta(minutes=m)) for m in (0, 59)]
        if all(quiet):
            assert calls and not domestic
        elif not any(quiet) and start + timedelta(hours=1) <= NOW - SETTLED:
            assert 600 <= len(calls) <= 840  # 720 expected at 0.2/s
    with engine.begin() as conn:
        row = {k: v for k, v in sends[0].items() if k != "id"} | {"sid": "after-the-seed"}
        conn.execute(insert(Send), [row])
        after = conn.execute(select(func.sum(TrafficMinute.sends))).scalar_one()
    assert after == minutes + 1  # the triggers keep the rollups again


def test_seeded_times_are_stored_as_the_models_store_them(tmp_path):
    """On SQLite times are text, compared as text: a time written by the bulk load in another
    form ('… 11:13:53+00:00' against SQLAlchemy's '… 11:13:53.000000') fell outside a range
    that began on that very second (the health page counted 359 pulls in the hour, not 360)."""
    engine = make_engine(f"sqlite:///{tmp_path / 'seeded.db'}")
    live = LiveTraffic(0.05, span=timedelta(hours=3))
    seed(engine, days=1, per_day=100, seed=3, now=NOW, progress=False, live=live)
    with engine.begin() as conn:
        conn.execute(insert(PullRun), [{"started_at": NOW, "finished_at": NOW}])
        orm_form = conn.exec_driver_sql(
            "SELECT started_at FROM pull_runs ORDER BY id DESC LIMIT 1"
        ).scalar_one()
        for table, column in (
            ("sends", "sent_at"),
            ("reports", "user_receive_time"),
            ("pull_runs", "started_at"),
            ("raw_inbox", "received_at"),
        ):
            stored = conn.exec_driver_sql(f"SELECT {column} FROM {table} LIMIT 1").scalar_one()
            assert len(stored) == len(orm_form) and stored[19] == orm_form[19], (table, stored)
