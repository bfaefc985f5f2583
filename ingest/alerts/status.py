"""What the alerts say about ingest, for /healthz and the Ingest health page: a firing
"ingest" alert (pull stale, pushes stopped, reports missing) means degraded health."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, select

from ingest.store.alert_models import AlertState

INGEST_RULE_KINDS = ("pull_stale", "push_stale", "reports_missing")


@dataclass(frozen=True)
class FiringAlert:
    rule: str
    subject: str


def firing_alerts(engine: Engine, rule_names: list[str] | None = None) -> list[FiringAlert]:
    """Rules (and subjects) firing now, optionally only those named."""
    query = select(AlertState.rule, AlertState.subject).where(AlertState.status == "firing")
    if rule_names is not None:
        query = query.where(AlertState.rule.in_(rule_names))
    with engine.connect() as connection:
        return [FiringAlert(rule, subject) for rule, subject in connection.execute(query)]


def ingest_alerts(engine: Engine, rules: list) -> list[FiringAlert]:
    """Firing alerts of the ingest kinds among `rules`: each one makes health degraded."""
    names = [rule.name for rule in rules if rule.kind in INGEST_RULE_KINDS]
    return firing_alerts(engine, names) if names else []


def firing_ingest_alert_names(engine: Engine, rules: list) -> list[str]:
    """ "rule" or "rule: subject" for each ingest alert firing now, for health's reasons."""
    return [
        f"{alert.rule}: {alert.subject}" if alert.subject else alert.rule
        for alert in ingest_alerts(engine, rules)
    ]
