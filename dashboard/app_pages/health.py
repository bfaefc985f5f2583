"""Ingest health: is pull running, is push arriving, what could not be parsed."""

from __future__ import annotations

from datetime import timedelta

import streamlit as st

from dashboard import charts, queries, state

st.title("Ingest health")
live = st.toggle("Auto-refresh every 30 s", key="health_live", help="For the on-call screen.")


@st.fragment(run_every="30s" if live else None)
def health() -> None:
    now = state.now()
    settings = state.settings()
    summary = state.query(queries.health_summary, now)
    st.caption(
        f"As of {state.china_time(now)} China time · pull interval {settings.pull_interval:g} s"
    )
    lag = summary.pull_lag_s
    if lag is None:
        st.warning("No pull run recorded yet: is `voicewatch` ingest running?")
    elif lag > max(60.0, 6 * settings.pull_interval):
        st.error(f"The last pull finished {lag:.0f} s ago: the pull loop looks stuck or stopped.")
    if summary.last_pull_error:
        st.warning(f"Last pull failed: {state.outside(summary.last_pull_error)}")

    row = st.columns(5)
    row[0].metric(
        "Pull lag",
        state.seconds(lag),
        help="Seconds since the last pull run finished.",
        border=True,
    )
    row[1].metric(
        "Pulls, 1 h",
        f"{summary.pulls_last_hour:,}",
        f"{summary.pull_errors_last_hour} failed" if summary.pull_errors_last_hour else None,
        delta_color="inverse",
        border=True,
    )
    row[2].metric("Push bodies, 1 h", f"{summary.push_bodies_last_hour:,}", border=True)
    row[3].metric(
        "Reports stored, 1 h",
        f"{summary.pushed_reports_last_hour + summary.pulled_reports_last_hour:,}",
        help=f"{summary.pushed_reports_last_hour} pushed, {summary.pulled_reports_last_hour} pulled",
        border=True,
    )
    row[4].metric(
        "Report delay",
        state.seconds(summary.mean_report_delay_s),
        help="Mean time from call end to the report being stored, last hour.",
        border=True,
    )
    if summary.upstream_errors_last_hour:
        st.warning(
            f"{summary.upstream_errors_last_hour} sends in the last hour got no answer from "
            "Yunpian or a 5xx: see the ingest service's /healthz and /metrics."
        )
    row = st.columns(6)
    row[0].metric("Sends, 1 h", f"{summary.sends_last_hour:,}", border=True)
    row[1].metric("Rejected sends, 1 h", f"{summary.rejected_last_hour:,}", border=True)
    row[2].metric(
        "Upstream errors, 1 h",
        f"{summary.upstream_errors_last_hour:,}",
        help="Sends Yunpian did not answer (unreachable, timed out) or answered with a 5xx.",
        border=True,
    )
    row[3].metric("Malformed, 24 h", summary.malformed_last_24h, border=True)
    row[4].metric("Waiting to parse", summary.pending_bodies, border=True)
    row[5].metric(
        "Last report stored", state.china_time(summary.last_report_seen, "%H:%M:%S"), border=True
    )

    st.subheader("Reports received per minute, last 2 h")
    traffic = state.query(queries.ingest_over_time, now - timedelta(hours=2))
    if traffic.empty:
        st.info("No raw bodies received in the last 2 hours.")
    else:
        st.altair_chart(charts.ingest_chart(traffic))
    left, right = st.columns(2)
    with left:
        st.subheader("Raw inbox, last 24 h")
        state.table(
            state.query(queries.raw_inbox_counts, now - timedelta(days=1)),
            "raw inbox counts",
            key="raw_counts",
        )
    with right:
        st.subheader("Recent malformed bodies")
        state.table(
            state.query(queries.malformed_bodies),
            "malformed bodies",
            key="malformed",
            column_config={
                "received_at": st.column_config.DatetimeColumn(
                    "received (China)", format="MM-DD HH:mm:ss"
                )
            },
        )
    st.subheader("Recent pull runs")
    state.table(
        state.query(queries.recent_pull_runs),
        "pull runs",
        key="pull_runs",
        column_config={
            "started_at": st.column_config.DatetimeColumn(
                "started (China)", format="MM-DD HH:mm:ss"
            ),
            "finished_at": st.column_config.DatetimeColumn(
                "finished (China)", format="HH:mm:ss.SSS"
            ),
        },
    )


health()
