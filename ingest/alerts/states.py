"""Rule states in the database: pending → firing → resolved, with the events to notify.

One event on firing, one on resolving, a repeat every `rule.repeat` while firing; a pending
condition that clears before `pending_for` passes is "cleared" and tells no one. Events made
while a silence covers the subject are stored silenced and never sent. Everything lives in
the database, so a restarted loop continues where the last one stopped."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from ingest.alerts.findings import Finding
from ingest.alerts.rules import Rule
from ingest.store.alert_models import AlertEvent, AlertMeasurement, AlertSilence, AlertState

ACTIVE = ("pending", "firing")


def active_silences(session: Session, now: datetime) -> list[AlertSilence]:
    """Silences not lifted and not yet over."""
    return list(
        session.scalars(
            select(AlertSilence).where(AlertSilence.ends_at > now, AlertSilence.lifted_at.is_(None))
        )
    )


def is_silenced(silences: list[AlertSilence], rule: str, subject: str) -> bool:
    return any(s.rule == rule and s.subject in ("", subject) for s in silences)


def _event(state: AlertState, rule: Rule, kind: str, now: datetime, silenced: bool) -> AlertEvent:
    return AlertEvent(
        at=now,
        rule=rule.name,
        subject=state.subject,
        event=kind,
        severity=rule.severity,
        value=state.value,
        baseline=state.baseline,
        threshold=state.threshold,
        sample=state.sample,
        example=state.example,
        silenced=silenced,
        attempts=0,
    )


def _hold(state: AlertState | None, rule: Rule, finding: Finding, now: datetime) -> AlertState:
    """The state for a breached finding: a new pending one unless one is already active."""
    if state is None:
        state = AlertState(rule=rule.name, subject=finding.subject, since=now)
    if state.status not in ACTIVE:
        state.status, state.since = "pending", now
        state.fired_at = state.resolved_at = state.notified_at = None
    state.value, state.baseline, state.threshold = (
        finding.value,
        finding.baseline,
        finding.threshold,
    )
    state.sample, state.updated_at = finding.sample, now
    state.example = finding.example or state.example
    return state


def _reminder_due(state: AlertState, rule: Rule, now: datetime) -> bool:
    last = state.notified_at or state.fired_at
    return bool(rule.repeat) and last is not None and now - last >= timedelta(seconds=rule.repeat)


def advance(
    session: Session,
    rule: Rule,
    findings: list[Finding],
    now: datetime,
    silences: list[AlertSilence],
) -> list[AlertEvent]:
    """Move `rule`'s states on by its latest findings; returns (and adds) the new events."""
    states = {
        s.subject: s
        for s in session.scalars(select(AlertState).where(AlertState.rule == rule.name))
    }
    events = []
    breached = {f.subject: f for f in findings if f.breached}
    for subject, finding in breached.items():
        state = _hold(states.get(subject), rule, finding, now)
        session.add(state)
        silenced = is_silenced(silences, rule.name, subject)
        if state.status == "pending" and now - state.since >= timedelta(seconds=rule.pending_for):
            state.status, state.fired_at, state.notified_at = "firing", now, now
            events.append(_event(state, rule, "firing", now, silenced))
        elif state.status == "firing" and _reminder_due(state, rule, now):
            state.notified_at = now
            events.append(_event(state, rule, "repeat", now, silenced))
    latest = {f.subject: f for f in findings}
    for subject, state in states.items():
        if subject in breached or state.status not in ACTIVE:
            continue
        finding = latest.get(subject)
        if finding is not None:
            state.value, state.sample = finding.value, finding.sample
        state.updated_at = now
        if finding is not None and finding.holds:
            continue
        if state.status == "pending":
            state.status = "cleared"
            continue
        state.status, state.resolved_at = "resolved", now
        events.append(
            _event(state, rule, "resolved", now, is_silenced(silences, rule.name, subject))
        )
    session.add_all(events)
    _record_measurements(session, rule, findings, states, now)
    return events


def _record_measurements(
    session: Session,
    rule: Rule,
    findings: list[Finding],
    states: dict[str, AlertState],
    now: datetime,
) -> None:
    # Overall values always (they feed the chart); per-subject ones only while they matter,
    # so 31 provinces x every evaluation do not fill the table.
    for finding in findings:
        state = states.get(finding.subject)
        watched = state is not None and state.status in ACTIVE
        if finding.subject == "" or finding.breached or watched:
            session.add(
                AlertMeasurement(
                    at=now,
                    rule=rule.name,
                    subject=finding.subject,
                    value=finding.value,
                    baseline=finding.baseline,
                    threshold=finding.threshold,
                    sample=finding.sample,
                )
            )


def forget_measurements(session: Session, before: datetime) -> None:
    """Drop chart points older than `before` (the loop keeps a week)."""
    session.query(AlertMeasurement).filter(AlertMeasurement.at < before).delete()


def unsent_events(session: Session, max_attempts: int) -> list[AlertEvent]:
    """Events still to notify, oldest first; silenced ones are never sent."""
    return list(
        session.scalars(
            select(AlertEvent)
            .where(
                AlertEvent.notified_at.is_(None),
                or_(AlertEvent.silenced.is_(False), AlertEvent.silenced.is_(None)),
                AlertEvent.attempts < max_attempts,
            )
            .order_by(AlertEvent.id)
        )
    )
