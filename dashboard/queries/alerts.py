"""The Alerts page's reads: rule states, recent events, measured values for the charts,
silences with their audit. Plain functions of an engine returning DataFrames, and the words
the page shows for their columns and values (marked for translation, translated where shown)."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
from sqlalchemy import Engine, or_, select

from ingest.i18n import N_
from ingest.store.alert_models import AlertEvent, AlertMeasurement, AlertSilence, AlertState

STATE_COLUMNS = [
    "rule",
    "subject",
    "status",
    "value",
    "baseline",
    "threshold",
    "sample",
    "example",
    "since",
    "fired_at",
    "resolved_at",
]
# The column headers of every table on the Alerts page, by column name.
COLUMN_LABELS = {
    "id": N_("silence no."),
    "at": N_("at"),
    "rule": N_("rule"),
    "subject": N_("where"),
    "status": N_("state"),
    "event": N_("event"),
    "severity": N_("severity"),
    "value": N_("measured"),
    "baseline": N_("baseline"),
    "threshold": N_("threshold"),
    "sample": N_("calls counted"),
    "example": N_("example call"),
    "since": N_("holding since"),
    "fired_at": N_("fired at"),
    "resolved_at": N_("resolved at"),
    "silenced": N_("silenced"),
    "notified_at": N_("notified at"),
    "error": N_("delivery error"),
    "ends_at": N_("silenced until"),
    "reason": N_("reason"),
    "created_by": N_("set by"),
    "created_at": N_("set at"),
    "lifted_by": N_("lifted by"),
    "lifted_at": N_("lifted at"),
}
TIME_COLUMNS = (
    "at",
    "since",
    "fired_at",
    "resolved_at",
    "notified_at",
    "ends_at",
    "created_at",
    "lifted_at",
)
# A rule state's status or an event's kind, and a rule's severity, as the page words them.
STATUS_WORDS = {
    "pending": N_("Pending"),
    "firing": N_("Firing"),
    "repeat": N_("Still firing"),
    "resolved": N_("Resolved"),
}
SEVERITY_WORDS = {"info": N_("Info"), "warning": N_("Warning"), "critical": N_("Critical")}


def _frame(engine: Engine, query, columns: list[str]) -> pd.DataFrame:
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    return pd.DataFrame([tuple(row) for row in rows], columns=columns)


def alert_states(engine: Engine, since: datetime) -> pd.DataFrame:
    """States pending or firing now, and those resolved since `since`; firing first."""
    columns = [getattr(AlertState, name) for name in STATE_COLUMNS]
    query = (
        select(*columns)
        .where(or_(AlertState.status.in_(("pending", "firing")), AlertState.resolved_at >= since))
        .order_by(AlertState.status.desc(), AlertState.since.desc())
    )
    return _frame(engine, query, STATE_COLUMNS)


def recent_events(engine: Engine, since: datetime) -> pd.DataFrame:
    """Firing, reminder and resolved events since `since`, newest first, with delivery."""
    names = [
        "at",
        "rule",
        "subject",
        "event",
        "severity",
        "value",
        "threshold",
        "silenced",
        "notified_at",
        "error",
    ]
    query = (
        select(*[getattr(AlertEvent, n) for n in names])
        .where(AlertEvent.at >= since)
        .order_by(AlertEvent.id.desc())
        .limit(200)
    )
    return _frame(engine, query, names)


def alert_measurements(engine: Engine, rule: str, subject: str, since: datetime) -> pd.DataFrame:
    """One rule's measured value, baseline and threshold over time, for one subject."""
    names = ["at", "value", "baseline", "threshold"]
    query = (
        select(*[getattr(AlertMeasurement, n) for n in names])
        .where(
            AlertMeasurement.rule == rule,
            AlertMeasurement.subject == subject,
            AlertMeasurement.at >= since,
        )
        .order_by(AlertMeasurement.at)
    )
    return _frame(engine, query, names)


def alert_silences(engine: Engine, since: datetime) -> pd.DataFrame:
    """Silences still running or set since `since`, with who set or lifted them."""
    names = [
        "id",
        "rule",
        "subject",
        "ends_at",
        "reason",
        "created_by",
        "created_at",
        "lifted_by",
        "lifted_at",
    ]
    query = (
        select(*[getattr(AlertSilence, n) for n in names])
        .where(or_(AlertSilence.ends_at >= since, AlertSilence.created_at >= since))
        .order_by(AlertSilence.id.desc())
    )
    return _frame(engine, query, names)
