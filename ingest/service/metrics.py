"""Prometheus metrics of one ingest service (its own registry: several apps may share a process).

No label value comes from a request: every labelled metric is bounded (`Bounded`), so that
callers cannot grow /metrics (and Prometheus' memory) by sending new values.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from sqlalchemy import Engine, func, select

from ingest.store.models import PullRun
from ingest.store.writes import utcnow

# Why a push was refused: the only values of voicewatch_push_rejects_total{reason}.
REJECT_REASONS = frozenset(
    {
        "token_missing",
        "token_wrong",
        "not_loopback",
        "content_type",
        "too_large",
        "malformed",
        "quarantined",
    }
)
OTHER = "other"  # a label value outside the allowed set, or past a label's limit
LABEL_LIMIT = 16  # distinct values a label without a fixed set may take
STORE_ERROR_WINDOW = timedelta(minutes=1)  # failed writes this recent make /healthz degraded


class Bounded:
    """A labelled metric whose label values are bounded: a value outside `allowed` (when
    given) or past the first `limit` distinct values of its label is recorded as "other"."""

    def __init__(
        self, metric, allowed: frozenset[str] | None = None, limit: int = LABEL_LIMIT
    ) -> None:
        self.metric = metric
        self._allowed = allowed
        self._limit = limit
        self._seen: dict[int, set[str]] = {}
        self._lock = threading.Lock()

    def labels(self, *values: str):
        """The child for `values`, each bounded."""
        with self._lock:
            return self.metric.labels(*(self._bound(i, str(v)) for i, v in enumerate(values)))

    def _bound(self, position: int, value: str) -> str:
        if self._allowed is not None:
            return value if value in self._allowed else OTHER
        seen = self._seen.setdefault(position, set())
        if value in seen:
            return value
        if len(seen) >= self._limit:
            return OTHER
        seen.add(value)
        return value


@dataclass(frozen=True, slots=True)
class Trouble:
    """The last thing that went wrong, for /healthz: where, when, and the error's type."""

    what: str  # e.g. "store.raw", "upstream.send.json"
    error: str  # the exception's type name or the upstream's status: never its text
    at: datetime


class IngestMetrics:
    def __init__(self, engine: Engine) -> None:
        self.last_trouble: Trouble | None = None
        self._store_failures: deque[datetime] = deque(maxlen=1000)
        self._lock = threading.Lock()
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = _counter(
            r, "voicewatch_http_requests", "HTTP requests answered", ["route", "status"]
        )
        self.reports_received = _counter(
            r, "voicewatch_reports_received", "Delivery reports received", ["channel"]
        )
        self.reports_stored = _counter(
            r, "voicewatch_reports_stored", "New delivery reports stored", ["channel"]
        )
        self.duplicates = _counter(
            r,
            "voicewatch_report_duplicates",
            "Reports already stored (same sid again)",
            ["channel"],
        )
        self.rejects = _counter(
            r, "voicewatch_push_rejects", "Push bodies refused", ["reason"], REJECT_REASONS
        )
        self.refusals_not_kept = Counter(
            "voicewatch_push_refusals_not_kept",
            "Refused pushes not kept in the raw inbox: past the per-minute budget",
            registry=r,
        )
        self.relay_sends = _counter(
            r, "voicewatch_relay_sends", "Sends relayed upstream", ["outcome"]
        )
        self.relay_latency = Bounded(
            Histogram(
                "voicewatch_relay_upstream_seconds",
                "Upstream answer time of relayed calls",
                ["endpoint"],
                registry=r,
            )
        )
        self.guard_decisions, self.guard_failures = _guard_counters(r)
        self.store_errors = _counter(
            r, "voicewatch_store_errors", "Database writes that failed", ["what"]
        )
        self.upstream_errors = _counter(
            r,
            "voicewatch_upstream_errors",
            "Relayed calls Yunpian did not answer properly (unreachable, timeout, 5xx)",
            ["endpoint", "kind"],
        )
        self.last_error = Gauge(
            "voicewatch_last_error_timestamp_seconds",
            "When a store or upstream error last happened (Unix time; 0: never)",
            registry=r,
        )
        _pull_gauges(r, engine)

    def store_failed(self, what: str, error: Exception) -> None:
        """Count a failed database write and remember it as the last trouble."""
        self.store_errors.labels(what).inc()
        self._remember(f"store.{what}", type(error).__name__)
        with self._lock:
            self._store_failures.append(utcnow())

    def recent_store_errors(
        self, after: datetime | None = None, window: timedelta = STORE_ERROR_WINDOW
    ) -> int:
        """Failed database writes within the last `window` and later than `after` (the last
        write that succeeded: the database is well again once one does)."""
        since = utcnow() - window
        if after is not None:
            since = max(since, after)
        with self._lock:
            return sum(1 for moment in self._store_failures if moment > since)

    def upstream_failed(self, endpoint: str, kind: str) -> None:
        """Count a relayed call that got no proper answer and remember it."""
        self.upstream_errors.labels(endpoint, kind).inc()
        self._remember(f"upstream.{endpoint}", kind)

    def _remember(self, what: str, error: str) -> None:
        with self._lock:
            self.last_trouble = Trouble(what, error, utcnow())
            self.last_error.set(self.last_trouble.at.timestamp())

    def error_counts(self) -> dict[str, int]:
        """Store and upstream errors since the service started."""
        return {
            "store": int(_total(self.store_errors.metric)),
            "upstream": int(_total(self.upstream_errors.metric)),
        }


def _guard_counters(registry: CollectorRegistry) -> tuple[Bounded, Bounded]:
    """The guard's decisions (rule, mode and outcome: fixed sets) and its fail-open count."""
    decisions = _counter(
        registry,
        "voicewatch_guard_decisions",
        "Relayed sends a guard rule fired on, by rule, mode and outcome",
        ["rule", "mode", "outcome"],
    )
    failures = _counter(
        registry, "voicewatch_guard_failures", "Guard decisions that failed open", ["kind"]
    )
    return decisions, failures


def _pull_gauges(registry: CollectorRegistry, engine: Engine) -> None:
    last_pull = Gauge(
        "voicewatch_last_pull_timestamp_seconds",
        "When the pull loop last succeeded (Unix time)",
        registry=registry,
    )
    last_pull.set_function(lambda: _timestamp(_last_pull(engine)))
    lag = Gauge(
        "voicewatch_pull_lag_seconds",
        "Seconds since the pull loop last succeeded",
        registry=registry,
    )
    lag.set_function(lambda: _age(_last_pull(engine)))


def _counter(
    registry: CollectorRegistry,
    name: str,
    documentation: str,
    labels: list[str],
    allowed: frozenset[str] | None = None,
) -> Bounded:
    return Bounded(Counter(name, documentation, labels, registry=registry), allowed)


def _total(counter: Counter) -> float:
    return sum(
        sample.value
        for metric in counter.collect()
        for sample in metric.samples
        if sample.name.endswith("_total")
    )


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
