"""Rollups stay equal to an aggregate computed from scratch (in Python, from the raw rows)
whatever the order, repetition and corrections of deliveries — on SQLite and PostgreSQL."""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
from sqlalchemy import case, delete, func, literal_column, select, text, update

from dashboard import queries
from dashboard.queries import Filters
from dashboard.queries._sql import filtered, with_reports
from ingest.seed.history import seed
from ingest.store.failure_rollup import KEYS as FAILURE_KEYS
from ingest.store.failure_rollup import NO_REASON, REASON_CHARS
from ingest.store.models import (
    AnswerDelayDay,
    AnswerDelayHour,
    FailureDay,
    FailureHour,
    NumberDay,
    Report,
    Send,
    TrafficDay,
    TrafficHour,
    TrafficMinute,
)
from ingest.store.number_rollup import MEASURES as NUMBER_MEASURES
from ingest.store.rollups import MEASURES, delay_ds_sql, rebuild_rollups
from ingest.store.upserts import store_reports
from ingest.store.writes import purge_older_than, record_send
from ingest.yunpian.codes import NUMBER_THROTTLE_CODES
from ingest.yunpian.reports import MAX_ERROR_MSG
from ingest.yunpian.reports import Report as ReportRecord

T0 = datetime(2026, 11, 20, 15, 58, tzinfo=UTC)  # 23:58 in China: sends straddle a China day
MOBILES = ["15205201314", "13012345678", "18912345678", "+14155550123"]
TRAFFIC = {"minute": TrafficMinute, "hour": TrafficHour, "day": TrafficDay}
DELAYS = {"hour": AnswerDelayHour, "day": AnswerDelayDay}
FAILURES = {"hour": FailureHour, "day": FailureDay}


def _floor(at: datetime, grain: str) -> datetime:
    if grain == "minute":
        return at.replace(second=0, microsecond=0)
    if grain == "hour":
        return at.replace(minute=0, second=0, microsecond=0)
    china = at + timedelta(hours=8)
    return china.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(hours=8)


def expected(engine) -> dict:
    """Every rollup computed in Python from sends and reports: {table: {key: values}}."""
    with engine.connect() as connection:
        sends = connection.execute(select(Send)).all()
        reports = {r.sid: r for r in connection.execute(select(Report))}
    result: dict = {}
    for grain, model in TRAFFIC.items():
        rows: dict = defaultdict(Counter)
        for s in sends:
            r = reports.get(s.sid) if s.sid else None
            status = r.status if r else None
            ok = s.result_code == 0
            rows[(_floor(s.sent_at, grain), s.carrier, s.province, s.source)].update(
                sends=1,
                accepted=ok,
                throttled=s.result_code in NUMBER_THROTTLE_CODES,
                rejected=not ok,
                fees=s.fee,
                reported=r is not None,
                answered=status == "SUCCESS",
                failed=status == "FAIL",
                answered_accepted=ok and status == "SUCCESS",
                failed_accepted=ok and status == "FAIL",
                answered_duration=r.duration if status == "SUCCESS" else 0,
            )
        result[model.__tablename__] = {
            key: tuple(float(counts[m]) for m in MEASURES) for key, counts in rows.items()
        }
    # The delay's definition (tenths of a second, per dialect) is the SQL one; its counting is not.
    delay = delay_ds_sql(engine.dialect.name, "r.user_receive_time", "s.sent_at")
    with engine.connect() as connection:
        answered = connection.execute(
            text(
                f"SELECT s.sent_at, s.carrier, {delay} FROM sends s JOIN reports r ON r.sid = s.sid "
                "WHERE r.status = 'SUCCESS' AND r.user_receive_time IS NOT NULL"
            )
        ).all()
    for grain, model in DELAYS.items():
        histogram: Counter = Counter()
        for sent_at, carrier, tenths in answered:
            sent_at = sent_at if isinstance(sent_at, datetime) else datetime.fromisoformat(sent_at)
            histogram[(_floor(sent_at.replace(tzinfo=UTC), grain), carrier, tenths)] += 1
        result[model.__tablename__] = {key: (float(n),) for key, n in histogram.items()}
    numbers: dict = defaultdict(Counter)
    for s in sends:
        key = (_floor(s.sent_at, "day"), s.mobile, s.carrier, s.province, s.source)
        numbers[key].update(
            sends=1,
            accepted=s.result_code == 0,
            throttled=s.result_code in NUMBER_THROTTLE_CODES,
            answered=s.sid in reports and reports[s.sid].status == "SUCCESS",
        )
    result["number_days"] = {
        key: tuple(float(counts[m]) for m in NUMBER_MEASURES) for key, counts in numbers.items()
    }
    for grain, model in FAILURES.items():
        failures: Counter = Counter()
        for s in sends:
            where = (s.carrier, s.province, s.source)
            if s.result_code not in (0, None):
                failures[(_floor(s.sent_at, grain), "send", "", s.result_code, *where)] += 1
            r = reports.get(s.sid) if s.sid else None
            if r is not None and r.status == "FAIL":
                reason = (NO_REASON if r.error_msg is None else r.error_msg)[:REASON_CHARS]
                failures[(_floor(s.sent_at, grain), "call", reason, 0, *where)] += 1
        result[model.__tablename__] = {key: (float(n),) for key, n in failures.items()}
    return result


def rolled_up(engine) -> dict:
    """What the rollup tables hold, rows that net to nothing left out."""
    result = {}
    with engine.connect() as connection:
        for model in TRAFFIC.values():
            keys = (model.at, model.carrier, model.province, model.source)
            values = [getattr(model, m) for m in MEASURES]
            rows = connection.execute(select(*keys, *values).where(model.sends != 0))
            result[model.__tablename__] = {
                tuple(row[:4]): tuple(float(v) for v in row[4:]) for row in rows
            }
        for model in DELAYS.values():
            rows = connection.execute(
                select(model.at, model.carrier, model.delay_ds, model.answered).where(
                    model.answered != 0
                )
            )
            result[model.__tablename__] = {tuple(row[:3]): (float(row[3]),) for row in rows}
        keys = (NumberDay.at, NumberDay.mobile, NumberDay.carrier, NumberDay.province)
        values = [getattr(NumberDay, m) for m in NUMBER_MEASURES]
        rows = connection.execute(
            select(*keys, NumberDay.source, *values).where(NumberDay.sends != 0)
        )
        result["number_days"] = {tuple(row[:5]): tuple(float(v) for v in row[5:]) for row in rows}
        for model in FAILURES.values():
            keys = [model.at, *(getattr(model, k) for k in FAILURE_KEYS)]
            rows = connection.execute(select(*keys, model.failures).where(model.failures != 0))
            result[model.__tablename__] = {tuple(row[:-1]): (float(row[-1]),) for row in rows}
    return result


def send(mobile: str, at: datetime, sid: str | None, result_code: int = 0, **fields) -> Send:
    return Send(
        sent_at=at,
        mobile=mobile,
        code_digest="d" * 64,
        kind="code",
        result_code=result_code,
        fee=1.0 if result_code == 0 else 0.0,
        count=1 if result_code == 0 else 0,
        sid=sid,
        source=fields.pop("source", "relay"),
        carrier=fields.pop("carrier", ""),
        province=fields.pop("province", ""),
        **fields,
    )


def report(
    sid: str, mobile: str, status: str, at: datetime | None, error_msg: str | None = None
) -> ReportRecord:
    duration = 17 if status == "SUCCESS" else 0
    return ReportRecord(
        sid=sid,
        mobile=mobile,
        status=status,
        user_receive_time=at,
        duration=duration,
        error_msg=error_msg,
    )


def long_reason(rng: random.Random) -> str:
    """The longest error_msg a report may carry, in CJK characters that do not compress: more
    than a PostgreSQL index entry holds, and past the failure rollup's REASON_CHARS."""
    return "".join(chr(rng.randrange(0x4E00, 0x9FA5)) for _ in range(MAX_ERROR_MSG))


def reasons(rng: random.Random) -> list[str | None]:
    prefix = long_reason(rng)
    # Two long ones differing only past REASON_CHARS: one reason in the rollup and on pages.
    return [None, "用户拒接", "关机", "", prefix, prefix[:-1] + "x"]


def test_rollups_equal_a_from_scratch_aggregate_after_messy_deliveries(engine):
    rng = random.Random(3)
    why_failed = reasons(rng)
    sends, deliveries = [], []
    for i in range(60):
        mobile = rng.choice(MOBILES)
        at = T0 + timedelta(seconds=rng.uniform(0, 400))  # over a minute, hour and day edge
        code = rng.choice([0, 0, 0, 0, 8, 22, 3])
        sid = f"sid-{i:04d}" if code == 0 else None
        sends.append(send(mobile, at, sid, code, source=rng.choice(["relay", "cli"])))
        if sid is None:
            continue
        first = rng.choice(["SUCCESS", "FAIL"])
        received = at + timedelta(seconds=rng.randint(5, 70))
        why = rng.choice(why_failed) if first == "FAIL" else None
        deliveries.append(report(sid, mobile, first, received, why))
        deliveries.append(report(sid, mobile, first, received, why))  # the same report again
        if rng.random() < 0.4:  # a later report corrects the status, time and reason
            later = "FAIL" if first == "SUCCESS" else "SUCCESS"
            why = rng.choice(why_failed) if later == "FAIL" else None
            deliveries.append(report(sid, mobile, later, received + timedelta(seconds=9), why))
    rng.shuffle(deliveries)
    # Half the reports arrive before their sends are recorded, out of order, by both channels.
    for chunk_start in range(0, len(deliveries) // 2, 7):
        chunk = deliveries[chunk_start : min(chunk_start + 7, len(deliveries) // 2)]
        store_reports(engine, chunk, rng.choice(["push", "pull"]))
    for s in sends:
        record_send(engine, s)
    for chunk_start in range(len(deliveries) // 2, len(deliveries), 5):
        store_reports(
            engine, deliveries[chunk_start : chunk_start + 5], rng.choice(["push", "pull"])
        )

    assert rolled_up(engine) == expected(engine)
    assert sum(v[0] for v in rolled_up(engine)["traffic_days"].values()) == 60


def test_rollups_follow_direct_updates_and_deletes(engine):
    for i, mobile in enumerate(MOBILES):
        record_send(engine, send(mobile, T0 + timedelta(minutes=i), f"s{i}"))
        store_reports(
            engine,
            [report(f"s{i}", mobile, "SUCCESS", T0 + timedelta(minutes=i, seconds=30))],
            "push",
        )
    with engine.begin() as connection:
        connection.execute(update(Report).where(Report.sid == "s0").values(status="FAIL"))
        connection.execute(update(Report).where(Report.sid == "s0").values(error_msg="关机"))
        connection.execute(update(Report).where(Report.sid == "s1").values(sid="s2-orphan"))
        connection.execute(
            update(Send).where(Send.sid == "s2").values(sent_at=T0 + timedelta(hours=3))
        )
        connection.execute(delete(Report).where(Report.sid == "s3"))
    assert rolled_up(engine) == expected(engine)
    purge_older_than(engine, days=1, now=T0 + timedelta(days=1, minutes=2))  # s0, s1 reports
    with engine.begin() as connection:
        connection.execute(delete(Send).where(Send.sid == "s2"))
    assert rolled_up(engine) == expected(engine)


def test_rebuild_gives_what_the_triggers_kept(engine):
    seed(engine, days=3, per_day=400, seed=11, now=T0, progress=False)
    kept = rolled_up(engine)
    assert kept == expected(engine)
    rebuild_rollups(engine)
    assert rolled_up(engine) == kept


@pytest.mark.parametrize("grain", ["hour", "day"])
def test_a_day_bucket_is_a_china_day(engine, grain):
    at = datetime(2026, 11, 20, 16, 30, tzinfo=UTC)  # 00:30 on 21 November in China
    record_send(engine, send(MOBILES[0], at, "x"))
    (key,) = rolled_up(engine)[TRAFFIC[grain].__tablename__]
    start = datetime(2026, 11, 20, 16, tzinfo=UTC)
    assert key[0] == start


def test_overview_reads_of_any_range_equal_the_raw_rows(engine):
    """Rollup buckets inside a range, narrower ones and raw rows at its edges: exact anyway."""
    seed(engine, days=3, per_day=600, seed=5, now=T0, progress=False)
    rng = random.Random(8)
    for _ in range(12):
        start = T0 - timedelta(seconds=rng.uniform(0, 3 * 86400))
        end = start + timedelta(seconds=rng.uniform(0, 2 * 86400))
        filters = Filters(start, end, carriers=rng.choice([(), ("China Mobile",)]))
        raw = filtered(
            with_reports(
                select(
                    func.count(),
                    func.count(Report.id),
                    func.sum(case((Report.status == "SUCCESS", 1), else_=0)),
                    func.sum(Send.fee),
                )
            ),
            filters,
        )
        with engine.connect() as connection:
            sends, reported, answered, fees = connection.execute(raw).one()
        kpi = queries.kpis(engine, filters)
        assert (kpi.sends, kpi.reported, kpi.answered) == (sends, reported, answered or 0)
        assert kpi.fees == pytest.approx(fees or 0)
        volume = queries.volume_by_outcome(engine, filters)
        assert volume["sends"].sum() == sends
        delay = literal_column(
            delay_ds_sql(engine.dialect.name, "reports.user_receive_time", "sends.sent_at")
        )
        with engine.connect() as connection:
            tenths = sorted(
                connection.execute(
                    filtered(with_reports(select(delay)), filters).where(
                        Report.status == "SUCCESS", Report.user_receive_time.is_not(None)
                    )
                ).scalars()
            )
        median = tenths[max(0, -(-len(tenths) // 2) - 1)] / 10 if tenths else None
        assert kpi.median_answer_s == median


def test_number_rankings_of_any_range_equal_the_raw_sends(engine):
    """Throttling's ranking and its listed numbers' carrier, province and answered calls read
    whole days from the number rollup and raw sends at the edges, as an edge or as its day
    minus the part outside: exact anyway, with filters too, and so are the distinct codes and
    first and last sends read from the sends."""
    seed(engine, days=3, per_day=600, seed=5, now=T0, progress=False)
    with engine.connect() as connection:
        rows = connection.execute(
            with_reports(
                select(
                    Send.sent_at,
                    Send.mobile,
                    Send.carrier,
                    Send.province,
                    Send.result_code,
                    Send.code_digest,
                    Report.status,
                )
            )
        ).all()
    columns = ["sent_at", "mobile", "carrier", "province", "code", "digest", "status"]
    sends = pd.DataFrame(rows, columns=columns)
    sends["sent_at"] = pd.to_datetime(sends["sent_at"], utc=True)
    rng = random.Random(9)
    for _ in range(10):
        start = T0 - timedelta(seconds=rng.uniform(3600, 3 * 86400))
        end = start + (T0 - start) * rng.uniform(0.3, 1)
        carriers = rng.choice([(), ("China Mobile",)])
        shown = queries.frequent_numbers(
            engine, Filters(start, end, carriers=carriers), min_sends=2, limit=500
        )
        inside = sends[(sends["sent_at"] >= start) & (sends["sent_at"] < end)]
        if carriers:
            inside = inside[inside["carrier"].isin(carriers)]
        counts = inside.groupby("mobile").agg(
            sends=("code", "size"),
            accepted=("code", lambda c: int((c == 0).sum())),
            throttled=("code", lambda c: int(c.isin(NUMBER_THROTTLE_CODES).sum())),
            answered=("status", lambda s: int((s == "SUCCESS").sum())),
            carrier=("carrier", "max"),
            province=("province", "max"),
            codes=("digest", "nunique"),
            first_sent_at=("sent_at", "min"),
            last_sent_at=("sent_at", "max"),
        )
        counts = counts[counts["sends"] >= 2]
        assert len(shown) == len(counts) > 0
        assert counts["answered"].sum() > 0
        assert (shown["numbers_total"] == len(counts)).all()
        got = shown.set_index("mobile").sort_index()
        for column in ("first_sent_at", "last_sent_at"):  # China time on the page
            counts[column] = counts[column].dt.tz_convert("Asia/Shanghai").dt.tz_localize(None)
        pd.testing.assert_frame_equal(got[counts.columns], counts.sort_index(), check_dtype=False)
    empty = Filters(T0, T0)
    assert queries.frequent_numbers(engine, empty).empty


def raw_failures(engine) -> pd.DataFrame:
    """Every failed call and refused send from the raw rows, as the Failures page counts them:
    sent_at, stage, reason, code, carrier."""
    with engine.connect() as connection:
        sends = pd.DataFrame(
            connection.execute(
                select(Send.sent_at, Send.sid, Send.result_code, Send.carrier)
            ).all(),
            columns=["sent_at", "sid", "code", "carrier"],
        )
        reports = pd.DataFrame(
            connection.execute(select(Report.sid, Report.error_msg).where(Report.status == "FAIL")),
            columns=["sid", "error_msg"],
        )
    sends["sent_at"] = pd.to_datetime(sends["sent_at"], utc=True)
    refused = sends[sends["code"].notna() & (sends["code"] != 0)].assign(stage="send")
    refused["reason"] = refused["code"].astype(int).map(queries.failures.code_reason)
    calls = sends.merge(reports, on="sid").assign(stage="call", code=pd.NA)
    calls["reason"] = calls["error_msg"].fillna(NO_REASON).str[:REASON_CHARS]
    columns = ["sent_at", "stage", "reason", "code", "carrier"]
    return pd.concat([refused[columns], calls[columns]], ignore_index=True)


def test_failure_counts_of_any_range_equal_the_raw_rows(engine):
    """The Failures page's counts read whole days from the failure rollup and raw rows at
    the edges (or for hour buckets): exact anyway, per reason, carrier and bucket, filtered."""
    seed(engine, days=4, per_day=500, seed=5, now=T0, progress=False)
    rng = random.Random(4)
    for i, why in enumerate(reasons(rng)):  # reasons past REASON_CHARS, none, empty
        at = T0 - timedelta(hours=30 + i)
        record_send(engine, send("15205201314", at, f"why-{i}", carrier="China Mobile"))
        store_reports(engine, [report(f"why-{i}", "15205201314", "FAIL", at, why)], "push")
    failures = raw_failures(engine)
    # Two hours into a China day to two hours before one ends: whole days less both edges.
    ranges = [(T0 - timedelta(days=3, hours=-2), T0 - timedelta(hours=2), ())] * 2
    for _ in range(8):  # over a day or more: whole days from the rollup, edges in or out
        start = T0 - timedelta(seconds=rng.uniform(1.2 * 86400, 3.5 * 86400))
        end = start + (T0 - start) * rng.uniform(0.6, 1)
        ranges.append((start, end, rng.choice([(), ("China Mobile",)])))
    ranges[1] = (*ranges[1][:2], ("China Mobile",))
    throttled_seen = 0
    for start, end, carriers in ranges:
        filters = Filters(start, end, carriers=carriers)
        inside = failures[(failures["sent_at"] >= start) & (failures["sent_at"] < end)]
        if carriers:
            inside = inside[inside["carrier"].isin(carriers)]
        assert len(inside) > 0

        keys = ["stage", "reason"]
        shown = queries.failure_reasons(engine, filters).set_index(keys)["failures"]
        raw = inside.groupby(keys).size()
        assert shown.sort_index().to_dict() == raw.sort_index().to_dict()

        keys = ["carrier", "stage", "reason"]
        shown = queries.failure_reasons_by(engine, filters, "carrier").set_index(keys)
        assert shown["failures"].to_dict() == inside.groupby(keys).size().to_dict()

        for grain, floor in (("day", "D"), ("hour", "h")):
            shown = queries.failures_over_time(engine, filters, grain)
            china = inside["sent_at"].dt.tz_convert("Asia/Shanghai").dt.tz_localize(None)
            raw = inside.assign(bucket=china.dt.floor(floor)).groupby(["bucket", *keys[1:]])
            shown = shown.set_index(["bucket", "stage", "reason"])["failures"]
            assert shown.to_dict() == raw.size().to_dict()

            # Throttling's rejections over time are refused sends with a throttle code.
            throttled = inside[inside["code"].isin(NUMBER_THROTTLE_CODES)]
            raw = throttled.assign(bucket=china.dt.floor(floor)).groupby(["bucket", "code"])
            shown = queries.throttle_rejections_over_time(engine, filters, grain)
            assert (
                shown.set_index(["bucket", "code"])["rejections"].to_dict() == raw.size().to_dict()
            )
            throttled_seen += len(throttled)
    assert throttled_seen > 0
    assert queries.failure_reasons(engine, Filters(T0, T0)).empty
