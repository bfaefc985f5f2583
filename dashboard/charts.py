"""Altair chart builders: pure functions of the DataFrames `dashboard.queries` returns."""

from __future__ import annotations

import altair as alt
import pandas as pd

CHINA_TIME = "China time (UTC+8)"
OUTCOME_COLORS = {
    "answered": "#2e9e5b",
    "not answered": "#f2a541",
    "pending": "#b8c2cc",
    "unknown": "#5b6b7b",
    "throttled": "#8e6bbf",
    "rejected": "#d64545",
}
CARRIER_COLORS = {
    "China Mobile": "#1f77b4",
    "China Unicom": "#d62728",
    "China Telecom": "#2ca02c",
    "other": "#9a9a9a",
}
CHANNEL_COLORS = {"push": "#1f77b4", "pull": "#ff7f0e"}


def _scale(colors: dict[str, str]) -> alt.Scale:
    return alt.Scale(domain=list(colors), range=list(colors.values()))


def _time_x(column: str = "bucket", title: str = CHINA_TIME) -> alt.X:
    return alt.X(f"{column}:T", title=title, axis=alt.Axis(format="%m-%d %H:%M", labelAngle=0))


def volume_chart(df: pd.DataFrame) -> alt.Chart:
    """Stacked bars: sends per bucket, coloured by outcome."""
    return (
        alt.Chart(df)
        .mark_bar()
        .encode(
            x=_time_x(),
            y=alt.Y("sum(sends):Q", title="sends"),
            color=alt.Color("outcome:N", scale=_scale(OUTCOME_COLORS), title="outcome"),
            order=alt.Order("outcome:N"),
            tooltip=[
                alt.Tooltip("bucket:T", title=CHINA_TIME, format="%Y-%m-%d %H:%M"),
                "outcome",
                "sends",
            ],
        )
        .properties(height=260)
    )


def answer_rate_chart(df: pd.DataFrame) -> alt.Chart:
    """Lines: answer rate per bucket, one per carrier group."""
    return (
        alt.Chart(df)
        .mark_line(point=alt.OverlayMarkDef(size=18))
        .encode(
            x=_time_x(),
            y=alt.Y(
                "answer_rate:Q",
                title="answer rate",
                axis=alt.Axis(format="%"),
                scale=alt.Scale(zero=False),
            ),
            color=alt.Color("carrier:N", scale=_scale(CARRIER_COLORS), title="carrier"),
            tooltip=[
                alt.Tooltip("bucket:T", title=CHINA_TIME, format="%Y-%m-%d %H:%M"),
                "carrier",
                alt.Tooltip("answer_rate:Q", format=".1%"),
                "answered",
                "reported",
            ],
        )
        .properties(height=260)
    )


def rate_by_chart(df: pd.DataFrame, dimension: str, top: int = 15) -> alt.Chart:
    """Horizontal bars: answer rate per carrier or province (the busiest `top`)."""
    data = df.dropna(subset=["answer_rate"]).head(top)
    return (
        alt.Chart(data)
        .mark_bar(color="#2e9e5b")
        .encode(
            y=alt.Y(f"{dimension}:N", sort="-x", title=None, axis=alt.Axis(labelOverlap=False)),
            x=alt.X("answer_rate:Q", title="answer rate", axis=alt.Axis(format="%")),
            tooltip=[
                dimension,
                alt.Tooltip("answer_rate:Q", format=".1%"),
                "answered",
                "failed",
                "accepted",
            ],
        )
        .properties(height=max(120, 26 * len(data)))
    )


def fees_chart(df: pd.DataFrame) -> alt.Chart:
    """Bars: fees per China-time day."""
    return (
        alt.Chart(df)
        .mark_bar(color="#4c78a8")
        .encode(
            x=alt.X("day:T", title="day (China time)", axis=alt.Axis(format="%m-%d", labelAngle=0)),
            y=alt.Y("fees:Q", title="fees"),
            tooltip=[
                alt.Tooltip("day:T", format="%Y-%m-%d"),
                "fees",
                "answered",
                alt.Tooltip("cost_per_answered:Q", format=".2f", title="fee per answered call"),
            ],
        )
        .properties(height=220)
    )


def reasons_chart(df: pd.DataFrame, top: int = 12) -> alt.Chart:
    """Horizontal bars: the commonest failure reasons, coloured by stage (call or send)."""
    data = df.head(top)
    return (
        alt.Chart(data)
        .mark_bar()
        .encode(
            y=alt.Y(
                "reason:N", sort="-x", title=None, axis=alt.Axis(labelLimit=320, labelOverlap=False)
            ),
            x=alt.X("failures:Q", title="failures"),
            color=alt.Color(
                "stage:N",
                scale=alt.Scale(domain=["call", "send"], range=["#f2a541", "#d64545"]),
                title="stage",
            ),
            tooltip=["stage", "reason", "failures", alt.Tooltip("share:Q", format=".1%")],
        )
        .properties(height=max(140, 30 * len(data)))
    )


def reasons_over_time_chart(df: pd.DataFrame, top: int = 8) -> alt.Chart:
    """Stacked bars: failures per bucket for the `top` reasons (the rest as 'other')."""
    keep = df.groupby("reason")["failures"].sum().nlargest(top).index
    data = df.assign(reason=df["reason"].where(df["reason"].isin(keep), "other"))
    return (
        alt.Chart(data)
        .mark_bar()
        .encode(
            x=_time_x(),
            y=alt.Y("sum(failures):Q", title="failures"),
            color=alt.Color("reason:N", title="reason", legend=alt.Legend(labelLimit=260)),
            tooltip=[
                alt.Tooltip("bucket:T", title=CHINA_TIME, format="%Y-%m-%d %H:%M"),
                "reason",
                "sum(failures)",
            ],
        )
        .properties(height=260)
    )


def reasons_heatmap(
    df: pd.DataFrame, dimension: str, top_reasons: int = 8, top_rows: int = 12
) -> alt.Chart:
    """Heatmap: failures per reason and carrier/province."""
    reasons = df.groupby("reason")["failures"].sum().nlargest(top_reasons).index
    rows = df.groupby(dimension)["failures"].sum().nlargest(top_rows).index
    data = df[df["reason"].isin(reasons) & df[dimension].isin(rows)]
    return (
        alt.Chart(data)
        .mark_rect()
        .encode(
            x=alt.X("reason:N", title=None, axis=alt.Axis(labelAngle=-30, labelLimit=200)),
            y=alt.Y(
                f"{dimension}:N", title=None, sort=list(rows), axis=alt.Axis(labelOverlap=False)
            ),
            color=alt.Color("failures:Q", scale=alt.Scale(scheme="orangered"), title="failures"),
            tooltip=[dimension, "reason", "failures"],
        )
        .properties(height=max(120, 30 * len(rows)))
    )


def throttle_chart(df: pd.DataFrame) -> alt.Chart:
    """Stacked bars: throttle rejections per bucket by return code."""
    return (
        alt.Chart(df)
        .mark_bar()
        .encode(
            x=_time_x(),
            y=alt.Y("sum(rejections):Q", title="rejections"),
            color=alt.Color(
                "code:N",
                scale=alt.Scale(
                    domain=[8, 9, 22, 17], range=["#b39ddb", "#7e57c2", "#f06292", "#c2185b"]
                ),
                title="code",
            ),
            tooltip=[
                alt.Tooltip("bucket:T", title=CHINA_TIME, format="%Y-%m-%d %H:%M"),
                "reason",
                "rejections",
            ],
        )
        .properties(height=240)
    )


def ingest_chart(df: pd.DataFrame) -> alt.Chart:
    """Stacked bars: reports received per bucket, by channel (push, pull)."""
    return (
        alt.Chart(df)
        .mark_bar()
        .encode(
            x=_time_x(),
            y=alt.Y("sum(reports):Q", title="reports received"),
            color=alt.Color("channel:N", scale=_scale(CHANNEL_COLORS), title="channel"),
            tooltip=[
                alt.Tooltip("bucket:T", title=CHINA_TIME, format="%H:%M"),
                "channel",
                "bodies",
                "reports",
            ],
        )
        .properties(height=220)
    )
