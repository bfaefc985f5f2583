"""What the relay needs of the guard: the guard its settings configure, and a refused send's
record (its own outcome, no fee)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine

from ingest.guard.config import load_config
from ingest.guard.live import BLOCKED_CODE, BLOCKED_STATUS, Guard, Verdict, blocked_text
from ingest.guard.rules import Decision
from ingest.settings import Settings
from ingest.store.models import Send


def relay_guard(settings: Settings, engine: Engine, metrics: Any) -> Guard:
    """The relay's guard: rules from VOICEWATCH_GUARD over the defaults, counted in `metrics`
    (the service's IngestMetrics: guard_decisions and guard_failures)."""
    limits = {
        name: str(value)
        for name, value in (
            ("VOICEWATCH_LIMIT_PER_HOUR", settings.limit_per_hour),
            ("VOICEWATCH_LIMIT_PER_DAY", settings.limit_per_day),
        )
        if value is not None
    }

    def decided(decision: Decision) -> None:
        for rule, mode in decision.fired:
            outcome = "blocked" if decision.blocked else "recorded"
            metrics.guard_decisions.labels(rule, mode, outcome).inc()

    return Guard(
        engine,
        load_config(settings.guard_path or None, limits),
        budget=settings.guard_budget,
        on_failure=lambda kind: metrics.guard_failures.labels(kind).inc(),
        on_decision=decided,
    )


def mark_blocked(send: Send, verdict: Verdict) -> None:
    """`send` as the guard refused it: code BLOCKED_CODE, HTTP 400, nothing spent."""
    send.sent_at = verdict.at
    send.result_code = BLOCKED_CODE
    send.http_status = BLOCKED_STATUS
    send.result_msg = blocked_text(verdict.decision)
    send.result_detail = (
        f"voicewatch guard refused this send ({verdict.decision.rule}); it never reached "
        "Yunpian and cost nothing"
    )
    send.fee = 0
    send.count = 0
