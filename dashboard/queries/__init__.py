"""Every aggregation the dashboard shows, in SQL via SQLAlchemy Core: plain functions of an
engine returning DataFrames or dataclasses. No Streamlit here, so tests and scripts can call
them, and no query loads a whole table into Python."""

from __future__ import annotations

from dashboard.queries._sql import Filters, grain_for, grains_for
from dashboard.queries.compare import comparable, period_comparison, rate_change_significant
from dashboard.queries.failures import (
    code_reason,
    failure_reasons,
    failure_reasons_by,
    failures_over_time,
    latest_failures,
)
from dashboard.queries.guard import decisions_over_time, guard_totals, top_blocked
from dashboard.queries.health import (
    HealthSummary,
    health_summary,
    ingest_over_time,
    malformed_bodies,
    quarantined_bodies,
    raw_inbox_counts,
    recent_pull_runs,
)
from dashboard.queries.lookup import (
    ReportView,
    accepted_history,
    lookup_timeline,
    manual_sends_since,
    next_accepted_send,
    number_choices,
    report_for_sid,
)
from dashboard.queries.throttling import (
    ThrottleView,
    frequent_numbers,
    throttle_pressure,
    throttle_rejections_over_time,
    throttle_view,
)
from dashboard.queries.traffic import (
    MIN_SAMPLE,
    FilterOptions,
    KpiComparison,
    Kpis,
    answer_rate_by,
    answer_rate_over_time,
    fees_over_time,
    fees_per_day,
    filter_options,
    first_send_at,
    kpi_comparison,
    kpis,
    no_report_count,
    volume_by_outcome,
)

__all__ = [
    "MIN_SAMPLE",
    "FilterOptions",
    "Filters",
    "HealthSummary",
    "KpiComparison",
    "Kpis",
    "ReportView",
    "ThrottleView",
    "accepted_history",
    "answer_rate_by",
    "answer_rate_over_time",
    "code_reason",
    "comparable",
    "decisions_over_time",
    "failure_reasons",
    "failure_reasons_by",
    "failures_over_time",
    "fees_over_time",
    "fees_per_day",
    "filter_options",
    "first_send_at",
    "frequent_numbers",
    "grain_for",
    "grains_for",
    "guard_totals",
    "health_summary",
    "ingest_over_time",
    "kpi_comparison",
    "kpis",
    "latest_failures",
    "lookup_timeline",
    "malformed_bodies",
    "manual_sends_since",
    "next_accepted_send",
    "no_report_count",
    "number_choices",
    "period_comparison",
    "quarantined_bodies",
    "rate_change_significant",
    "raw_inbox_counts",
    "recent_pull_runs",
    "report_for_sid",
    "throttle_pressure",
    "throttle_rejections_over_time",
    "throttle_view",
    "top_blocked",
    "volume_by_outcome",
]
