"""The weekly review's numbers: country as a dimension, comparisons with their significance,
weekly buckets, small samples, reasons by category and the raw export, each checked against
SQL over the raw tables."""

from __future__ import annotations

import io
from datetime import timedelta

import pandas as pd
import pytest
from sqlalchemy import func, select

from dashboard import charts, queries
from dashboard.queries import Filters
from dashboard.queries import export as export_module
from ingest.store.models import Report, Send
from tests.fixtures.dashboard import add_rows, report_row, send_row, utc

T0 = utc(2025, 6, 2, 2, 0)  # Monday 10:00 in China
MOBILE, TOKYO, SINGAPORE = "15205201314", "+818012345678", "+6591234567"
HOUR = Filters(T0, T0 + timedelta(hours=1))


def _calls(mobile: str, count: int, answered: int, at=T0) -> tuple[list[dict], list[dict]]:
    sends = [send_row(mobile, at + timedelta(seconds=20 * i)) for i in range(count)]
    reports = [
        report_row(send, "SUCCESS" if i < answered else "FAIL", 15) for i, send in enumerate(sends)
    ]
    return sends, reports


@pytest.fixture
def world(engine):
    """40 calls to a mainland number, 5 to Tokyo, 3 to Singapore in one hour."""
    rows = [_calls(MOBILE, 40, 30), _calls(TOKYO, 5, 1), _calls(SINGAPORE, 3, 3)]
    add_rows(engine, [s for sends, _ in rows for s in sends], [r for _, rs in rows for r in rs])
    return engine


def sql_count(engine, *where) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(Send).where(*where)).scalar()


def test_foreign_numbers_are_countries_not_provinces(world):
    options = queries.filter_options(world)
    assert options.countries == ["China", "Japan", "Singapore"]
    assert "Japan" not in options.provinces and "Singapore" not in options.provinces
    assert options.provinces == ["Jiangsu"]
    by_province = queries.answer_rate_by(world, HOUR, "province")
    assert by_province["province"].tolist() == ["Jiangsu"]


def test_country_filter_counts_what_sql_counts(world):
    japan = queries.kpis(world, Filters(HOUR.start, HOUR.end, countries=("Japan",)))
    assert japan.sends == sql_count(world, Send.mobile.like("+81%")) == 5
    china = queries.kpis(world, Filters(HOUR.start, HOUR.end, countries=("China",)))
    assert china.sends == sql_count(world, Send.mobile.not_like("+%")) == 40
    by_country = queries.answer_rate_by(world, HOUR, "country").set_index("country")
    assert by_country.loc["Japan", "sends"] == 5


def test_small_samples_get_no_rate_and_rows_go_by_volume(world):
    by_country = queries.answer_rate_by(world, HOUR, "country")
    assert by_country["country"].tolist() == ["China", "Japan", "Singapore"]  # by sends
    rates = dict(zip(by_country["country"], by_country["answer_rate"], strict=True))
    assert rates["China"] == pytest.approx(30 / 40)
    assert pd.isna(rates["Singapore"])  # 3 of 3 answered is not "100 %"
    assert pd.isna(rates["Japan"])


def test_weekly_buckets_start_on_china_mondays(engine):
    sunday_night = send_row(MOBILE, utc(2025, 6, 8, 15, 30))  # Sunday 23:30 China
    monday_early = send_row(MOBILE, utc(2025, 6, 8, 16, 30))  # Monday 00:30 China
    add_rows(engine, [sunday_night, monday_early])
    volume = queries.volume_by_outcome(engine, Filters(utc(2025, 6, 1), utc(2025, 6, 20)), "week")
    assert volume["bucket"].tolist() == [pd.Timestamp("2025-06-02"), pd.Timestamp("2025-06-09")]


def test_grain_follows_the_range():
    assert queries.grain_for(T0, T0 + timedelta(hours=1)) == "minute"
    assert queries.grain_for(T0, T0 + timedelta(days=1)) == "hour"
    assert queries.grain_for(T0, T0 + timedelta(days=30)) == "day"
    assert queries.grain_for(T0, T0 + timedelta(days=180)) == "week"


def test_comparison_says_when_there_is_nothing_comparable(engine):
    week = timedelta(days=7)
    now_sends, now_reports = _calls(MOBILE, 60, 30, at=T0)
    before_sends, before_reports = _calls(MOBILE, 2, 2, at=T0 - week)  # almost empty
    add_rows(engine, now_sends + before_sends, now_reports + before_reports)
    current = Filters(T0, T0 + week)
    table = queries.period_comparison(engine, current, current.previous(), "carrier")
    row = table.iloc[0]
    assert (row["sends"], row["sends_before"]) == (60, 2)
    assert pd.isna(row["sends_change"])  # not "+58"
    assert row["significant"] is None
    first = queries.first_send_at(engine)
    assert not queries.comparable(2, current.previous(), first)


def test_a_real_change_in_answer_rate_is_significant_and_noise_is_not(engine):
    week = timedelta(days=7)
    now_sends, now_reports = _calls(MOBILE, 200, 100, at=T0)  # 50 %
    before_sends, before_reports = _calls(MOBILE, 200, 160, at=T0 - week)  # 80 %
    add_rows(engine, now_sends + before_sends, now_reports + before_reports)
    current = Filters(T0, T0 + week)
    row = queries.period_comparison(engine, current, current.previous(), "carrier").iloc[0]
    assert row["significant"] is True
    assert row["rate_change"] == pytest.approx(-0.3)
    assert row["sends_change"] == 0
    assert queries.rate_change_significant(51, 100, 49, 100) is False


def test_failure_reasons_carry_their_category(engine):
    sends = [send_row(MOBILE, T0 + timedelta(minutes=i)) for i in range(3)]
    sends.append(send_row(MOBILE, T0 + timedelta(minutes=5), result_code=8))
    reports = [
        report_row(sends[0], "FAIL", 30, error_msg="空号"),
        report_row(sends[1], "FAIL", 30, error_msg="无人接听"),
        report_row(sends[2], "FAIL", 30, error_msg="某种新的原因"),
    ]
    add_rows(engine, sends, reports)
    reasons = queries.failure_reasons(engine, HOUR).set_index("reason")["category"].to_dict()
    assert reasons["空号"] == "no_such_number"
    assert reasons["无人接听"] == "no_answer"
    assert reasons["某种新的原因"] == "unknown"  # shown as it came, counted
    assert set(reasons.values()) >= {"refused"}
    by = queries.failure_reasons_by(engine, HOUR, "country")
    assert set(by["country"]) == {"China"} and by["failures"].sum() == 4


def test_raw_export_writes_every_send_in_chunks(world, monkeypatch):
    monkeypatch.setattr(export_module, "CHUNK_ROWS", 7)  # several chunks from 48 rows
    out = io.BytesIO()
    written = export_module.write_sends_csv(
        world, HOUR, out, lambda chunk: chunk, header="voicewatch sends · test"
    )
    text = out.getvalue().decode("utf-8-sig")
    first, rest = text.split("\n", 1)
    assert first == "# voicewatch sends · test"
    rows = pd.read_csv(io.StringIO(rest), dtype={"mobile": str})
    with world.connect() as conn:
        reported = conn.execute(select(func.count()).select_from(Report)).scalar()
    assert written == len(rows) == sql_count(world) == 48
    assert rows["status"].notna().sum() == reported
    named = ["fee_credits" if c == "fee" else c for c in export_module.RAW_COLUMNS]
    assert rows.columns.tolist() == named  # the fee's unit in its column's name
    assert set(rows["country"]) == {"China", "Japan", "Singapore"}
    assert rows["sent_at"].iloc[0] == "2025-06-02 10:00:00"  # China time


def test_answer_rate_lines_break_across_quiet_hours():
    hours = [pd.Timestamp("2025-06-02 20:00"), pd.Timestamp("2025-06-02 21:00")]
    hours += [pd.Timestamp("2025-06-03 08:00"), pd.Timestamp("2025-06-03 09:00")]
    df = pd.DataFrame(
        {"bucket": hours, "carrier": "China Mobile", "answered": 15, "reported": 20}
    ).assign(answer_rate=15 / 20)
    spec = charts.answer_rate_chart(df, "hour").to_dict()
    segments = {row["segment"] for row in spec["datasets"][next(iter(spec["datasets"]))]}
    assert len(segments) == 2  # one line before the night, one after
    assert spec["encoding"]["detail"]["field"] == "segment"


def test_answer_rate_points_on_a_handful_of_calls_are_not_drawn():
    df = pd.DataFrame(
        {
            "bucket": [pd.Timestamp("2025-06-02 10:00"), pd.Timestamp("2025-06-02 11:00")],
            "carrier": "other",
            "answered": [40, 1],
            "reported": [50, 1],  # 1 of 1 is not "100 %"
        }
    ).assign(answer_rate=lambda d: d["answered"] / d["reported"])
    spec = charts.answer_rate_chart(df, "hour").to_dict()
    drawn = spec["datasets"][next(iter(spec["datasets"]))]
    assert [row["reported"] for row in drawn] == [50]


def test_heatmap_labels_every_column():
    df = pd.DataFrame(
        {
            "carrier": ["China Mobile"] * 8,
            "category": [f"category {i}" for i in range(8)],
            "failures": range(1, 9),
        }
    )
    spec = charts.reasons_heatmap(df, "carrier").to_dict()
    assert spec["encoding"]["x"]["axis"]["labelOverlap"] is False
    assert len(spec["encoding"]["x"]["sort"]) == 8
