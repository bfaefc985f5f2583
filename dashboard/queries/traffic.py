"""Traffic: KPI tiles, volume by outcome, answer rates, fees — the Overview page.

Read from the rollups (ingest/store/rollups.py) plus raw rows at a range's sub-minute edges, so they
cost the same at ten million reports as at a hundred thousand."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import pandas as pd
from sqlalchemy import Engine, func, select

from dashboard.queries._sql import (
    DOMESTIC_PROVINCES,
    TRAFFIC_ROLLUPS,
    Filters,
    answer_delays,
    bucket,
    buckets_to_time,
    carrier_group,
    country_of,
    frame,
    grain_for,
    rate,
    total,
    traffic,
)

DAYS = TRAFFIC_ROLLUPS["day"].__table__
# "unknown": sent, Yunpian's answer lost (the call may have been placed); neither accepted
# nor rejected until a report joins it (ingest/store/unknown_sends.py).
OUTCOMES = (
    "answered",
    "not answered",
    "no report",
    "pending",
    "unknown",
    "throttled",
    "rejected",
)
DIMENSIONS = ("carrier", "province", "country")
MIN_SAMPLE = 30  # reported calls below which a rate is shown as a count, not a percentage
NO_REPORT_AFTER = timedelta(minutes=15)  # VOICEWATCH_NO_REPORT_AFTER's default


@dataclass(frozen=True)
class FilterOptions:
    carriers: list[str]
    provinces: list[str]  # mainland provinces only
    sources: list[str]
    countries: list[str]  # "China" first, then the foreign ones by name


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
    def unknown(self) -> int:
        """Sends of unknown outcome: neither accepted nor rejected."""
        return self.sends - self.accepted - self.rejected

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


def filter_options(engine: Engine) -> FilterOptions:
    """The carriers, provinces, sources and countries seen in sends, for the sidebar pickers
    (read from the daily rollup, which has a row for every combination ever sent)."""
    values = {}
    columns = {name: DAYS.c[name] for name in ("carrier", "province", "source")}
    columns["country"] = country_of(DAYS.c.province, DAYS.c.carrier)
    for name, column in columns.items():
        stmt = select(column).distinct().where(column != "", DAYS.c.sends > 0).order_by(column)
        with engine.connect() as conn:
            values[name] = [v for v in conn.execute(stmt).scalars() if v]
    countries = sorted(values["country"], key=lambda c: (c != "China", c))
    provinces = [p for p in values["province"] if p in DOMESTIC_PROVINCES]
    return FilterOptions(values["carrier"], provinces, values["source"], countries)


def first_send_at(engine: Engine) -> datetime | None:
    """The start of the first China day with a send (from the daily rollup), or None."""
    with engine.connect() as conn:
        first = conn.execute(select(func.min(DAYS.c.at)).where(DAYS.c.sends > 0)).scalar()
    return None if first is None else first.replace(tzinfo=UTC)


def kpis(engine: Engine, filters: Filters) -> Kpis:
    """Counts, fees and timing for the sends in `filters`."""
    (kpi,) = _kpis(engine, [filters])
    return kpi


def kpi_comparison(
    engine: Engine, filters: Filters, previous: Filters | None = None
) -> KpiComparison:
    """KPIs for `filters` and for `previous` (default: the equal-length period before it)."""
    current, previous = _kpis(engine, [filters, previous or filters.previous()])
    return KpiComparison(current, previous)


def _kpis(engine: Engine, periods: list[Filters]) -> list[Kpis]:
    """KPIs per period; their answer times in one query, which reads a shared edge once."""
    percentiles = _answer_time_percentiles(engine, periods, (0.5, 0.95))
    return [
        _kpis_with(engine, filters, median, p95)
        for filters, (median, p95) in zip(periods, percentiles, strict=True)
    ]


def _kpis_with(engine: Engine, filters: Filters, median: float | None, p95: float | None) -> Kpis:
    t = traffic(filters)
    stmt = select(
        *(total(t.c[name]).label(name) for name in _KPI_COUNTS),
        func.coalesce(func.sum(t.c.fees), 0).label("fees"),
        total(t.c.answered_duration).label("answered_duration"),
    )
    with engine.connect() as conn:
        row = conn.execute(stmt).mappings().one()
    answered = int(row["answered"])
    return Kpis(
        **{name: int(row[name]) for name in _KPI_COUNTS},
        fees=float(row["fees"]),
        median_answer_s=median,
        p95_answer_s=p95,
        mean_duration_s=int(row["answered_duration"]) / answered if answered else None,
    )


def no_report_count(
    engine: Engine,
    filters: Filters,
    now: datetime | None = None,
    after: timedelta = NO_REPORT_AFTER,
) -> int:
    """Accepted sends in `filters` whose report had not arrived `after` their send, as of
    `now` (default: the present): the "no report" outcome (VOICEWATCH_NO_REPORT_AFTER).
    Younger ones are pending. Read from the rollups, which know answered and failed calls
    only: a report with a status Yunpian has not documented counts here, as it counts as
    pending in the volume chart."""
    sent_before = min(filters.end, (now or datetime.now(UTC)) - after)
    if sent_before <= filters.start:
        return 0
    t = traffic(replace(filters, end=sent_before))
    stmt = select(total(t.c.accepted) - total(t.c.answered_accepted) - total(t.c.failed_accepted))
    with engine.connect() as conn:
        return int(conn.execute(stmt).scalar_one())


_KPI_COUNTS = ("sends", "accepted", "answered", "failed", "throttled", "rejected")


def _answer_time_percentiles(
    engine: Engine, periods: list[Filters], qs: tuple[float, ...]
) -> list[list[float | None]]:
    """Per period, nearest-rank percentiles of send->answer seconds, from the histogram of
    delays in tenths of a second: exact at the 0.1 s the dashboard shows."""
    delays = answer_delays(engine, periods)
    if delays is None:
        return [[None for _ in qs] for _ in periods]
    counts = [total(delays.c[f"answered_{i}"]) for i in range(len(periods))]
    stmt = (
        select(delays.c.delay_ds, *counts).group_by(delays.c.delay_ds).order_by(delays.c.delay_ds)
    )
    with engine.connect() as conn:
        rows = conn.execute(stmt).all()
    return [
        _nearest_ranks([(row[0], row[i + 1]) for row in rows if row[i + 1]], qs)
        for i in range(len(periods))
    ]


def _nearest_ranks(histogram: list[tuple[int, int]], qs: tuple[float, ...]) -> list[float | None]:
    """Percentiles `qs` of a histogram of (tenths of a second, count), in seconds."""
    count = sum(n for _, n in histogram)
    if not count:
        return [None for _ in qs]
    values = []
    for q in qs:
        rank = max(0, min(count - 1, int(-(-q * count // 1)) - 1))  # 0-based nearest rank
        seen = 0
        for tenths, n in histogram:
            seen += n
            if seen > rank:
                values.append(tenths / 10)
                break
    return values


def volume_by_outcome(
    engine: Engine,
    filters: Filters,
    grain: str | None = None,
    *,
    no_report_before: datetime | None = None,
) -> pd.DataFrame:
    """Sends per China-time bucket and outcome: bucket, outcome, sends. With
    `no_report_before` (now minus VOICEWATCH_NO_REPORT_AFTER), accepted sends still without a
    report that were sent before it are "no report", the younger ones "pending"."""
    grain = grain or grain_for(filters.start, filters.end)
    wide = frame(engine, _volume(engine, filters, grain))
    wide["no report"] = 0
    cutoff = None if no_report_before is None else min(filters.end, no_report_before)
    if cutoff is not None and cutoff > filters.start:
        old = frame(engine, _volume(engine, replace(filters, end=cutoff), grain))
        late = wide["bucket"].map(old.set_index("bucket")["pending"]).fillna(0).astype("int64")
        wide["no report"] = late
        wide["pending"] = wide["pending"] - late
    long = wide.melt(id_vars="bucket", value_vars=list(OUTCOMES), var_name="outcome")
    long = long[long["value"] > 0].rename(columns={"value": "sends"})
    long["sends"] = long["sends"].astype("int64")
    long = long.sort_values("bucket", kind="stable").reset_index(drop=True)
    return buckets_to_time(long[["bucket", "outcome", "sends"]])


def _volume(engine: Engine, filters: Filters, grain: str):
    """Per bucket of `grain`: a column of sends for each outcome but "no report"."""
    t = traffic(filters, grain)
    when = bucket(engine, t.c.at, grain)
    sums = {name: total(t.c[name]) for name in ("throttled", "rejected", "accepted")}
    return select(
        when.label("bucket"),
        sums["throttled"].label("throttled"),
        (sums["rejected"] - sums["throttled"]).label("rejected"),
        total(t.c.answered_accepted).label("answered"),
        total(t.c.failed_accepted).label("not answered"),
        (sums["accepted"] - total(t.c.answered_accepted) - total(t.c.failed_accepted)).label(
            "pending"
        ),
        (total(t.c.sends) - sums["accepted"] - sums["rejected"]).label("unknown"),
    ).group_by(when)


def answer_rate_over_time(
    engine: Engine, filters: Filters, grain: str | None = None
) -> pd.DataFrame:
    """Answer rate per bucket and carrier group: bucket, carrier, answered, reported, answer_rate."""
    grain = grain or grain_for(filters.start, filters.end)
    t = traffic(filters, grain)
    when = bucket(engine, t.c.at, grain)
    carrier = carrier_group(t.c.carrier)
    stmt = (
        select(
            when.label("bucket"),
            carrier.label("carrier"),
            total(t.c.answered).label("answered"),
            total(t.c.reported).label("reported"),
        )
        .group_by(when, carrier)
        .having(func.sum(t.c.reported) > 0)
        .order_by(when)
    )
    df = buckets_to_time(frame(engine, stmt))
    df["answer_rate"] = rate(df["answered"], df["reported"])
    return df


def dimension_column(t, dimension: str):
    """The column of traffic rows `t` to group by for `dimension` (carrier, province, country)."""
    if dimension not in DIMENSIONS:
        raise ValueError(f"dimension {dimension!r}: expected one of {DIMENSIONS}")
    if dimension == "country":
        return country_of(t.c.province, t.c.carrier)
    return t.c[dimension]


def answer_rate_by(engine: Engine, filters: Filters, dimension: str = "carrier") -> pd.DataFrame:
    """Answer rate per carrier, mainland province or country, busiest first: <dimension>,
    sends, accepted, answered, failed, answer_rate (None below MIN_SAMPLE reported calls)."""
    t = traffic(filters)
    column = dimension_column(t, dimension)
    stmt = (
        select(
            column.label(dimension),
            total(t.c.sends).label("sends"),
            total(t.c.accepted).label("accepted"),
            total(t.c.answered).label("answered"),
            total(t.c.failed).label("failed"),
        )
        .group_by(column)
        .having(func.sum(t.c.sends) > 0)
        .order_by(func.sum(t.c.sends).desc(), column)
    )
    if dimension == "province":  # a foreign number's "province" is its country
        stmt = stmt.where(t.c.province.in_(DOMESTIC_PROVINCES))
    df = frame(engine, stmt)
    reported = df["answered"] + df["failed"]
    df["answer_rate"] = rate(df["answered"], reported.where(reported >= MIN_SAMPLE))
    return df


def fees_over_time(engine: Engine, filters: Filters, grain: str | None = None) -> pd.DataFrame:
    """Fees per China-time bucket of the range's grain: bucket, fees, accepted, answered,
    cost_per_answered."""
    grain = grain or grain_for(filters.start, filters.end)
    t = traffic(filters, grain)
    day = bucket(engine, t.c.at, grain)
    stmt = (
        select(
            day.label("bucket"),
            func.coalesce(func.sum(t.c.fees), 0).label("fees"),
            total(t.c.accepted).label("accepted"),
            total(t.c.answered).label("answered"),
        )
        .group_by(day)
        .having(func.sum(t.c.sends) > 0)
        .order_by(day)
    )
    df = buckets_to_time(frame(engine, stmt))
    df["cost_per_answered"] = rate(df["fees"], df["answered"])
    return df


def fees_per_day(engine: Engine, filters: Filters) -> pd.DataFrame:
    """Fees per China-time day: day, fees, accepted, answered, cost_per_answered."""
    return fees_over_time(engine, filters, "day").rename(columns={"bucket": "day"})
