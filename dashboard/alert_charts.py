"""The Alerts page's chart: a rule's measured value against its baseline and threshold."""

from __future__ import annotations

import altair as alt
import pandas as pd

SERIES = {"value": "#d62728", "baseline": "#7f7f7f", "threshold": "#ff7f0e"}


def alert_chart(df: pd.DataFrame, unit: str = "") -> alt.Chart:
    """Lines for value, baseline and threshold over time (China time)."""
    long = df.melt(
        id_vars=["at"], value_vars=list(SERIES), var_name="series", value_name="measured"
    ).dropna()
    long["at"] = (
        pd.to_datetime(long["at"], utc=True).dt.tz_convert("Asia/Shanghai").dt.tz_localize(None)
    )
    scale = alt.Scale(domain=list(SERIES), range=list(SERIES.values()))
    return (
        alt.Chart(long)
        .mark_line(point=True)
        .encode(
            x=alt.X("at:T", title="China time", axis=alt.Axis(format="%H:%M")),
            y=alt.Y("measured:Q", title=unit or "measured"),
            color=alt.Color("series:N", scale=scale, title=None),
            strokeDash=alt.condition(
                "datum.series == 'value'", alt.value([1, 0]), alt.value([4, 3])
            ),
            tooltip=["at:T", "series:N", alt.Tooltip("measured:Q", format=".3~f")],
        )
        .properties(height=220)
    )
