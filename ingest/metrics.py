"""Prometheus metrics of one ingest service (its own registry: several apps may share a process)."""

from __future__ import annotations

from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from sqlalchemy import Engine, func, select

from ingest.models import PullRun
from ingest.store import utcnow


class IngestMetrics:
    def __init__(self, engine: Engine) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "voicewatch_http_requests", "HTTP requests answered", ["route", "status"], registry=r
        )
        self.reports_received = Counter(
            "voicewatch_reports_received", "Delivery reports received", ["channel"], registry=r
        )
        self.reports_stored = Counter(
            "voicewatch_reports_stored", "New delivery reports stored", ["channel"], registry=r
        )
        self.duplicates = Counter(
            "voicewatch_report_duplicates",
            "Reports already stored (same sid again)",
            ["channel"],
            registry=r,
        )
        self.rejects = Counter(
            "voicewatch_push_rejects", "Push bodies refused", ["reason"], registry=r
        )
        self.relay_sends = Counter(
            "voicewatch_relay_sends", "Sends relayed upstream", ["outcome"], registry=r
        )
        self.relay_latency = Histogram(
            "voicewatch_relay_upstream_seconds",
            "Upstream answer time of relayed calls",
            ["endpoint"],
            registry=r,
        )
        self.store_errors = Counter(
            "voicewatch_store_errors", "Database writes that failed", ["what"], registry=r
        )
        last_pull = Gauge(
            "voicewatch_last_pull_timestamp_seconds",
            "When the pull loop last succeeded (Unix time)",
            registry=r,
        )
        last_pull.set_function(lambda: _timestamp(_last_pull(engine)))
        lag = Gauge(
            "voicewatch_pull_lag_seconds", "Seconds since the pull loop last succeeded", registry=r
        )
        lag.set_function(lambda: _age(_last_pull(engine)))


def _last_pull(engine: Engine) -> datetime | None:
    try:
        with engine.connect() as connection:
            return connection.execute(
                select(func.max(PullRun.finished_at)).where(PullRun.error.is_(None))
            ).scalar()
    except Exception:  # a scrape must answer even while the database is unreachable
        return None


def _timestamp(moment: datetime | None) -> float:
    return moment.timestamp() if moment else float("nan")


def _age(moment: datetime | None) -> float:
    return (utcnow() - moment).total_seconds() if moment else float("nan")
