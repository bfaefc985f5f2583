"""Failures: why calls were not answered (report error_msg) and why sends were refused
(Yunpian's return code at send time), overall, by carrier/province, over time, latest."""

from __future__ import annotations

from dataclasses import replace

import pandas as pd
from sqlalchemy import (
    ColumnElement,
    Engine,
    Integer,
    String,
    Subquery,
    false,
    func,
    literal,
    literal_column,
    select,
    union_all,
)

from dashboard.queries._sql import (
    DOMESTIC_PROVINCES,
    RAW_ROWS,
    REPORTS,
    SENDS,
    Filters,
    _narrowed,
    _times,
    bucket,
    buckets_to_time,
    coarsest_grains,
    country_of,
    filtered,
    frame,
    grain_for,
    spans,
    stack,
    to_china,
    total,
    with_reports,
)
from ingest.store.failure_rollup import CALL, NO_REASON, SEND, reason_sql
from ingest.store.failure_rollup import KEYS as FAILURE_KEYS
from ingest.store.models import FailureDay, FailureHour
from ingest.yunpian.codes import lookup
from ingest.yunpian.reasons import explain

FAILURE_ROLLUPS = {"hour": FailureHour.__table__, "day": FailureDay.__table__}
SEND_CATEGORY = "refused"  # a send refused by Yunpian, whatever its code's own category


def call_category(reason: str) -> str:
    """The category (ingest/yunpian/reasons.py) of a call failure's reason, by its key."""
    return explain(None if reason == NO_REASON else reason).category.value


def _categorised(df: pd.DataFrame) -> pd.DataFrame:
    """`df` (stage, reason, …) with each row's failure category: the reason's, for a call;
    'refused' for a refused send."""
    calls = df["stage"] == "call"
    df["category"] = df["reason"].where(~calls, df["reason"].map(call_category))
    df.loc[~calls, "category"] = SEND_CATEGORY
    return df


def code_reason(code: int) -> str:
    """A send-time return code as people read it: '[8] same content to the number within 30 s'."""
    return f"[{code}] {lookup(code).meaning}"


def _call_failures(stmt):
    return stmt.where(REPORTS.c.status == "FAIL")


def _send_rejections(stmt):
    return stmt.where(SENDS.c.result_code != 0)


def _constant(sql: str, type_) -> ColumnElement:
    """An SQL constant inlined, typed alike in every branch of a union on every dialect."""
    return literal_column(sql, type_)


def failures_in(filters: Filters, grain: str | None = None) -> Subquery:
    """Rows (at, stage, reason, code, carrier, province, source, failures) that sum to the
    failed calls and refused sends in `filters`, `at` fine enough for buckets of `grain`: the
    range's whole China days and hours from the failure rollups, raw rows at its edges (each
    edge as it is or as its whole bucket minus the part outside, whichever is shorter) or for
    minute buckets. A reason is cut as the rollups cut it (`reason_sql`)."""
    branches = []
    for span in spans(filters.start, filters.end, coarsest_grains(tuple(FAILURE_ROLLUPS), grain)):
        sign = _constant(str(span.sign), Integer)
        if span.grain == RAW_ROWS:
            inside = replace(filters, start=span.start, end=span.end)
            where = (SENDS.c.carrier, SENDS.c.province, SENDS.c.source)
            refused = select(
                SENDS.c.sent_at.label("at"),
                _constant(f"'{SEND}'", String).label("stage"),
                _constant("''", String).label("reason"),
                SENDS.c.result_code.label("code"),
                *where,
                sign.label("failures"),
            )
            failed = select(
                SENDS.c.sent_at.label("at"),
                _constant(f"'{CALL}'", String).label("stage"),
                _constant(reason_sql(f"{REPORTS.name}.error_msg"), String).label("reason"),
                _constant("0", Integer).label("code"),
                *where,
                sign.label("failures"),
            ).select_from(SENDS.join(REPORTS, REPORTS.c.sid == SENDS.c.sid))
            branches += [
                _send_rejections(filtered(refused, inside)),
                _call_failures(filtered(failed, inside)),
            ]
        else:
            table = FAILURE_ROLLUPS[span.grain]
            columns = [table.c.at, *(table.c[key] for key in FAILURE_KEYS)]
            stmt = select(*columns, _times(table.c.failures, span.sign).label("failures"))
            stmt = stmt.where(table.c.at >= span.start, table.c.at < span.end)
            branches.append(_narrowed(stmt, table, filters))
    if not branches:  # an empty range: no rows, but the columns
        table = FAILURE_ROLLUPS["day"]
        columns = [table.c.at, *(table.c[key] for key in FAILURE_KEYS)]
        branches.append(select(*columns, table.c.failures).where(false()))
    return union_all(*branches).subquery("failures")


def _counted(engine: Engine, failures: Subquery, *keys: ColumnElement) -> pd.DataFrame:
    """Failures summed per `keys` and stage, reason and code (groups netting to none left
    out); a refused send's reason spelled out from its code, a failed call's code NA."""
    groups = [*keys, failures.c.stage, failures.c.reason, failures.c.code]
    stmt = select(*groups, total(failures.c.failures).label("failures")).group_by(*groups)
    df = frame(engine, stmt.having(func.sum(failures.c.failures) != 0))
    calls = df["stage"] == CALL
    df["code"] = df["code"].astype("Int64").where(~calls)
    df.loc[~calls, "reason"] = df.loc[~calls, "code"].map(code_reason)
    return df


def failure_reasons(engine: Engine, filters: Filters) -> pd.DataFrame:
    """Every failure reason with its count and share: stage ('call' | 'send'), category
    (the reason's, ingest/yunpian/reasons.py; 'refused' for a send), reason, code and
    yunpian_msg (send stage only), failures, share."""
    df = _counted(engine, failures_in(filters))
    sends = df["stage"] == SEND
    df["yunpian_msg"] = df["code"].where(sends).map(lambda c: lookup(c).msg, na_action="ignore")
    columns = ["stage", "category", "reason", "code", "yunpian_msg", "failures"]
    df = _categorised(df).reindex(columns=columns)
    total_failures = df["failures"].sum()
    df["share"] = df["failures"] / total_failures if total_failures else 0.0
    return df.sort_values("failures", ascending=False, ignore_index=True)


def failure_reasons_by(
    engine: Engine, filters: Filters, dimension: str = "carrier"
) -> pd.DataFrame:
    """Failures per carrier, mainland province or country and reason: <dimension>, stage,
    category, reason, code (a refused send's), failures."""
    if dimension not in ("carrier", "province", "country"):
        raise ValueError(f"dimension {dimension!r}: expected carrier, province or country")
    if dimension == "province":
        filters = replace(filters, provinces=filters.provinces or DOMESTIC_PROVINCES)
    failures = failures_in(filters)
    if dimension == "country":
        column = country_of(failures.c.province, failures.c.carrier)
    else:
        column = failures.c[dimension]
    df = _categorised(_counted(engine, failures, column.label(dimension)))
    df = df[[dimension, "stage", "category", "reason", "code", "failures"]]
    return df.sort_values("failures", ascending=False, ignore_index=True)


def failures_over_time(engine: Engine, filters: Filters, grain: str | None = None) -> pd.DataFrame:
    """Failures per China-time bucket and reason: bucket, stage, category, reason, failures."""
    grain = grain or grain_for(filters.start, filters.end)
    failures = failures_in(filters, grain)
    df = _categorised(
        _counted(engine, failures, bucket(engine, failures.c.at, grain).label("bucket"))
    )
    return buckets_to_time(
        df[["bucket", "stage", "category", "reason", "failures"]].sort_values(
            "bucket", ignore_index=True
        )
    )


def latest_failures(engine: Engine, filters: Filters, limit: int = 200) -> pd.DataFrame:
    """The newest failed calls and refused sends, newest first: sent_at (China time), stage,
    mobile, sid, carrier, province, source, reason, code, category."""
    calls = with_reports(
        select(
            SENDS.c.sent_at,
            literal("call").label("stage"),
            SENDS.c.mobile,
            SENDS.c.sid,
            SENDS.c.carrier,
            SENDS.c.province,
            SENDS.c.source,
            func.coalesce(REPORTS.c.error_msg, literal(NO_REASON)).label("reason"),
        )
    )
    calls = _call_failures(filtered(calls, filters)).order_by(SENDS.c.sent_at.desc()).limit(limit)
    sends = select(
        SENDS.c.sent_at,
        literal("send").label("stage"),
        SENDS.c.mobile,
        SENDS.c.sid,
        SENDS.c.carrier,
        SENDS.c.province,
        SENDS.c.source,
        SENDS.c.result_code.label("code"),
    )
    sends = _send_rejections(filtered(sends, filters)).order_by(SENDS.c.sent_at.desc()).limit(limit)
    call_df = frame(engine, calls)
    send_df = frame(engine, sends)
    send_df["reason"] = send_df["code"].map(code_reason)
    df = (
        stack(call_df, send_df)
        .sort_values("sent_at", ascending=False, ignore_index=True)
        .head(limit)
    )
    return to_china(_categorised(df), "sent_at")
