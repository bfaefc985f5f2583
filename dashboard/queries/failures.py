"""Failures: why calls were not answered (report error_msg) and why sends were refused
(Yunpian's return code at send time), overall, by carrier/province, over time, latest."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import Engine, func, literal, select

from dashboard.queries._sql import (
    REPORTS,
    SENDS,
    Filters,
    bucket,
    buckets_to_time,
    filtered,
    frame,
    grain_for,
    stack,
    to_china,
    with_reports,
)
from ingest.yunpian.codes import lookup

NO_REASON = "(no error_msg)"


def code_reason(code: int) -> str:
    """A send-time return code as people read it: '[8] same content to the number within 30 s'."""
    return f"[{code}] {lookup(code).meaning}"


def _call_failures(stmt):
    return stmt.where(REPORTS.c.status == "FAIL")


def _send_rejections(stmt):
    return stmt.where(SENDS.c.result_code != 0)


def failure_reasons(engine: Engine, filters: Filters) -> pd.DataFrame:
    """Every failure reason with its count and share: stage ('call' | 'send'), reason,
    code and yunpian_msg (send stage only), category, failures, share."""
    reason = func.coalesce(REPORTS.c.error_msg, literal(NO_REASON))
    calls = with_reports(select(reason.label("reason"), func.count().label("failures")))
    calls = _call_failures(filtered(calls, filters)).group_by(reason)
    sends = select(SENDS.c.result_code.label("code"), func.count().label("failures"))
    sends = _send_rejections(filtered(sends, filters)).group_by(SENDS.c.result_code)
    call_df = frame(engine, calls).assign(stage="call", code=pd.NA, category="call")
    send_df = frame(engine, sends)
    send_df["stage"] = "send"
    send_df["reason"] = send_df["code"].map(code_reason)
    send_df["category"] = send_df["code"].map(lambda c: lookup(c).category.value)
    send_df["yunpian_msg"] = send_df["code"].map(lambda c: lookup(c).msg)
    columns = ["stage", "reason", "code", "yunpian_msg", "category", "failures"]
    df = stack(call_df, send_df).reindex(columns=columns)
    total = df["failures"].sum()
    df["share"] = df["failures"] / total if total else 0.0
    return df.sort_values("failures", ascending=False, ignore_index=True)


def failure_reasons_by(
    engine: Engine, filters: Filters, dimension: str = "carrier"
) -> pd.DataFrame:
    """Failures per carrier or province and reason: <dimension>, reason, failures."""
    if dimension not in ("carrier", "province"):
        raise ValueError(f"dimension {dimension!r}: expected 'carrier' or 'province'")
    column = SENDS.c[dimension]
    reason = func.coalesce(REPORTS.c.error_msg, literal(NO_REASON))
    calls = with_reports(
        select(column.label(dimension), reason.label("reason"), func.count().label("failures"))
    )
    calls = _call_failures(filtered(calls, filters)).group_by(column, reason)
    sends = select(
        column.label(dimension), SENDS.c.result_code.label("code"), func.count().label("failures")
    )
    sends = _send_rejections(filtered(sends, filters)).group_by(column, SENDS.c.result_code)
    send_df = frame(engine, sends)
    send_df["reason"] = send_df["code"].map(code_reason)
    df = stack(frame(engine, calls), send_df.drop(columns="code"))
    return df.sort_values("failures", ascending=False, ignore_index=True)


def failures_over_time(engine: Engine, filters: Filters, grain: str | None = None) -> pd.DataFrame:
    """Failures per China-time bucket and reason: bucket, stage, reason, failures."""
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
    df = stack(call_df, send_df.drop(columns="code"))
    return buckets_to_time(
        df[["bucket", "stage", "reason", "failures"]].sort_values("bucket", ignore_index=True)
    )


def latest_failures(engine: Engine, filters: Filters, limit: int = 200) -> pd.DataFrame:
    """The newest failed calls and refused sends, newest first: sent_at (China time), stage,
    mobile, sid, carrier, province, source, reason, code, duration_s."""
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
    return to_china(df, "sent_at")
