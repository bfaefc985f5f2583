"""Failures: why calls were not answered (report error_msg) and why sends were refused
(Yunpian's return code at send time), overall, by carrier/province, over time, latest."""

from __future__ import annotations

from dataclasses import replace

import pandas as pd
from sqlalchemy import Engine, func, literal, select

from dashboard.queries._sql import (
    DOMESTIC_PROVINCES,
    REPORTS,
    SENDS,
    Filters,
    bucket,
    buckets_to_time,
    country_of,
    filtered,
    frame,
    grain_for,
    stack,
    to_china,
    with_reports,
)
from ingest.yunpian.codes import lookup
from ingest.yunpian.reasons import explain

NO_REASON = "(no error_msg)"
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


def failure_reasons(engine: Engine, filters: Filters) -> pd.DataFrame:
    """Every failure reason with its count and share: stage ('call' | 'send'), category
    (the reason's, ingest/yunpian/reasons.py; 'refused' for a send), reason, code and
    yunpian_msg (send stage only), failures, share."""
    reason = func.coalesce(REPORTS.c.error_msg, literal(NO_REASON))
    calls = with_reports(select(reason.label("reason"), func.count().label("failures")))
    calls = _call_failures(filtered(calls, filters)).group_by(reason)
    sends = select(SENDS.c.result_code.label("code"), func.count().label("failures"))
    sends = _send_rejections(filtered(sends, filters)).group_by(SENDS.c.result_code)
    call_df = frame(engine, calls).assign(stage="call", code=pd.NA)
    send_df = frame(engine, sends)
    send_df["stage"] = "send"
    send_df["reason"] = send_df["code"].map(code_reason)
    send_df["yunpian_msg"] = send_df["code"].map(lambda c: lookup(c).msg)
    columns = ["stage", "category", "reason", "code", "yunpian_msg", "failures"]
    df = _categorised(stack(call_df, send_df)).reindex(columns=columns)
    total = df["failures"].sum()
    df["share"] = df["failures"] / total if total else 0.0
    return df.sort_values("failures", ascending=False, ignore_index=True)


def failure_reasons_by(
    engine: Engine, filters: Filters, dimension: str = "carrier"
) -> pd.DataFrame:
    """Failures per carrier, mainland province or country and reason: <dimension>, stage,
    category, reason, code (a refused send's), failures."""
    if dimension not in ("carrier", "province", "country"):
        raise ValueError(f"dimension {dimension!r}: expected carrier, province or country")
    if dimension == "country":
        column = country_of(SENDS.c.province, SENDS.c.carrier)
    else:
        column = SENDS.c[dimension]
    if dimension == "province":
        filters = replace(filters, provinces=filters.provinces or DOMESTIC_PROVINCES)
    reason = func.coalesce(REPORTS.c.error_msg, literal(NO_REASON))
    calls = with_reports(
        select(column.label(dimension), reason.label("reason"), func.count().label("failures"))
    )
    calls = _call_failures(filtered(calls, filters)).group_by(column, reason)
    sends = select(
        column.label(dimension), SENDS.c.result_code.label("code"), func.count().label("failures")
    )
    sends = _send_rejections(filtered(sends, filters)).group_by(column, SENDS.c.result_code)
    send_df = frame(engine, sends).assign(stage="send")
    send_df["reason"] = send_df["code"].map(code_reason)
    df = _categorised(stack(frame(engine, calls).assign(stage="call"), send_df))
    df = df[[dimension, "stage", "category", "reason", "code", "failures"]]
    return df.sort_values("failures", ascending=False, ignore_index=True)


def failures_over_time(engine: Engine, filters: Filters, grain: str | None = None) -> pd.DataFrame:
    """Failures per China-time bucket and reason: bucket, stage, category, reason, failures."""
    when = bucket(engine, SENDS.c.sent_at, grain or grain_for(filters.start, filters.end))
    reason = func.coalesce(REPORTS.c.error_msg, literal(NO_REASON))
    calls = with_reports(
        select(when.label("bucket"), reason.label("reason"), func.count().label("failures"))
    )
    calls = _call_failures(filtered(calls, filters)).group_by(when, reason)
    sends = select(
        when.label("bucket"), SENDS.c.result_code.label("code"), func.count().label("failures")
    )
    sends = _send_rejections(filtered(sends, filters)).group_by(when, SENDS.c.result_code)
    call_df = frame(engine, calls).assign(stage="call")
    send_df = frame(engine, sends).assign(stage="send")
    send_df["reason"] = send_df["code"].map(code_reason)
    df = _categorised(stack(call_df, send_df.drop(columns="code")))
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
