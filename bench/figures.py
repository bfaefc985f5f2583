"""The figures the timed pages show, checked against the raw tables at the size they were timed
at (issue 18: no speed-up may change a figure). What the pages compute from rollups and
rankings — the Overview's tiles, the Throttling page's "called suspiciously often" and the
Failures page's reasons — for the last 30 days and the last 24 h of the data, each against a
plain aggregate over sends and reports. The page tests check the same at small sizes, through
the pages themselves."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

from sqlalchemy import case, func, select

from dashboard import queries
from dashboard.queries import Filters
from dashboard.queries._sql import filtered, with_reports
from dashboard.queries.failures import code_reason
from ingest.store.engine import make_engine
from ingest.store.failure_rollup import NO_REASON, REASON_CHARS
from ingest.store.models import Report, Send
from ingest.yunpian.codes import NUMBER_THROTTLE_CODES


def _raw_tiles(connection, filters: Filters) -> dict[str, float]:
    flag = lambda condition: func.sum(case((condition, 1), else_=0))  # noqa: E731
    stmt = filtered(
        with_reports(
            select(
                func.count().label("sends"),
                flag(Send.result_code == 0).label("accepted"),
                flag(Send.result_code.in_(NUMBER_THROTTLE_CODES)).label("throttled"),
                flag(Report.status == "SUCCESS").label("answered"),
                flag(Report.status == "FAIL").label("failed"),
                func.coalesce(func.sum(Send.fee), 0).label("fees"),
            )
        ),
        filters,
    )
    return {k: float(v or 0) for k, v in connection.execute(stmt).one()._mapping.items()}


def _raw_ranking(connection, filters: Filters, min_sends: int, limit: int) -> list[tuple]:
    attempts = func.count()
    stmt = (
        filtered(select(Send.mobile, attempts, func.count().over()), filters)
        .group_by(Send.mobile)
        .having(attempts >= min_sends)
        .order_by(attempts.desc(), Send.mobile)
        .limit(limit)
    )
    return [tuple(row) for row in connection.execute(stmt)]


def _raw_reasons(connection, filters: Filters) -> dict[tuple[str, str], int]:
    """Failures per (stage, reason) as the Failures page words them, from the raw rows."""
    counts: Counter = Counter()
    calls = filtered(
        select(Report.error_msg, func.count())
        .select_from(Send.__table__.join(Report.__table__, Report.sid == Send.sid))
        .where(Report.status == "FAIL")
        .group_by(Report.error_msg),
        filters,
    )
    for error_msg, n in connection.execute(calls):
        counts[("call", (NO_REASON if error_msg is None else error_msg)[:REASON_CHARS])] += n
    sends = filtered(
        select(Send.result_code, func.count()).where(Send.result_code != 0), filters
    ).group_by(Send.result_code)
    for code, n in connection.execute(sends):
        counts[("send", code_reason(code))] += n
    return dict(counts)


def mismatches(db_url: str, end: datetime) -> list[str]:
    """What differs between the pages' figures and the raw tables' (empty: nothing)."""
    engine = make_engine(db_url, migrate=False)
    found = []
    for name, length in (("30 days", timedelta(days=30)), ("24 h", timedelta(days=1))):
        filters = Filters(end - length, end)
        kpi = queries.kpis(engine, filters)
        shown = {k: float(getattr(kpi, k)) for k in ("sends", "accepted", "throttled", "answered")}
        shown |= {"failed": float(kpi.failed), "fees": round(kpi.fees, 2)}
        ranking = queries.frequent_numbers(engine, filters)
        reasons = queries.failure_reasons(engine, filters)
        with engine.connect() as connection:
            raw = _raw_tiles(connection, filters)
            raw["fees"] = round(raw["fees"], 2)
            raw_ranking = _raw_ranking(connection, filters, 8, 50)
            raw_reasons = _raw_reasons(connection, filters)
        for key, value in shown.items():
            if value != raw[key]:
                found.append(f"{name}: tile {key} {value} ≠ raw {raw[key]}")
        listed = list(
            ranking[["mobile", "sends", "numbers_total"]].itertuples(index=False, name=None)
        )
        if listed != raw_ranking:
            found.append(f"{name}: frequent numbers {listed[:3]}… ≠ raw {raw_ranking[:3]}…")
        shown_reasons = {
            (stage, reason): int(n)
            for stage, reason, n in reasons[["stage", "reason", "failures"]].itertuples(
                index=False, name=None
            )
        }
        if shown_reasons != raw_reasons:
            found.append(f"{name}: failure reasons {shown_reasons} ≠ raw {raw_reasons}")
    engine.dispose()
    return found


def data_end(db_url: str) -> datetime:
    """The newest send's time: ranges end there, where the pages' "now" would be."""
    engine = make_engine(db_url, migrate=False)
    with engine.connect() as connection:
        newest = connection.execute(select(func.max(Send.sent_at))).scalar_one()
    engine.dispose()
    return newest + timedelta(seconds=1)
