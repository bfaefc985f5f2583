"""dashboard.queries against real databases: seeded history and hand-made rows."""

from __future__ import annotations

import math
import random
from dataclasses import replace
from datetime import timedelta

import pandas as pd
import pytest
from sqlalchemy import func, literal_column, select

from dashboard import queries
from dashboard.queries import Filters
from dashboard.queries._sql import filtered, with_reports
from ingest.settings import Secret
from ingest.store.models import Report, Send
from ingest.store.rollups import delay_ds_sql
from ingest.store.writes import code_digest
from ingest.throttle import EXAMPLE_LIMITS, ThrottleLimits
from tests.fixtures.dashboard import add_rows, report_row, send_row, utc

T0 = utc(2025, 6, 2, 2, 0)  # Monday 10:00 in China
MOBILE, UNICOM = "15205201314", "13012345678"


def whole(db) -> Filters:
    return Filters(db.summary.start, db.summary.end + timedelta(seconds=1))


# ------------------------------------------------------------- seeded history


def test_kpis_over_the_seeded_range_equal_what_was_seeded(seeded):
    kpi = queries.kpis(seeded.engine, whole(seeded))
    s = seeded.summary
    assert (kpi.sends, kpi.accepted, kpi.answered, kpi.failed) == (
        s.sends,
        s.accepted,
        s.answered,
        s.failed,
    )
    assert (kpi.throttled, kpi.rejected, kpi.pending) == (s.throttled, s.rejected, s.pending)
    assert kpi.fees == pytest.approx(s.fees)
    assert kpi.answer_rate == pytest.approx(s.answered / (s.answered + s.failed))
    assert 10 <= kpi.median_answer_s <= kpi.p95_answer_s <= 60


def test_previous_period_before_the_seed_is_empty(seeded):
    previous = queries.kpi_comparison(seeded.engine, whole(seeded)).previous
    assert previous.sends == 0 and previous.answer_rate is None and previous.median_answer_s is None


def answer_times(engine, filters: Filters) -> tuple[float | None, float | None]:
    """Nearest-rank median and p95 of the answered calls in `filters`, from the raw rows."""
    delay = literal_column(
        delay_ds_sql(engine.dialect.name, "reports.user_receive_time", "sends.sent_at")
    )
    stmt = filtered(with_reports(select(delay)), filters).where(
        Report.status == "SUCCESS", Report.user_receive_time.is_not(None)
    )
    with engine.connect() as conn:
        tenths = sorted(conn.execute(stmt).scalars())
    if not tenths:
        return None, None
    median, p95 = (tenths[max(0, math.ceil(q * len(tenths)) - 1)] / 10 for q in (0.5, 0.95))
    return median, p95


def test_answer_times_of_a_period_and_the_one_before_equal_the_raw_rows(seeded):
    """Edges read as whole hours or days minus what lies outside, the boundary the two
    periods share read once: exact anyway."""
    rng = random.Random(4)
    for _ in range(8):
        end = seeded.now - timedelta(seconds=rng.uniform(0, 5 * 86400))
        length = timedelta(seconds=rng.uniform(3600, 4 * 86400))
        f = Filters(end - length, end, carriers=rng.choice([(), ("China Mobile",)]))
        kpi = queries.kpi_comparison(seeded.engine, f)
        current = (kpi.current.median_answer_s, kpi.current.p95_answer_s)
        previous = (kpi.previous.median_answer_s, kpi.previous.p95_answer_s)
        assert current == answer_times(seeded.engine, f)
        assert previous == answer_times(seeded.engine, f.previous())


def test_volume_fees_and_rates_add_up_to_the_seeded_totals(seeded):
    f = whole(seeded)
    volume = queries.volume_by_outcome(seeded.engine, f)
    totals = volume.groupby("outcome")["sends"].sum()
    assert totals.sum() == seeded.summary.sends
    assert totals["answered"] == seeded.summary.answered
    assert totals["throttled"] == seeded.summary.throttled
    assert queries.fees_per_day(seeded.engine, f)["fees"].sum() == pytest.approx(
        seeded.summary.fees
    )
    by_carrier = queries.answer_rate_by(seeded.engine, f, "carrier")
    assert by_carrier["answered"].sum() == seeded.summary.answered
    over_time = queries.answer_rate_over_time(seeded.engine, f)
    assert set(over_time["carrier"]) <= {"China Mobile", "China Unicom", "China Telecom", "other"}


def test_failure_reasons_cover_every_failed_call_and_refused_send(seeded):
    reasons = queries.failure_reasons(seeded.engine, whole(seeded))
    calls = reasons[reasons["stage"] == "call"]["failures"].sum()
    refused = reasons[reasons["stage"] == "send"]["failures"].sum()
    assert (calls, refused) == (seeded.summary.failed, seeded.summary.rejected)
    assert reasons["share"].sum() == pytest.approx(1.0)
    code8 = reasons[reasons["code"] == 8].iloc[0]
    assert code8["reason"] == "[8] same content to the number within 30 s"
    assert code8["yunpian_msg"] == "同一手机号30秒内重复提交相同的内容"


def test_filters_narrow_every_count(seeded):
    f = whole(seeded)
    unicom = Filters(f.start, f.end, carriers=("China Unicom",), sources=("relay",))
    with seeded.engine.connect() as conn:
        expected = conn.execute(
            select(func.count()).where(Send.carrier == "China Unicom", Send.source == "relay")
        ).scalar()
    assert queries.kpis(seeded.engine, unicom).sends == expected
    by = queries.answer_rate_by(seeded.engine, unicom, "carrier")
    assert list(by["carrier"]) == ["China Unicom"]


def raw_no_report(engine, filters: Filters, sent_before) -> int:
    """Accepted sends in `filters` sent before `sent_before` with no report, from the raw rows."""
    stmt = filtered(with_reports(select(func.count())), filters).where(
        Send.result_code == 0, Send.sent_at < sent_before, Report.id.is_(None)
    )
    with engine.connect() as conn:
        return conn.execute(stmt).scalar_one()


def test_ongoing_abuse_is_at_a_throttle_limit(seeded):
    at_limit = queries.throttle_pressure(
        seeded.engine, seeded.now, EXAMPLE_LIMITS, only_at_limit=True
    )
    assert len(at_limit) >= 1 and (at_limit["at_limit"] != "").all()
    frequent = queries.frequent_numbers(seeded.engine, whole(seeded))
    assert (frequent["sends"] >= 8).all() and len(frequent) > 0


def test_health_reads_the_seeded_ingest_history(seeded):
    health = queries.health_summary(seeded.engine, seeded.now)
    assert health.malformed_last_24h == 3 and health.pulls_last_hour == 360
    assert health.pull_lag_s is not None and health.pull_lag_s < 15
    counts = queries.raw_inbox_counts(seeded.engine, seeded.now - timedelta(days=1))
    assert counts["bodies"].sum() == seeded.summary.raw_bodies
    malformed = queries.malformed_bodies(seeded.engine)
    assert len(malformed) == 3 and malformed["preview"].str.startswith("voice_status=").all()
    assert len(queries.recent_pull_runs(seeded.engine, limit=10)) == 10


# ------------------------------------------------------------- hand-made rows


def test_buckets_are_china_time(engine):
    late = send_row(MOBILE, utc(2025, 6, 1, 23, 30))  # 07:30 on 2 June in China
    add_rows(engine, [late])
    volume = queries.volume_by_outcome(engine, Filters(utc(2025, 6, 1), utc(2025, 6, 3)), "hour")
    assert volume["bucket"].tolist() == [pd.Timestamp("2025-06-02 07:00")]
    fees = queries.fees_per_day(engine, Filters(utc(2025, 6, 1), utc(2025, 6, 3)))
    assert fees["day"].tolist() == [pd.Timestamp("2025-06-02")]


def test_kpis_exact_on_hand_made_rows(engine):
    sends = [send_row(MOBILE, T0 + timedelta(minutes=i)) for i in range(4)]
    sends.append(
        send_row(UNICOM, T0, result_code=8, result_msg="同一手机号30秒内重复提交相同的内容")
    )
    reports = [
        report_row(sends[0], "SUCCESS", 10, duration=20),
        report_row(sends[1], "SUCCESS", 20, duration=30),
        report_row(sends[2], "FAIL", 40),
    ]
    add_rows(engine, sends, reports)
    kpi = queries.kpis(engine, Filters(T0, T0 + timedelta(hours=1)))
    assert (kpi.sends, kpi.accepted, kpi.answered, kpi.failed, kpi.pending) == (5, 4, 2, 1, 1)
    assert (kpi.throttled, kpi.fees, kpi.cost_per_answered) == (1, 4.0, 2.0)
    assert (kpi.median_answer_s, kpi.p95_answer_s, kpi.mean_duration_s) == (10.0, 20.0, 25.0)
    assert kpi.answer_rate == pytest.approx(2 / 3)


def test_no_report_count_equals_the_raw_rows_with_filters_and_any_now(engine):
    """The Overview's "no report" tile reads the rollups: it must count what the raw rows say,
    within the sidebar's filters, and leave the calls younger than the set time pending."""
    rng = random.Random(16)
    sends, reports = [], []
    for _ in range(120):
        sent_at = T0 + timedelta(seconds=rng.uniform(0, 2 * 86400))
        send = send_row(rng.choice([MOBILE, UNICOM]), sent_at, result_code=rng.choice([0, 0, 8]))
        sends.append(send)
        if send["result_code"] == 0 and rng.random() < 0.6:
            reports.append(report_row(send, rng.choice(["SUCCESS", "FAIL"]), 30))
    add_rows(engine, sends, reports)
    after = timedelta(minutes=15)
    for _ in range(8):
        end = T0 + timedelta(seconds=rng.uniform(3600, 2 * 86400))
        f = Filters(end - timedelta(hours=rng.uniform(1, 30)), end)
        f = replace(f, carriers=rng.choice([(), ("China Unicom",)]))
        now = end + timedelta(seconds=rng.uniform(-3600, 600))
        shown = queries.no_report_count(engine, f, now, after)
        assert shown == raw_no_report(engine, f, now - after)
    everything = Filters(T0, T0 + timedelta(days=3))
    total = raw_no_report(engine, everything, everything.end)
    assert queries.no_report_count(engine, everything, everything.end + after) == total > 20


def test_volume_splits_calls_with_no_report_from_the_pending_ones(engine):
    old = send_row(MOBILE, T0 + timedelta(minutes=1))
    young = send_row(MOBILE, T0 + timedelta(minutes=40))
    answered = send_row(UNICOM, T0 + timedelta(minutes=2))
    add_rows(engine, [old, young, answered], [report_row(answered, "SUCCESS", 10)])
    hour = Filters(T0, T0 + timedelta(hours=1))
    cutoff = T0 + timedelta(minutes=30)  # now minus the no-report time
    volume = queries.volume_by_outcome(engine, hour, "hour", no_report_before=cutoff)
    shown = dict(zip(volume["outcome"], volume["sends"], strict=True))
    assert shown == {"answered": 1, "no report": 1, "pending": 1}
    plain = queries.volume_by_outcome(engine, hour, "hour")
    assert dict(zip(plain["outcome"], plain["sends"], strict=True))["pending"] == 2


def test_latest_failures_newest_first_with_code_meaning(engine):
    accepted = send_row(MOBILE, T0)
    refused = send_row(UNICOM, T0 + timedelta(minutes=5), result_code=3)
    add_rows(engine, [accepted, refused], [report_row(accepted, "FAIL", 30, error_msg="空号")])
    latest = queries.latest_failures(engine, Filters(T0, T0 + timedelta(hours=1)))
    assert latest["stage"].tolist() == ["send", "call"]
    assert latest["reason"].tolist() == ["[3] balance too low", "空号"]
    assert latest["sent_at"].iloc[1] == pd.Timestamp("2025-06-02 10:00:00")  # China time


def test_throttle_pressure_counts_each_window(engine):
    now = T0
    digest = "a" * 64
    sends = [
        send_row(MOBILE, now - timedelta(seconds=s), code_digest=digest) for s in (10, 100, 200)
    ] + [send_row(MOBILE, now - timedelta(minutes=m)) for m in (20, 40, 600)]
    sends.append(send_row(MOBILE, now - timedelta(seconds=5), result_code=8, code_digest=digest))
    add_rows(engine, sends)
    row = queries.throttle_pressure(engine, now, EXAMPLE_LIMITS).iloc[0]
    assert row["mobile"] == MOBILE
    assert (row["last_30s"], row["last_5min"], row["same_code_5min"]) == (1, 3, 3)
    assert (row["last_1h"], row["last_24h"], row["throttled_24h"]) == (5, 6, 1)
    assert row["at_limit"] == "3 in 5 min, 1 h"
    # Without account limits (the default, as unconfigured), only the same-code rule counts.
    assert queries.throttle_pressure(engine, now).iloc[0]["at_limit"] == "3 in 5 min"


def test_next_send_waits_out_the_30_s_and_5_min_rules(engine):
    now = T0
    key = Secret("k")
    digest = code_digest(key, MOBILE, "123456")
    add_rows(
        engine,
        [send_row(MOBILE, now - timedelta(seconds=s), code_digest=digest) for s in (250, 120, 10)],
    )
    nxt = queries.next_accepted_send(engine, MOBILE, code_digest=digest, now=now)
    # 3 of the same code in 5 min: the oldest (250 s ago) must leave the window.
    assert nxt.same_code_at == now + timedelta(seconds=50)
    assert nxt.new_code_at == now and nxt.codes == (8, 9)
    fresh = queries.next_accepted_send(
        engine, MOBILE, code_digest=code_digest(key, MOBILE, "999999"), now=now
    )
    assert fresh.same_code_at == now and fresh.codes == ()


def test_next_send_for_a_new_code_respects_the_hourly_limit(engine):
    now = T0
    add_rows(
        engine,
        [
            send_row(MOBILE, now - timedelta(minutes=m), code_digest=f"{m:064d}")
            for m in (5, 10, 20, 30, 50)
        ],
    )
    # The account's limits are configuration: none unless set, as the simulator has.
    assert queries.next_accepted_send(engine, MOBILE, now=now).new_code_at == now
    limits = ThrottleLimits(per_hour=5)
    nxt = queries.next_accepted_send(engine, MOBILE, now=now, limits=limits)
    assert nxt.new_code_at == now + timedelta(minutes=10)  # the send 50 min ago leaves the hour
    assert nxt.codes == (22,)


def test_lookup_joins_reports_by_sid_and_keeps_orphans(engine):
    first = send_row(MOBILE, T0)
    second = send_row(MOBILE, T0 + timedelta(minutes=10))
    orphan = report_row(send_row(MOBILE, T0 + timedelta(minutes=20)), "SUCCESS", 15)
    add_rows(engine, [first, second], [report_row(first, "FAIL", 30), orphan])
    timeline = queries.lookup_timeline(engine, MOBILE)
    assert timeline["sid"].tolist() == [orphan["sid"], second["sid"], first["sid"]]
    assert timeline["source"].tolist() == ["report only", "relay", "relay"]
    assert timeline["status"].iloc[2] == "FAIL" and timeline["call_ended_after_s"].iloc[2] == 30
    by_sid = queries.lookup_timeline(engine, first["sid"])
    assert by_sid["mobile"].tolist() == [MOBILE]
    assert queries.report_for_sid(engine, second["sid"]) is None
    assert queries.report_for_sid(engine, first["sid"]).status == "FAIL"


def test_lookup_shows_a_report_for_the_number_whose_send_names_it_differently(engine):
    sent = send_row("+86" + MOBILE, T0)
    add_rows(engine, [sent], [report_row(sent, "FAIL", 30, mobile=MOBILE)])
    for written in (MOBILE, "+86" + MOBILE, "+86 152-0520-1314"):  # one number, one history
        [row] = queries.lookup_timeline(engine, written).to_dict("records")
        assert (row["sid"], row["source"], row["status"]) == (sent["sid"], "relay", "FAIL")
        assert row["user_receive_time"] == pd.Timestamp("2025-06-02 10:00:30")  # China time
        assert (row["result"], row["call_ended_after_s"]) == ("accepted", 30)
        assert row["outcome"] == "not answered"


def test_manual_sends_are_counted_per_viewer(engine):
    add_rows(
        engine,
        [
            send_row(MOBILE, T0, source="dashboard", actor="li.wei"),
            send_row(MOBILE, T0 + timedelta(minutes=1), source="dashboard", actor="li.wei"),
            send_row(MOBILE, T0, source="dashboard", actor="zhang.min"),
            send_row(MOBILE, T0, source="relay", actor="li.wei"),
        ],
    )
    assert queries.manual_sends_since(engine, "li.wei", T0) == 2
    assert queries.manual_sends_since(engine, "li.wei", T0 + timedelta(seconds=30)) == 1
