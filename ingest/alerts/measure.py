"""Measure any rule: the kind's function over the database, at the time given."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import Connection

from ingest.alerts import measure_account, measure_traffic
from ingest.alerts.findings import Finding
from ingest.alerts.rules import Rule

Measure = Callable[[Connection, Rule, datetime], list[Finding]]

MEASURES: dict[str, Measure] = {
    "answer_rate": measure_traffic.answer_rate,
    "reports_missing": measure_traffic.reports_missing,
    "upstream_errors": measure_traffic.upstream_errors,
    "refusals": measure_traffic.refusals,
    "fee_spike": measure_traffic.fee_spike,
    "hot_numbers": measure_traffic.hot_numbers,
    "pull_stale": measure_account.pull_stale,
    "push_stale": measure_account.push_stale,
    "balance_low": measure_account.balance_low,
    "balance_runway": measure_account.balance_runway,
}


def measure(connection: Connection, rule: Rule, now: datetime) -> list[Finding]:
    """One finding per subject with data for `rule` at `now` (aware UTC)."""
    return MEASURES[rule.kind](connection, rule, now)
