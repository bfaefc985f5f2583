"""Throttling: how close numbers are to Yunpian's per-number limits, and who gets called
suspiciously often."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import pandas as pd
from sqlalchemy import (
    Engine,
    Select,
    Subquery,
    and_,
    case,
    distinct,
    false,
    func,
    literal,
    literal_column,
    or_,
    select,
    union_all,
)

from dashboard.queries._sql import (
    RAW_ROWS,
    REPORTS,
    SENDS,
    THROTTLE_CODES,
    Filters,
    _narrowed,
    _times,
    bucket,
    buckets_to_time,
    filtered,
    frame,
    grain_for,
    spans,
    to_china,
    total,
    with_reports,
)
from dashboard.queries.failures import code_reason, failures_in
from ingest.store.failure_rollup import SEND
from ingest.store.models import NumberDay
from ingest.throttle import NO_ACCOUNT_LIMITS, ThrottleLimits

ACCEPTED = SENDS.c.result_code == 0
NUMBER_DAYS = NumberDay.__table__
# Grouped by this expression rather than the bare column, so that SQLite reads the window's
# sends by time (ix_sends_sent_at) and sorts them, instead of walking ix_sends_mobile_sent_at_code
# once per number to save the sort: 2× faster at 10 M reports (bench row "7 Page Throttling").
NUMBER = SENDS.c.mobile.concat(literal_column("''"))
PRESSURE_COLUMNS = (
    "mobile",
    "carrier",
    "last_30s",
    "last_5min",
    "same_code_5min",
    "last_1h",
    "last_24h",
    "throttled_24h",
    "last_sent_at",
)


@dataclass(frozen=True)
class ThrottleView:
    """What the Throttling page shows of the per-number windows as of one moment, from one
    query: the numbers at a limit (all counted, the first `at_limit_rows` listed, busiest
    first) and the `top` numbers by accepted sends in the last 24 h."""

    at_limit_count: int
    at_limit: pd.DataFrame
    pressure: pd.DataFrame

    @property
    def busiest_24h(self) -> int:
        """Accepted sends to the single most-called number in the last 24 h."""
        return int(self.pressure["last_24h"].max()) if len(self.pressure) else 0


def _accepted_since(since: datetime):
    return func.coalesce(func.sum(case((and_(ACCEPTED, SENDS.c.sent_at >= since), 1), else_=0)), 0)


def _narrow(stmt: Select, filters: Filters | None) -> Select:
    """`stmt` (over sends) limited to the carriers, provinces and sources of `filters`."""
    return stmt if filters is None else _narrowed(stmt, SENDS, filters)


def _windows(now: datetime, limits: ThrottleLimits, filters: Filters | None) -> Subquery:
    """Per number sent to in the 24 h up to `now`: its windows (PRESSURE_COLUMNS) and
    `at_limit_flag` (1 when a limit in force is reached; an account limit of None is none).
    Grouped first, joined after: the same-code counts need only the last 5 min."""
    day_ago = now - timedelta(days=1)
    window_start = now - limits.same_code_window
    per_code = _narrow(
        select(NUMBER.label("mobile"), func.count().label("n"))
        .where(ACCEPTED, SENDS.c.sent_at >= window_start, SENDS.c.sent_at <= now)
        .group_by(NUMBER, SENDS.c.code_digest),
        filters,
    ).subquery("per_code")
    same_code = (
        select(per_code.c.mobile, func.max(per_code.c.n).label("same_code_5min"))
        .group_by(per_code.c.mobile)
        .subquery("same_code")
    )
    per_number = _narrow(
        select(
            NUMBER.label("mobile"),
            func.max(SENDS.c.carrier).label("carrier"),
            _accepted_since(now - limits.same_code_gap).label("last_30s"),
            _accepted_since(window_start).label("last_5min"),
            _accepted_since(now - timedelta(hours=1)).label("last_1h"),
            _accepted_since(day_ago).label("last_24h"),
            func.coalesce(
                func.sum(case((SENDS.c.result_code.in_(THROTTLE_CODES), 1), else_=0)), 0
            ).label("throttled_24h"),
            func.max(SENDS.c.sent_at).label("last_sent_at"),
        )
        .where(SENDS.c.sent_at >= day_ago, SENDS.c.sent_at <= now)
        .group_by(NUMBER),
        filters,
    ).subquery("per_number")
    same = func.coalesce(same_code.c.same_code_5min, 0)
    reached = [same >= limits.same_code_per_window]
    for count, limit in (
        (per_number.c.last_1h, limits.per_hour),
        (per_number.c.last_24h, limits.per_day),
    ):
        if limit is not None:
            reached.append(count >= limit)
    at_limit = or_(*reached)
    columns = [per_number.c[name] for name in PRESSURE_COLUMNS if name != "same_code_5min"]
    return (
        select(
            *columns,
            same.label("same_code_5min"),
            case((at_limit, 1), else_=0).label("at_limit_flag"),
        )
        .select_from(per_number.outerjoin(same_code, same_code.c.mobile == per_number.c.mobile))
        .subquery("windows")
    )


def _pressure_order(windows: Subquery) -> list:
    return [windows.c.last_24h.desc(), windows.c.last_1h.desc(), windows.c.mobile]


def reached_limits(row, limits: ThrottleLimits) -> list[str]:
    """The limits a number's windows (a row of PRESSURE_COLUMNS) reach now: "same code",
    "1 h", "24 h" (an account limit of None is never reached)."""
    hits = (
        ("same code", row.same_code_5min >= limits.same_code_per_window),
        ("1 h", limits.per_hour is not None and row.last_1h >= limits.per_hour),
        ("24 h", limits.per_day is not None and row.last_24h >= limits.per_day),
    )
    return [name for name, hit in hits if hit]


def _shown(df: pd.DataFrame, limits: ThrottleLimits) -> pd.DataFrame:
    df = to_china(df[list(PRESSURE_COLUMNS)].reset_index(drop=True), "last_sent_at")
    same_code = f"{limits.same_code_per_window} in 5 min"
    df["at_limit"] = [
        ", ".join(
            same_code if name == "same code" else name for name in reached_limits(row, limits)
        )
        for row in df.itertuples()
    ]
    return df


def throttle_pressure(
    engine: Engine,
    now: datetime,
    limits: ThrottleLimits = NO_ACCOUNT_LIMITS,
    *,
    only_at_limit: bool = False,
    limit: int = 100,
    filters: Filters | None = None,
) -> pd.DataFrame:
    """Per number sent to in the last 24 h (of the carriers, provinces and sources of
    `filters`, when given), accepted sends in the last 30 s / 5 min / 1 h / 24 h, the
    most-repeated code's count in 5 min, and throttle rejections in 24 h. `limits` are the
    account's (`ThrottleLimits.of(settings)`); the default has no 1 h or 24 h limit.

    Columns: mobile, carrier, last_30s, last_5min, same_code_5min, last_1h, last_24h,
    throttled_24h, last_sent_at (China time), at_limit (which limits are reached now)."""
    windows = _windows(now, limits, filters)
    stmt = select(windows).order_by(*_pressure_order(windows)).limit(limit)
    if only_at_limit:
        stmt = stmt.where(windows.c.at_limit_flag == 1)
    return _shown(frame(engine, stmt), limits)


def throttle_view(
    engine: Engine,
    filters: Filters,
    limits: ThrottleLimits = NO_ACCOUNT_LIMITS,
    *,
    top: int = 50,
    at_limit_rows: int = 100,
) -> ThrottleView:
    """The per-number windows as of `filters.end` for the numbers of `filters`' carriers,
    provinces and sources under `limits` (the account's, `ThrottleLimits.of(settings)`), in
    one query: every number at a limit counted, the first
    `at_limit_rows` of them and the `top` by pressure returned (only those rows leave the
    database, however many numbers there are)."""
    windows = _windows(filters.end, limits, filters)
    order = _pressure_order(windows)
    ranked = select(
        windows,
        func.row_number().over(order_by=order).label("pressure_rank"),
        func.row_number()
        .over(partition_by=windows.c.at_limit_flag, order_by=order)
        .label("flag_rank"),
        func.sum(windows.c.at_limit_flag).over().label("at_limit_count"),
    ).subquery("ranked")
    stmt = (
        select(ranked)
        .where(
            or_(
                ranked.c.pressure_rank <= top,
                and_(ranked.c.at_limit_flag == 1, ranked.c.flag_rank <= at_limit_rows),
            )
        )
        .order_by(ranked.c.pressure_rank)
    )
    rows = frame(engine, stmt)
    at_limit = rows[(rows["at_limit_flag"] == 1) & (rows["flag_rank"] <= at_limit_rows)]
    return ThrottleView(
        at_limit_count=int(rows["at_limit_count"].iloc[0]) if len(rows) else 0,
        at_limit=_shown(at_limit, limits),
        pressure=_shown(rows[rows["pressure_rank"] <= top], limits),
    )


def throttle_rejections_over_time(
    engine: Engine, filters: Filters, grain: str | None = None
) -> pd.DataFrame:
    """Throttle rejections per China-time bucket and code: bucket, code, reason, rejections.

    They are refused sends, so the failure rollups hold them: whole hours and days are read
    there and raw sends only at the range's edges (30 days at 10 M reports on PostgreSQL:
    0.7 s of sends by code → a few thousand rollup rows)."""
    grain = grain or grain_for(filters.start, filters.end)
    failures = failures_in(filters, grain)
    when = bucket(engine, failures.c.at, grain)
    stmt = (
        select(
            when.label("bucket"), failures.c.code, total(failures.c.failures).label("rejections")
        )
        .where(failures.c.stage == SEND, failures.c.code.in_(THROTTLE_CODES))
        .group_by(when, failures.c.code)
        .having(func.sum(failures.c.failures) != 0)
        .order_by(when, failures.c.code)
    )
    df = buckets_to_time(frame(engine, stmt))
    df["code"] = df["code"].astype("int64")
    df["reason"] = df["code"].map(code_reason)
    return df


FREQUENT_COLUMNS = (
    "mobile",
    "carrier",
    "province",
    "sends",
    "accepted",
    "throttled",
    "codes",
    "answered",
    "first_sent_at",
    "last_sent_at",
    "numbers_total",
)


RANKED = ("sends", "accepted", "throttled")  # what the ranking sums
PLACES = ("carrier", "province")


def numbers_in(
    filters: Filters,
    measures: tuple[str, ...] = RANKED,
    *,
    places: bool = False,
    mobiles: list[str] | None = None,
) -> Subquery:
    """Rows (mobile, [carrier, province,] `measures`…) that sum, per number, to its sends in
    `filters` (of `mobiles` only, if given): the range's whole China days from the number
    rollup, raw sends at its edges (each edge as it is or as its whole day minus the part
    outside, whichever is shorter)."""
    keys = PLACES if places else ()
    branches = []
    for span in spans(filters.start, filters.end, ("day",)):
        if span.grain == RAW_ROWS:
            counts = {
                "sends": literal(1),
                "accepted": case((ACCEPTED, 1), else_=0),
                "throttled": case((SENDS.c.result_code.in_(THROTTLE_CODES), 1), else_=0),
                "answered": case((REPORTS.c.status == "SUCCESS", 1), else_=0),
            }
            stmt = select(
                NUMBER.label("mobile"),
                *(SENDS.c[k] for k in keys),
                *(_times(counts[m], span.sign).label(m) for m in measures),
            )
            if "answered" in measures:
                stmt = with_reports(stmt)
            if mobiles is not None:
                stmt = stmt.where(SENDS.c.mobile.in_(mobiles))
            stmt = filtered(stmt, replace(filters, start=span.start, end=span.end))
        else:
            stmt = select(
                NUMBER_DAYS.c.mobile,
                *(NUMBER_DAYS.c[k] for k in keys),
                *(_times(NUMBER_DAYS.c[m], span.sign).label(m) for m in measures),
            ).where(NUMBER_DAYS.c.at >= span.start, NUMBER_DAYS.c.at < span.end)
            if mobiles is not None:
                stmt = stmt.where(NUMBER_DAYS.c.mobile.in_(mobiles))
            stmt = _narrowed(stmt, NUMBER_DAYS, filters)
        branches.append(stmt)
    if not branches:  # an empty range
        columns = (NUMBER_DAYS.c.mobile, *(NUMBER_DAYS.c[k] for k in keys))
        branches.append(select(*columns, *NUMBER_DAYS.c[tuple(measures)]).where(false()))
    return union_all(*branches).subquery("numbers")


def frequent_numbers(
    engine: Engine, filters: Filters, *, min_sends: int = 8, limit: int = 50
) -> pd.DataFrame:
    """Numbers with at least `min_sends` send attempts in the range, most first: mobile,
    carrier, province, sends, accepted, throttled, codes (distinct), answered, first_sent_at,
    last_sent_at (China time), and numbers_total: how many numbers qualify (the rows stop at
    `limit`).

    The ranking reads the number rollup (`numbers_in`), and so do the listed numbers' carrier,
    province and answered calls. Distinct codes and the first and last send need the sends
    themselves: those are read for the listed numbers only (bench row "7 Page Throttling")."""
    numbers = numbers_in(filters)
    attempts = func.sum(numbers.c.sends)
    ranking = (
        select(
            numbers.c.mobile,
            attempts.label("sends"),
            func.sum(numbers.c.accepted).label("accepted"),
            func.sum(numbers.c.throttled).label("throttled"),
            func.count().over().label("numbers_total"),
        )
        .group_by(numbers.c.mobile)
        .having(attempts >= min_sends)
        .order_by(attempts.desc(), numbers.c.mobile)
        .limit(limit)
    )
    top = frame(engine, ranking)
    listed = top["mobile"].tolist()
    sends = filtered(
        select(
            SENDS.c.mobile,
            func.count(distinct(SENDS.c.code_digest)).label("codes"),
            func.min(SENDS.c.sent_at).label("first_sent_at"),
            func.max(SENDS.c.sent_at).label("last_sent_at"),
        ),
        filters,
    )
    sends = sends.where(SENDS.c.mobile.in_(listed)).group_by(SENDS.c.mobile)
    details = top.merge(
        frame(engine, _places_and_answers(filters, listed)), on="mobile", how="left"
    )
    details = details.merge(frame(engine, sends), on="mobile", how="left")
    for count in ("sends", "accepted", "throttled", "numbers_total", "answered"):
        details[count] = details[count].astype("int64")
    return to_china(details[list(FREQUENT_COLUMNS)], "first_sent_at", "last_sent_at")


def _places_and_answers(filters: Filters, mobiles: list[str]) -> Select:
    """Per number of `mobiles`: its carrier and province (the greatest among its sends in the
    range, as max() over the sends would give) and its answered calls."""
    rows = numbers_in(filters, ("sends", "answered"), places=True, mobiles=mobiles)
    places = (rows.c.mobile, rows.c.carrier, rows.c.province)
    # Rows of a place that net to no send (a day minus its part outside the range) are out.
    per_place = (
        select(
            *places, total(rows.c.sends).label("sends"), total(rows.c.answered).label("answered")
        )
        .group_by(*places)
        .subquery("places")
    )
    sent = per_place.c.sends > 0
    return select(
        per_place.c.mobile,
        func.max(case((sent, per_place.c.carrier))).label("carrier"),
        func.max(case((sent, per_place.c.province))).label("province"),
        total(per_place.c.answered).label("answered"),
    ).group_by(per_place.c.mobile)
