"""Throttling: numbers at Yunpian's per-number limits, throttle rejections, heavy callers."""

from __future__ import annotations

import streamlit as st

from dashboard import charts, queries, state
from ingest.throttle import DEFAULT_LIMITS

st.title("Throttling")
limits = DEFAULT_LIMITS
st.caption(
    "Yunpian refuses a send to a number that got **the same code within 30 s** (code 8) or "
    f"**the same code {limits.same_code_per_window} times in 5 min** (code 9), or more than "
    f"**{limits.per_hour} sends in 1 h** (code 22) / **{limits.per_day} in 24 h** (code 17). "
    "The 1 h / 24 h numbers are account settings in Yunpian's console; the values here are assumed."
)
filters = state.current_filters()
now = filters.end
at_limit = state.query(queries.throttle_pressure, now, only_at_limit=True)
pressure = state.query(queries.throttle_pressure, now, limit=50)
over_time = state.query(queries.throttle_rejections_over_time, filters)
frequent = state.query(queries.frequent_numbers, filters)

tiles = st.columns(4)
tiles[0].metric("Numbers at a limit now", len(at_limit), border=True)
tiles[1].metric(
    "Throttle rejections", int(over_time["rejections"].sum()) if len(over_time) else 0, border=True
)
tiles[2].metric("Numbers called ≥ 8 times", len(frequent), border=True)
tiles[3].metric(
    "Busiest number, last 24 h",
    int(pressure["last_24h"].max()) if len(pressure) else 0,
    help="Accepted sends to the single most-called number in the last 24 h.",
    border=True,
)

windows = {
    "last_30s": st.column_config.NumberColumn("30 s", help="accepted sends in the last 30 s"),
    "last_5min": st.column_config.NumberColumn("5 min"),
    "same_code_5min": st.column_config.ProgressColumn(
        "same code, 5 min", min_value=0, max_value=limits.same_code_per_window, format="%d"
    ),
    "last_1h": st.column_config.ProgressColumn(
        "1 h", min_value=0, max_value=limits.per_hour, format="%d"
    ),
    "last_24h": st.column_config.ProgressColumn(
        "24 h", min_value=0, max_value=limits.per_day, format="%d"
    ),
    "throttled_24h": st.column_config.NumberColumn("throttled, 24 h"),
    "last_sent_at": st.column_config.DatetimeColumn("last send (China)", format="MM-DD HH:mm:ss"),
    "at_limit": st.column_config.TextColumn("at limit"),
}
st.subheader("Numbers at a limit now")
if at_limit.empty:
    st.success("No number is at a throttle limit right now.")
else:
    state.table(at_limit, "numbers at limit", key="at_limit", column_config=windows)

st.subheader("Throttle rejections over time")
if over_time.empty:
    st.info("No throttle rejections in this range.")
else:
    st.altair_chart(charts.throttle_chart(over_time))

left, right = st.columns(2)
with left:
    st.subheader("Per-number pressure, last 24 h")
    state.table(pressure, "throttle pressure", key="pressure", column_config=windows, height=420)
with right:
    st.subheader("Called suspiciously often")
    st.caption(
        "Many sends or many distinct codes to one number in the range: retry loops or SMS pumping."
    )
    state.table(
        frequent,
        "frequent numbers",
        key="frequent",
        height=420,
        column_config={
            "first_sent_at": st.column_config.DatetimeColumn("first (China)", format="MM-DD HH:mm"),
            "last_sent_at": st.column_config.DatetimeColumn("last (China)", format="MM-DD HH:mm"),
        },
    )
