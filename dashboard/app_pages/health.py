"""Ingest health: is pull running, is push arriving, what could not be parsed."""

from __future__ import annotations

from datetime import datetime, timedelta

import streamlit as st

from dashboard import charts, queries, state
from dashboard.lang import _, language, zone_note
from ingest.store.health import (
    DISK_LOW,
    PULL_STALE,
    STORE_FAILING,
    UPSTREAM_UNREACHABLE,
    Problem,
)

PROBLEMS = {
    STORE_FAILING: _("The database is failing or locked"),
    PULL_STALE: _("The pull loop has not succeeded lately"),
    DISK_LOW: _("The database's disk is nearly full"),
    UPSTREAM_UNREACHABLE: _("Yunpian does not answer"),
}

st.title(_("Ingest health"))
zone_note()
live = st.toggle(_("Auto-refresh every 30 s"), key="health_live", help=_("For the on-call screen."))


def detail(problem: Problem) -> str:
    """What /healthz saw, in the viewer's language; times in China time."""
    if not problem.words:
        return problem.detail
    values = {
        name: state.china_time(value) if isinstance(value, datetime) else value
        for name, value in problem.values
    }
    return _(problem.words).format(**values)


def seconds(value: float | None) -> str:
    return "—" if value is None else language().duration(timedelta(seconds=value))


@st.fragment(run_every="30s" if live else None)
def health() -> None:
    now = state.now()
    settings = state.settings()
    summary = state.query(
        queries.health_summary,
        now,
        pull_interval=settings.pull_interval,
        disk_min_free_mb=settings.disk_min_free_mb,
    )
    st.caption(
        _("As of {time} China time · pull interval {interval}").format(
            time=state.china_time(now), interval=seconds(settings.pull_interval)
        )
    )
    verdict(summary)
    pulls_and_reports(summary)
    sends_and_inbox(summary)
    tables(now)


def verdict(summary: queries.HealthSummary) -> None:
    """What /healthz says from the same database: healthy, or each problem."""
    if not summary.problems:
        st.success(_("Healthy: /healthz finds no problem in the database."))
    for problem in summary.problems:
        st.error(
            f"{PROBLEMS.get(problem.reason, problem.reason)}: {state.outside(detail(problem))}"
        )
    lag = summary.pull_lag_s
    if lag is None:
        st.warning(_("No pull run recorded yet: is `voicewatch` ingest running?"))
    if summary.last_pull_error:
        st.warning(
            _("Last pull failed: {error}").format(error=state.outside(summary.last_pull_error))
        )


def pulls_and_reports(summary: queries.HealthSummary) -> None:
    lang = language()
    row = st.columns(5)
    row[0].metric(
        _("Pull lag"),
        seconds(summary.pull_lag_s),
        help=_("Time since the last pull run finished."),
        border=True,
    )
    failed = summary.pull_errors_last_hour
    row[1].metric(
        _("Pulls, 1 h"),
        lang.number(summary.pulls_last_hour),
        _("{count} failed").format(count=lang.number(failed)) if failed else None,
        delta_color="inverse",
        border=True,
    )
    row[2].metric(_("Push bodies, 1 h"), lang.number(summary.push_bodies_last_hour), border=True)
    row[3].metric(
        _("Reports stored, 1 h"),
        lang.number(summary.reports_stored_last_hour),
        help=_(
            "Reports first stored in the last hour, each counted once however often it came "
            "({pushed} came in push bodies, {pulled} in pulls; a report may come both ways)."
        ).format(
            pushed=lang.number(summary.pushed_reports_last_hour),
            pulled=lang.number(summary.pulled_reports_last_hour),
        ),
        border=True,
    )
    row[4].metric(
        _("Report delay"),
        seconds(summary.mean_report_delay_s),
        help=_("Mean time from call end to the report being stored, last hour."),
        border=True,
    )


def sends_and_inbox(summary: queries.HealthSummary) -> None:
    lang = language()
    row = st.columns(7)
    row[0].metric(_("Sends, 1 h"), lang.number(summary.sends_last_hour), border=True)
    row[1].metric(_("Rejected sends, 1 h"), lang.number(summary.rejected_last_hour), border=True)
    row[2].metric(
        _("Upstream errors, 1 h"),
        lang.number(summary.upstream_errors_last_hour),
        help=_("Sends Yunpian did not answer (unreachable, timed out) or answered with a 5xx."),
        border=True,
    )
    row[3].metric(
        _("Malformed, 24 h"),
        lang.number(summary.malformed_last_24h),
        help=_("Bodies none of whose reports could be stored."),
        border=True,
    )
    row[4].metric(
        _("Quarantined, 24 h"),
        lang.number(summary.quarantined_last_24h),
        help=_("Bodies whose good reports are stored and some others refused, each with why."),
        border=True,
    )
    row[5].metric(_("Waiting to parse"), lang.number(summary.pending_bodies), border=True)
    row[6].metric(
        _("Last report stored"),
        state.china_time(summary.last_report_seen, "%H:%M:%S"),
        border=True,
    )


def tables(now) -> None:
    st.subheader(_("Reports received per minute, last 2 h"))
    traffic = state.query(queries.ingest_over_time, now - timedelta(hours=2))
    if traffic.empty:
        st.info(_("No raw bodies received in the last 2 hours."))
    else:
        st.altair_chart(charts.ingest_chart(traffic))
    left, right = st.columns(2)
    with left:
        st.subheader(_("Raw inbox, last 24 h"))
        state.table(
            state.query(queries.raw_inbox_counts, now - timedelta(days=1)),
            "raw inbox counts",
            key="raw_counts",
            label=_("raw inbox counts"),
        )
    with right:
        st.subheader(_("Recent malformed bodies"))
        state.table(
            state.query(queries.malformed_bodies),
            "malformed bodies",
            key="malformed",
            label=_("malformed bodies"),
            column_config={
                "received_at": st.column_config.DatetimeColumn(
                    _("received (China)"), format="MM-DD HH:mm:ss"
                )
            },
        )
    st.subheader(_("Recent quarantined bodies"))
    st.caption(
        _(
            "Their good reports are stored; the reports listed were refused and are kept only "
            "in the body. `voicewatch db replay` parses them again after an upgrade."
        )
    )
    state.table(
        state.query(queries.quarantined_bodies),
        "quarantined bodies",
        key="quarantined",
        label=_("quarantined bodies"),
        column_config={
            "received_at": st.column_config.DatetimeColumn(
                _("received (China)"), format="MM-DD HH:mm:ss"
            )
        },
    )
    st.subheader(_("Recent pull runs"))
    state.table(
        state.query(queries.recent_pull_runs),
        "pull runs",
        key="pull_runs",
        label=_("pull runs"),
        column_config={
            "started_at": st.column_config.DatetimeColumn(
                _("started (China)"), format="MM-DD HH:mm:ss"
            ),
            "finished_at": st.column_config.DatetimeColumn(
                _("finished (China)"), format="HH:mm:ss.SSS"
            ),
        },
    )


health()
