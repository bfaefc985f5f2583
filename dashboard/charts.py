"""Altair chart builders: pure functions of the DataFrames `dashboard.queries` returns, with
their words in the viewer's language (dashboard/lang.py).

Time charts take the grain their buckets were summed at: bars then fill their bucket (no
hairlines), axes label each bucket once in the grain's format, and lines break where buckets
are missing (the quiet hours) instead of drawing straight across them."""

from __future__ import annotations

from datetime import timedelta

import altair as alt
import pandas as pd

from dashboard.lang import _, place
from ingest.i18n import N_

OUTCOME_COLORS = {
    N_("answered"): "#2e9e5b",
    N_("not answered"): "#f2a541",
    N_("no report"): "#8c564b",
    N_("pending"): "#b8c2cc",
    N_("unknown"): "#5b6b7b",
    N_("throttled"): "#8e6bbf",
    N_("rejected"): "#d64545",
}
CARRIER_COLORS = {
    N_("China Mobile"): "#1f77b4",
    N_("China Unicom"): "#d62728",
    N_("China Telecom"): "#2ca02c",
    N_("other"): "#9a9a9a",
}
CHANNEL_COLORS = {"push": "#1f77b4", "pull": "#ff7f0e"}
MIN_POINT = 10  # reported calls a bucket needs to be drawn as a rate (fewer swing 0-100 %)
STEPS = {
    "minute": timedelta(minutes=1),
    "hour": timedelta(hours=1),
    "day": timedelta(days=1),
    "week": timedelta(days=7),
}
# Axis labels per grain; hours and minutes show the date at midnight, so no day repeats.
_CLOCK = "hours(datum.value) == 0 && minutes(datum.value) == 0 ? timeFormat(datum.value, '%m-%d') : timeFormat(datum.value, '%H:%M')"
_TOOLTIP_FORMATS = {
    "minute": "%Y-%m-%d %H:%M",
    "hour": "%Y-%m-%d %H:00",
    "day": "%Y-%m-%d",
    "week": "%Y-%m-%d",
}


def china_time() -> str:
    return _("China time (UTC+8)")


def _scale(colors: dict[str, str]) -> alt.Scale:
    return alt.Scale(domain=[_(key) for key in colors], range=list(colors.values()))


def _time_x(column: str = "bucket", grain: str | None = None) -> alt.X:
    """The time axis for buckets of `grain`: clock times for minutes and hours (the date at
    midnight), dates for days, week starts for weeks, each bucket labelled at most once."""
    if grain in ("day", "week"):
        axis = alt.Axis(
            format="%m-%d",
            labelAngle=0,
            tickCount={"interval": grain, "step": 1},
            labelOverlap=True,
        )
        title = _("week starting (China time)") if grain == "week" else _("day (China time)")
        return alt.X(f"{column}:T", title=title, axis=axis)
    axis = alt.Axis(labelExpr=_CLOCK, labelAngle=0, labelOverlap=True)
    return alt.X(f"{column}:T", title=china_time(), axis=axis)


def _time_tooltip(grain: str | None, column: str = "bucket") -> alt.Tooltip:
    return alt.Tooltip(
        f"{column}:T", title=china_time(), format=_TOOLTIP_FORMATS.get(grain or "minute")
    )


def _with_bucket_end(df: pd.DataFrame, grain: str | None) -> pd.DataFrame:
    """`df` with bucket_end, so a bar spans its whole bucket."""
    step = STEPS.get(grain or "", timedelta(minutes=1))
    return df.assign(bucket_end=pd.to_datetime(df["bucket"]) + step)


def gap_segments(df: pd.DataFrame, by: str, grain: str | None) -> pd.DataFrame:
    """`df` with a `segment` per run of consecutive buckets of each `by` value: a line drawn
    per segment breaks where buckets are missing."""
    step = STEPS.get(grain or "", timedelta(minutes=1))
    df = df.sort_values([by, "bucket"]).copy()
    gap = df.groupby(by)["bucket"].diff() > step
    df["segment"] = df[by].astype(str) + "#" + gap.groupby(df[by]).cumsum().astype(str)
    return df


def volume_chart(df: pd.DataFrame, grain: str | None = None) -> alt.Chart:
    """Stacked bars: sends per bucket, coloured by outcome."""
    data = _with_bucket_end(df, grain).assign(outcome=df["outcome"].map(_))
    return (
        alt.Chart(data)
        .mark_bar()
        .encode(
            x=_time_x(grain=grain),
            x2="bucket_end:T",
            y=alt.Y("sum(sends):Q", title=_("sends")),
            color=alt.Color("outcome:N", scale=_scale(OUTCOME_COLORS), title=_("outcome")),
            order=alt.Order("outcome:N"),
            tooltip=[
                _time_tooltip(grain),
                alt.Tooltip("outcome:N", title=_("outcome")),
                alt.Tooltip("sends:Q", title=_("sends")),
            ],
        )
        .properties(height=260)
    )


def answer_rate_chart(df: pd.DataFrame, grain: str | None = None) -> alt.Chart:
    """Lines: answer rate per bucket, one per carrier group, broken where buckets are missing
    or hold fewer than MIN_POINT reported calls; the tooltip gives the counts behind each
    point."""
    data = gap_segments(df[df["reported"] >= MIN_POINT], "carrier", grain).assign(
        carrier=lambda d: d["carrier"].map(_label)
    )
    carriers = {_label(k): v for k, v in CARRIER_COLORS.items()}
    return (
        alt.Chart(data)
        .mark_line(point=alt.OverlayMarkDef(size=18))
        .encode(
            x=_time_x(grain=grain),
            y=alt.Y(
                "answer_rate:Q",
                title=_("answer rate"),
                axis=alt.Axis(format="%"),
                scale=alt.Scale(domain=[0, 1]),
            ),
            color=alt.Color(
                "carrier:N",
                scale=alt.Scale(domain=list(carriers), range=list(carriers.values())),
                title=_("carrier"),
            ),
            detail="segment:N",
            tooltip=[
                _time_tooltip(grain),
                alt.Tooltip("carrier:N", title=_("carrier")),
                alt.Tooltip("answer_rate:Q", format=".1%", title=_("answer rate")),
                alt.Tooltip("answered:Q", title=_("answered")),
                alt.Tooltip("reported:Q", title=_("reported")),
            ],
        )
        .properties(height=260)
    )


def _label(carrier: str) -> str:
    """A carrier group as the legend names it: in the viewer's language."""
    return _(carrier)


def rate_by_chart(df: pd.DataFrame, dimension: str, top: int = 15) -> alt.LayerChart:
    """Horizontal bars: answer rate per carrier, province or country, the busiest `top` in
    order of sends; each row labelled with its count of reported calls, and rows with too few
    calls for a rate (answer_rate missing) shown as a count without a bar."""
    data = df.head(top).copy()
    data[dimension] = data[dimension].map(place)
    reported = data["answered"] + data["failed"]
    data["label"] = [
        _("{rate} of {calls} calls").format(rate=f"{r:.0%}", calls=f"{n:,}")
        if pd.notna(r)
        else _("{calls} calls: too few for a rate").format(calls=f"{n:,}")
        for r, n in zip(data["answer_rate"], reported, strict=True)
    ]
    data["position"] = data["answer_rate"].fillna(0)
    order = list(data[dimension])
    y = alt.Y(f"{dimension}:N", sort=order, title=None, axis=alt.Axis(labelOverlap=False))
    base = alt.Chart(data).encode(y=y)
    bars = base.mark_bar(color="#2e9e5b").encode(
        x=alt.X(
            "answer_rate:Q",
            title=_("answer rate"),
            axis=alt.Axis(format="%"),
            scale=alt.Scale(domain=[0, 1]),
        ),
        tooltip=[
            alt.Tooltip(f"{dimension}:N", title=_(dimension)),
            alt.Tooltip("answer_rate:Q", format=".1%", title=_("answer rate")),
            alt.Tooltip("answered:Q", title=_("answered")),
            alt.Tooltip("failed:Q", title=_("not answered")),
            alt.Tooltip("sends:Q", title=_("sends")),
        ],
    )
    labels = base.mark_text(align="left", dx=4, color="#333").encode(x="position:Q", text="label:N")
    return (bars + labels).properties(height=max(120, 26 * len(data)))


def fees_chart(df: pd.DataFrame, unit: str, grain: str | None = "day") -> alt.Chart:
    """Bars: fees per bucket, in `unit` (credits or yuan, as the viewer reads it)."""
    data = _with_bucket_end(df, grain)
    fees_title = _("fees ({unit})").format(unit=unit)
    return (
        alt.Chart(data)
        .mark_bar(color="#4c78a8")
        .encode(
            x=_time_x(grain=grain),
            x2="bucket_end:T",
            y=alt.Y("fees:Q", title=fees_title),
            tooltip=[
                _time_tooltip(grain),
                alt.Tooltip("fees:Q", title=fees_title, format=",.2f"),
                alt.Tooltip("answered:Q", title=_("answered")),
                alt.Tooltip(
                    "cost_per_answered:Q",
                    format=".2f",
                    title=_("fee per answered call ({unit})").format(unit=unit),
                ),
            ],
        )
        .properties(height=220)
    )


def reasons_chart(df: pd.DataFrame, top: int = 12) -> alt.Chart:
    """Horizontal bars: the commonest failure reasons, coloured by category."""
    data = df.head(top)
    return (
        alt.Chart(data)
        .mark_bar()
        .encode(
            y=alt.Y(
                "reason:N", sort="-x", title=None, axis=alt.Axis(labelLimit=320, labelOverlap=False)
            ),
            x=alt.X("failures:Q", title=_("failures")),
            color=alt.Color("category:N", title=_("category")),
            tooltip=[
                alt.Tooltip("category:N", title=_("category")),
                alt.Tooltip("reason:N", title=_("reason")),
                alt.Tooltip("failures:Q", title=_("failures")),
                alt.Tooltip("share:Q", format=".1%", title=_("share")),
            ],
        )
        .properties(height=max(140, 30 * len(data)))
    )


def reasons_over_time_chart(df: pd.DataFrame, grain: str | None = None) -> alt.Chart:
    """Stacked bars: failures per bucket by category."""
    data = _with_bucket_end(df, grain)
    return (
        alt.Chart(data)
        .mark_bar()
        .encode(
            x=_time_x(grain=grain),
            x2="bucket_end:T",
            y=alt.Y("sum(failures):Q", title=_("failures")),
            color=alt.Color("category:N", title=_("category"), legend=alt.Legend(labelLimit=260)),
            tooltip=[
                _time_tooltip(grain),
                alt.Tooltip("category:N", title=_("category")),
                alt.Tooltip("sum(failures):Q", title=_("failures")),
            ],
        )
        .properties(height=260)
    )


def reasons_heatmap(df: pd.DataFrame, dimension: str, top_rows: int = 12) -> alt.Chart:
    """Heatmap: failures per category and carrier/province/country, every column labelled
    (categories are few) and the busiest `top_rows` rows."""
    rows = df.groupby(dimension)["failures"].sum().nlargest(top_rows).index
    data = (
        df[df[dimension].isin(rows)]
        .groupby([dimension, "category"], as_index=False)["failures"]
        .sum()
    )
    data[dimension] = data[dimension].map(place)
    columns = list(data.groupby("category")["failures"].sum().sort_values(ascending=False).index)
    return (
        alt.Chart(data)
        .mark_rect()
        .encode(
            x=alt.X(
                "category:N",
                title=None,
                sort=columns,
                axis=alt.Axis(labelAngle=0, labelLimit=160, labelOverlap=False, orient="top"),
            ),
            y=alt.Y(
                f"{dimension}:N",
                title=None,
                sort=[place(row) for row in rows],
                axis=alt.Axis(labelOverlap=False),
            ),
            color=alt.Color("failures:Q", scale=alt.Scale(scheme="orangered"), title=_("failures")),
            tooltip=[
                alt.Tooltip(f"{dimension}:N", title=_(dimension)),
                alt.Tooltip("category:N", title=_("category")),
                alt.Tooltip("failures:Q", title=_("failures")),
            ],
        )
        .properties(height=max(120, 30 * len(rows)))
    )


def throttle_chart(df: pd.DataFrame, grain: str | None = None) -> alt.Chart:
    """Stacked bars: throttle rejections per bucket by return code."""
    return (
        alt.Chart(df)
        .mark_bar()
        .encode(
            x=_time_x(grain=grain),
            y=alt.Y("sum(rejections):Q", title=_("rejections")),
            color=alt.Color(
                "code:N",
                scale=alt.Scale(
                    domain=[8, 9, 22, 17], range=["#b39ddb", "#7e57c2", "#f06292", "#c2185b"]
                ),
                title=_("code"),
            ),
            tooltip=[
                _time_tooltip(grain),
                alt.Tooltip("reason:N", title=_("reason")),
                alt.Tooltip("rejections:Q", title=_("rejections")),
            ],
        )
        .properties(height=240)
    )


def ingest_chart(df: pd.DataFrame, grain: str | None = None) -> alt.Chart:
    """Stacked bars: reports received per bucket, by channel (push, pull)."""
    return (
        alt.Chart(df.assign(channel=df["channel"].map(_)))  # the scale's domain is translated
        .mark_bar()
        .encode(
            x=_time_x(grain=grain),
            y=alt.Y("sum(reports):Q", title=_("reports received")),
            color=alt.Color("channel:N", scale=_scale(CHANNEL_COLORS), title=_("channel")),
            tooltip=[
                _time_tooltip(grain),
                alt.Tooltip("channel:N", title=_("channel")),
                alt.Tooltip("bodies:Q", title=_("bodies")),
                alt.Tooltip("reports:Q", title=_("reports")),
            ],
        )
        .properties(height=220)
    )
