"""The figures the alert rules use, for Prometheus: a collector that measures them from the
database on each scrape. Register it on the service's registry:
`registry.register(AlertMetrics(engine))`.

Labels stay bounded: carriers (a handful), Yunpian return codes (the known list, the rest as
"other"), rule names (from alerts.toml). Provinces are left to the dashboard."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import datetime, timedelta

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import SQLAlchemyError

from ingest import logs
from ingest.alerts import measure_account, measure_traffic
from ingest.alerts.loop import utc_now
from ingest.alerts.rules import Rule
from ingest.store.alert_models import AlertState
from ingest.store.models import PullRun, Send
from ingest.yunpian.codes import CODES

log = logging.getLogger(__name__)

WINDOW = 600.0  # seconds of data behind the rate gauges


def _rule(kind: str, scope: str = "overall", **params: object) -> Rule:
    return Rule(kind, kind, 0.0, WINDOW, 0, "info", 0.0, scope=scope, params=params)


class AlertMetrics(Collector):
    """voicewatch_* gauges over the last 10 minutes, read from the database per scrape."""

    def __init__(self, engine: Engine, clock: Callable[[], datetime] = utc_now) -> None:
        self.engine = engine
        self.clock = clock

    def describe(self) -> list[GaugeMetricFamily]:
        # Nothing to read at registration: the service starts even with the database down.
        return []

    def collect(self) -> Iterator[GaugeMetricFamily]:
        """The figures; none while the database does not answer, so /metrics (and the
        store's own error counters on it) still answers then."""
        try:
            families = list(self._measure())
        except SQLAlchemyError as error:
            logs.event(
                log, "alert_metrics.unavailable", logging.WARNING, error=type(error).__name__
            )
            return
        yield from families

    def _measure(self) -> Iterator[GaugeMetricFamily]:
        now = self.clock()
        with self.engine.connect() as connection:
            rate = GaugeMetricFamily(
                "voicewatch_answer_rate",
                "Answered share of reported calls sent in the last 10 minutes",
                labels=["carrier"],
            )
            for finding in measure_traffic.answer_rate(
                connection, _rule("answer_rate", "carrier"), now
            ):
                if finding.value is not None:
                    rate.add_metric([finding.subject_label], finding.value)
            yield rate
            missing = measure_traffic.reports_missing(
                connection, replace(_rule("reports_missing"), params={"after": 300}), now
            )
            yield _single(
                "voicewatch_reports_missing_ratio",
                "Accepted sends 5-10 min old without a report",
                missing,
            )
            yield _pull_lag(connection, now)
            balance = measure_account.latest_balance(connection, now, 3600)
            gauge = GaugeMetricFamily(
                "voicewatch_balance", "Yunpian account balance (user/get.json)"
            )
            if balance is not None:
                gauge.add_metric([], balance)
            yield gauge
            yield _sends_by_code(connection, now)
            yield _firing(connection)


def _single(name: str, text: str, findings: list) -> GaugeMetricFamily:
    gauge = GaugeMetricFamily(name, text)
    if findings and findings[0].value is not None:
        gauge.add_metric([], findings[0].value)
    return gauge


def _pull_lag(connection, now: datetime) -> GaugeMetricFamily:
    gauge = GaugeMetricFamily(
        "voicewatch_good_pull_age_seconds", "Seconds since the last successful pull"
    )
    last = measure_account.aware(
        connection.execute(
            select(func.max(PullRun.finished_at)).where(PullRun.error.is_(None))
        ).scalar()
    )
    if last is not None:
        gauge.add_metric([], (now - last).total_seconds())
    return gauge


def _sends_by_code(connection, now: datetime) -> GaugeMetricFamily:
    gauge = GaugeMetricFamily(
        "voicewatch_sends_10m",
        "Sends in the last 10 minutes by Yunpian return code",
        labels=["code"],
    )
    rows = connection.execute(
        select(Send.result_code, func.count(Send.id))
        .where(Send.sent_at >= now - timedelta(seconds=WINDOW))
        .group_by(Send.result_code)
    )
    counts: dict[str, int] = {}
    for code, count in rows:
        label = str(code) if code in CODES else "other"
        counts[label] = counts.get(label, 0) + count
    for label, count in sorted(counts.items()):
        gauge.add_metric([label], count)
    return gauge


def _firing(connection) -> GaugeMetricFamily:
    gauge = GaugeMetricFamily(
        "voicewatch_alerts_firing", "Subjects firing per alert rule", labels=["rule"]
    )
    rows = connection.execute(
        select(AlertState.rule, func.count(AlertState.id))
        .where(AlertState.status == "firing")
        .group_by(AlertState.rule)
    )
    for rule, count in rows:
        gauge.add_metric([rule], count)
    return gauge
