"""The Alerts page's chart: a rule's measured value against its baseline and threshold, with
its words in the viewer's language (dashboard/lang.py)."""

from __future__ import annotations

import altair as alt
import pandas as pd

from dashboard.charts import china_time
from dashboard.lang import _
from ingest.i18n import N_

SERIES = {"value": "#d62728", "baseline": "#7f7f7f", "threshold": "#ff7f0e"}
SERIES_LABELS = {"value": N_("measured"), "baseline": N_("baseline"), "threshold": N_("threshold")}


def alert_chart(df: pd.DataFrame, unit: str = "") -> alt.Chart:
    """Lines for value, baseline and threshold over time (China time)."""
    labels = {series: _(SERIES_LABELS[series]) for series in SERIES}
    long = df.melt(
        id_vars=["at"], value_vars=list(SERIES), var_name="series", value_name="measured"
    ).dropna()
    long["at"] = (
        pd.to_datetime(long["at"], utc=True).dt.tz_convert("Asia/Shanghai").dt.tz_localize(None)
    )
    long["series"] = long["series"].map(labels)
    scale = alt.Scale(domain=list(labels.values()), range=list(SERIES.values()))
    # The label is our own translation, never text from outside.
    measured = alt.datum.series == labels["value"]
    return (
        alt.Chart(long)
        .mark_line(point=True)
        .encode(
            x=alt.X("at:T", title=china_time(), axis=alt.Axis(format="%H:%M")),
            y=alt.Y("measured:Q", title=unit or labels["value"]),
            color=alt.Color("series:N", scale=scale, title=None),
            strokeDash=alt.condition(measured, alt.value([1, 0]), alt.value([4, 3])),
            tooltip=[
                alt.Tooltip("at:T", title=china_time(), format="%Y-%m-%d %H:%M"),
                alt.Tooltip("series:N", title=_("line")),
                alt.Tooltip("measured:Q", title=_("measured"), format=".3~f"),
            ],
        )
        .properties(height=220)
    )
