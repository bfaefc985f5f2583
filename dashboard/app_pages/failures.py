"""Failures: why calls went unanswered and why sends were refused; a row opens the call."""

from __future__ import annotations

import streamlit as st

from dashboard import charts, queries, state

st.title("Failures")
filters = state.current_filters()
st.caption(
    f"{state.describe_range(filters)} · *call* failures are the report's `error_msg`; "
    "*send* failures are Yunpian's return code when the send was refused."
)

reasons = state.query(queries.failure_reasons, filters)
if reasons.empty:
    st.success("No failures in this range.")
    st.stop()

left, right = st.columns([3, 2])
with left:
    st.subheader("Reasons")
    st.altair_chart(charts.reasons_chart(reasons))
with right:
    st.subheader("Reason table")
    state.table(
        reasons,
        "failure reasons",
        key="reasons",
        column_config={
            "share": st.column_config.ProgressColumn(
                "share", format="percent", min_value=0, max_value=1
            ),
            "code": st.column_config.NumberColumn("code", format="%d"),
        },
    )

st.subheader("Over time")
st.altair_chart(charts.reasons_over_time_chart(state.query(queries.failures_over_time, filters)))

st.subheader("Where")
dimension = st.segmented_control(
    "Group by", ["carrier", "province"], default="carrier", key="failures_by"
)
by = state.query(queries.failure_reasons_by, filters, dimension or "carrier")
st.altair_chart(charts.reasons_heatmap(by, dimension or "carrier"))
with st.expander("Table"):
    state.table(by, f"failures by {dimension}", key="failures_by_table")

st.subheader("Latest failures")
st.caption("Select a row to open the call's full timeline on the Lookup page.")
latest = state.query(queries.latest_failures, filters)
event = state.table(
    latest,
    "latest failures",
    key="latest_failures",
    on_select="rerun",
    column_config={
        "sent_at": st.column_config.DatetimeColumn(
            "sent (China time)", format="YYYY-MM-DD HH:mm:ss"
        ),
        "code": st.column_config.NumberColumn("code", format="%d"),
    },
)
rows = event.selection.rows if event is not None else []
if rows:
    picked = latest.iloc[rows[0]]
    # The sid travels in the URL; a bare number stays in the session, out of browser history.
    if isinstance(picked["sid"], str) and picked["sid"]:
        st.session_state["lookup_query"] = picked["sid"]
        st.switch_page("app_pages/lookup.py", query_params={"sid": picked["sid"]})
    st.session_state["lookup_query"] = picked["mobile"]
    st.switch_page("app_pages/lookup.py")
