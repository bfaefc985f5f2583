"""Traffic: KPI tiles, volume by outcome, answer rates, fees."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from sqlalchemy import Engine, case, func, literal, select

from dashboard.queries._sql import (
    REPORTS,
    SENDS,
    THROTTLE_CODES,
    Filters,
    bucket,
    buckets_to_time,
    carrier_group,
    filtered,
    frame,
    grain_for,
    rate,
    seconds_between,
    with_reports,
)

ANSWERED = REPORTS.c.status == "SUCCESS"
UNANSWERED = REPORTS.c.status == "FAIL"
OUTCOMES = ("answered", "not answered", "pending", "throttled", "rejected")


@dataclass(frozen=True)
class FilterOptions:
    carriers: list[str]
    provinces: list[str]
    sources: list[str]


@dataclass(frozen=True)
class Kpis:
    """Headline numbers for one period. Times in seconds; None when nothing to measure."""

    sends: int
    accepted: int
    answered: int
    failed: int  # reported and not answered
    throttled: int  # rejected with 8, 9, 17 or 22
    rejected: int  # every rejection, throttled included
    fees: float
    median_answer_s: float | None  # send -> user_receive_time of answered calls
    p95_answer_s: float | None
    mean_duration_s: float | None

    @property
    def reported(self) -> int:
        return self.answered + self.failed

    @property
    def pending(self) -> int:
        return self.accepted - self.reported

    @property
    def answer_rate(self) -> float | None:
        """Answered share of the calls whose report has arrived."""
        return self.answered / self.reported if self.reported else None

    @property
    def cost_per_answered(self) -> float | None:
        return self.fees / self.answered if self.answered else None


@dataclass(frozen=True)
class KpiComparison:
    current: Kpis
    previous: Kpis


def _sum_if(condition) -> object:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def filter_options(engine: Engine) -> FilterOptions:
    """The carriers, provinces and sources seen in sends, for the sidebar pickers."""
    values = {}
    for name in ("carrier", "province", "source"):
        column = SENDS.c[name]
        stmt = select(column).distinct().where(column != "").order_by(column)
        with engine.connect() as conn:
            values[name] = [v for v in conn.execute(stmt).scalars() if v]
    return FilterOptions(values["carrier"], values["province"], values["source"])


def kpis(engine: Engine, filters: Filters) -> Kpis:
    """Counts, fees and timing for the sends in `filters`."""
    stmt = with_reports(
        select(
            func.count().label("sends"),
            _sum_if(SENDS.c.result_code == 0).label("accepted"),
            _sum_if(ANSWERED).label("answered"),
            _sum_if(UNANSWERED).label("failed"),
            _sum_if(SENDS.c.result_code.in_(THROTTLE_CODES)).label("throttled"),
            _sum_if(SENDS.c.result_code != 0).label("rejected"),
            func.coalesce(func.sum(SENDS.c.fee), 0).label("fees"),
            func.avg(case((ANSWERED, REPORTS.c.duration))).label("mean_duration_s"),
        )
    )
    with engine.connect() as conn:
        row = conn.execute(filtered(stmt, filters)).mappings().one()
    median, p95 = _answer_time_percentiles(engine, filters, row["answered"], (0.5, 0.95))
    mean_duration = row["mean_duration_s"]
    return Kpis(
        sends=int(row["sends"]),
        accepted=int(row["accepted"]),
        answered=int(row["answered"]),
        failed=int(row["failed"]),
        throttled=int(row["throttled"]),
        rejected=int(row["rejected"]),
        fees=float(row["fees"]),
        median_answer_s=median,
        p95_answer_s=p95,
        mean_duration_s=float(mean_duration) if mean_duration is not None else None,
    )


def _answer_time_percentiles(engine: Engine, filters: Filters, answered: int, qs) -> list:
    """Nearest-rank percentiles of send->answer seconds, read as single rows at an OFFSET of
    the sorted values: exact, portable, and never loads the column into Python."""
    if not answered:
        return [None for _ in qs]
    delay = seconds_between(engine, REPORTS.c.user_receive_time, SENDS.c.sent_at)
    base = filtered(with_reports(select(delay.label("delay"))), filters).where(
        ANSWERED, REPORTS.c.user_receive_time.is_not(None)
    )
    values = []
    with engine.connect() as conn:
        for q in qs:
            rank = max(0, min(answered - 1, int(-(-q * answered // 1)) - 1))
            value = conn.execute(base.order_by(delay).offset(rank).limit(1)).scalar()
            values.append(round(float(value), 1) if value is not None else None)
    return values


def kpi_comparison(engine: Engine, filters: Filters) -> KpiComparison:
    """KPIs for `filters` and for the equal-length period before it."""
    return KpiComparison(kpis(engine, filters), kpis(engine, filters.previous()))


def _outcome():
    return case(
        (SENDS.c.result_code.in_(THROTTLE_CODES), literal("throttled")),
        (SENDS.c.result_code != 0, literal("rejected")),
        (ANSWERED, literal("answered")),
        (UNANSWERED, literal("not answered")),
        else_=literal("pending"),
    )


def volume_by_outcome(engine: Engine, filters: Filters, grain: str | None = None) -> pd.DataFrame:
    """Sends per China-time bucket and outcome: bucket, outcome, sends."""
    when = bucket(engine, SENDS.c.sent_at, grain or grain_for(filters.start, filters.end))
    outcome = _outcome()
    stmt = with_reports(
        select(when.label("bucket"), outcome.label("outcome"), func.count().label("sends"))
    )
    stmt = filtered(stmt, filters).group_by(when, outcome).order_by(when)
    return buckets_to_time(frame(engine, stmt))


def answer_rate_over_time(
    engine: Engine, filters: Filters, grain: str | None = None
) -> pd.DataFrame:
    """Answer rate per bucket and carrier group: bucket, carrier, answered, reported, answer_rate."""
    when = bucket(engine, SENDS.c.sent_at, grain or grain_for(filters.start, filters.end))
    carrier = carrier_group()
    stmt = with_reports(
        select(
            when.label("bucket"),
            carrier.label("carrier"),
            _sum_if(ANSWERED).label("answered"),
            func.count(REPORTS.c.id).label("reported"),
        )
    )
    stmt = (
        filtered(stmt, filters)
        .where(REPORTS.c.id.is_not(None))
        .group_by(when, carrier)
        .order_by(when)
    )
    df = buckets_to_time(frame(engine, stmt))
    df["answer_rate"] = rate(df["answered"], df["reported"])
    return df


def answer_rate_by(engine: Engine, filters: Filters, dimension: str = "carrier") -> pd.DataFrame:
    """Answer rate per carrier or province: <dimension>, accepted, answered, failed, answer_rate."""
    if dimension not in ("carrier", "province"):
        raise ValueError(f"dimension {dimension!r}: expected 'carrier' or 'province'")
    column = SENDS.c[dimension]
    stmt = with_reports(
        select(
            column.label(dimension),
            _sum_if(SENDS.c.result_code == 0).label("accepted"),
            _sum_if(ANSWERED).label("answered"),
            _sum_if(UNANSWERED).label("failed"),
        )
    )
    stmt = filtered(stmt, filters).group_by(column).order_by(func.count().desc())
    df = frame(engine, stmt)
    df["answer_rate"] = rate(df["answered"], df["answered"] + df["failed"])
    return df


def fees_per_day(engine: Engine, filters: Filters) -> pd.DataFrame:
    """Fees per China-time day: day, fees, accepted, answered, cost_per_answered."""
    day = bucket(engine, SENDS.c.sent_at, "day")
    stmt = with_reports(
        select(
            day.label("day"),
            func.coalesce(func.sum(SENDS.c.fee), 0).label("fees"),
            _sum_if(SENDS.c.result_code == 0).label("accepted"),
            _sum_if(ANSWERED).label("answered"),
        )
    )
    df = buckets_to_time(frame(engine, filtered(stmt, filters).group_by(day).order_by(day)), "day")
    df["cost_per_answered"] = rate(df["fees"], df["answered"])
    return df
