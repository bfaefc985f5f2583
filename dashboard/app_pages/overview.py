"""Overview: headline tiles with deltas against the previous period, volume, answer rates, fees."""

from __future__ import annotations

import streamlit as st

from dashboard import charts, queries, state

st.title("Overview")
live = st.toggle("Auto-refresh every 30 s", key="overview_live", help="For the on-call screen.")


def tile(
    column, label: str, value, previous, fmt, *, inverse: bool = False, help: str | None = None
):
    """A metric with its change against the previous period (None-safe)."""
    delta = None
    if value is not None and previous is not None:
        delta = fmt(value - previous)
        if not delta.startswith("-"):
            delta = "+" + delta
    column.metric(
        label,
        "—" if value is None else fmt(value),
        delta,
        delta_color="inverse" if inverse else "normal",
        help=help,
        border=True,
    )


@st.fragment(run_every="30s" if live else None)
def overview() -> None:
    filters = state.current_filters()
    st.caption(
        f"{state.describe_range(filters)} · deltas compare with the {filters.end - filters.start} before"
    )
    kpi = state.query(queries.kpi_comparison, filters)
    now, before = kpi.current, kpi.previous
    count = "{:,.0f}".format
    pct_points = lambda v: f"{v * 100:.1f} pp" if abs(v) < 1 else f"{v:.1%}"  # noqa: E731
    row1 = st.columns(5)
    tile(row1[0], "Sends", now.sends, before.sends, count)
    tile(row1[1], "Accepted", now.accepted, before.accepted, count)
    rate_now, rate_before = now.answer_rate, before.answer_rate
    row1[2].metric(
        "Answer rate",
        state.percent(rate_now),
        pct_points(rate_now - rate_before)
        if rate_now is not None and rate_before is not None
        else None,
        help="Answered share of the calls whose report has arrived.",
        border=True,
    )
    tile(row1[3], "Not answered", now.failed, before.failed, count, inverse=True)
    tile(
        row1[4],
        "Throttled",
        now.throttled,
        before.throttled,
        count,
        inverse=True,
        help="Rejected with code 8, 9, 17 or 22.",
    )
    row2 = st.columns(5)
    tile(row2[0], "Fees", now.fees, before.fees, "{:,.0f}".format, inverse=True)
    tile(
        row2[1],
        "Fee per answered call",
        now.cost_per_answered,
        before.cost_per_answered,
        "{:.2f}".format,
        inverse=True,
    )
    tile(
        row2[2],
        "Median send → answer",
        now.median_answer_s,
        before.median_answer_s,
        "{:.1f} s".format,
        inverse=True,
    )
    tile(
        row2[3],
        "p95 send → answer",
        now.p95_answer_s,
        before.p95_answer_s,
        "{:.1f} s".format,
        inverse=True,
    )
    tile(
        row2[4],
        "Mean call duration",
        now.mean_duration_s,
        before.mean_duration_s,
        "{:.1f} s".format,
    )

    volume = state.query(queries.volume_by_outcome, filters)
    st.subheader("Sends by outcome")
    if volume.empty:
        st.info("No sends in this range.")
    else:
        st.altair_chart(charts.volume_chart(volume))
    st.subheader("Answer rate by carrier")
    rates = state.query(queries.answer_rate_over_time, filters)
    if not rates.empty:
        st.altair_chart(charts.answer_rate_chart(rates))
    left, right = st.columns(2)
    by_carrier = state.query(queries.answer_rate_by, filters, "carrier")
    by_province = state.query(queries.answer_rate_by, filters, "province")
    with left:
        st.subheader("By carrier")
        if not by_carrier.empty:
            st.altair_chart(charts.rate_by_chart(by_carrier, "carrier"))
        with st.expander("Table"):
            state.table(
                by_carrier, "answer rate by carrier", key="by_carrier", column_config=_rate_column()
            )
    with right:
        st.subheader("By province")
        if not by_province.empty:
            st.altair_chart(charts.rate_by_chart(by_province, "province"))
        with st.expander("Table"):
            state.table(
                by_province,
                "answer rate by province",
                key="by_province",
                column_config=_rate_column(),
            )
    st.subheader("Fees per day")
    fees = state.query(queries.fees_per_day, filters)
    if not fees.empty:
        st.altair_chart(charts.fees_chart(fees))
    with st.expander("Table"):
        state.table(
            fees,
            "fees per day",
            key="fees",
            column_config={"day": st.column_config.DateColumn("day (China)")},
        )


def _rate_column() -> dict:
    return {
        "answer_rate": st.column_config.ProgressColumn(
            "answer rate", format="percent", min_value=0, max_value=1
        )
    }


overview()
