"""Rules measured on the ingest itself and the account: pull and push staleness, balance and
how long it lasts. Plain functions of (connection, rule, now), like measure_traffic."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, func, select

from ingest.alerts.findings import Finding
from ingest.alerts.rules import Rule
from ingest.store.alert_models import BalanceReading
from ingest.store.models import PullRun, Report, Send


def pull_stale(connection: Connection, rule: Rule, now: datetime) -> list[Finding]:
    """Seconds since the last successful pull, when any pull ran in the window (so an
    installation that only takes pushes is never told its pull is stale)."""
    start = now - timedelta(seconds=rule.window)
    runs = connection.execute(
        select(func.count(PullRun.id)).where(PullRun.started_at >= start)
    ).scalar_one()
    if not runs:
        return []
    last_ok = connection.execute(
        select(func.max(PullRun.finished_at)).where(PullRun.error.is_(None))
    ).scalar_one()
    last_ok = aware(last_ok)
    age = (now - last_ok).total_seconds() if last_ok else rule.window
    return [Finding(rule.name, "", age, rule.threshold, age > rule.threshold, runs)]


def push_stale(connection: Connection, rule: Rule, now: datetime) -> list[Finding]:
    """Seconds since a report last came by push, when pushes came in the last day and
    `min_sample` sends were accepted in the window (push expected, sends continuing)."""
    last_push = aware(
        connection.execute(select(func.max(Report.last_seen)).where(Report.via_push)).scalar_one()
    )
    if last_push is None or now - last_push > timedelta(days=1):
        return []
    sends = connection.execute(
        select(func.count(Send.id)).where(
            Send.sent_at >= now - timedelta(seconds=rule.window), Send.result_code == 0
        )
    ).scalar_one()
    age = (now - last_push).total_seconds()
    breached = sends >= rule.min_sample and age > rule.threshold
    return [Finding(rule.name, "", age, rule.threshold, breached, sends)]


def latest_balance(connection: Connection, now: datetime, within: float) -> float | None:
    """The newest balance reading no older than `within` seconds."""
    return connection.execute(
        select(BalanceReading.balance)
        .where(BalanceReading.at >= now - timedelta(seconds=within))
        .order_by(BalanceReading.at.desc(), BalanceReading.id.desc())
        .limit(1)
    ).scalar()


def balance_low(connection: Connection, rule: Rule, now: datetime) -> list[Finding]:
    """The balance Yunpian reported most recently in the window, against `threshold`."""
    balance = latest_balance(connection, now, rule.window)
    if balance is None:
        return []
    return [Finding(rule.name, "", balance, rule.threshold, balance < rule.threshold, 1)]


def balance_runway(connection: Connection, rule: Rule, now: datetime) -> list[Finding]:
    """Hours until the balance runs out at the spend of the window; fires below `threshold`
    once `min_sample` calls were charged in the window."""
    balance = latest_balance(connection, now, rule.window)
    charged, spent = connection.execute(
        select(func.count(Send.id), func.coalesce(func.sum(Send.fee), 0.0)).where(
            Send.sent_at >= now - timedelta(seconds=rule.window), Send.fee > 0
        )
    ).one()
    if balance is None or not spent:
        return []
    hours = balance / (spent / (rule.window / 3600))
    breached = charged >= rule.min_sample and hours < rule.threshold
    return [Finding(rule.name, "", hours, rule.threshold, breached, charged, balance)]


def aware(moment: datetime | None) -> datetime | None:
    # Aggregates bypass the column type: max() comes back naive UTC (or as text on SQLite).
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment.replace(tzinfo=UTC) if moment is not None else None
