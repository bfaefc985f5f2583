"""`/healthz` and `/metrics`: whether ingest works right now, and its counters for Prometheus.

The verdict is `ingest.store.health.evaluate` (shared with the dashboard) over what the
database says plus this service's recent failed writes. Who may see what:

- `VOICEWATCH_METRICS_TOKEN` set: the token (`Authorization: Bearer …` or `?token=`) shows
  the full `/healthz` and `/metrics`; anyone else gets `/healthz`'s status and reasons only,
  and 401/403 from `/metrics`.
- unset: loopback callers see everything; others get `/healthz`'s status and reasons only,
  and 403 from `/metrics`.
"""

from __future__ import annotations

import asyncio

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from ingest.alerts.status import firing_ingest_alert_names
from ingest.i18n import N_
from ingest.service.http_edge import is_loopback, token_ok
from ingest.service.metrics import IngestMetrics
from ingest.settings import Settings
from ingest.store.health import STORE_FAILING, evaluate, problem, read_signals

HEALTH_WAIT = 5.0  # seconds /healthz waits for the database before saying it did not answer


class Health:
    """The health and metrics endpoints over one engine and one set of metrics."""

    def __init__(
        self, settings: Settings, engine: Engine, metrics: IngestMetrics, alert_rules: list
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.metrics = metrics
        self.alert_rules = alert_rules
        self._running: asyncio.Future | None = None

    async def healthz(self, request: Request) -> Response:
        """`ok` (200), or `degraded` (503) with machine-readable `reasons`."""
        problems, signals = await self._check()
        status = "degraded" if problems else "ok"
        verdict = {"status": status, "reasons": sorted({p.reason for p in problems})}
        code = 503 if problems else 200
        if self._access(request) != "full":
            return JSONResponse(verdict, status_code=code)
        trouble = self.metrics.last_trouble
        return JSONResponse(
            {
                **verdict,
                "problems": [{"reason": p.reason, "detail": p.detail} for p in problems],
                "database": (signals.database_error or "ok") if signals else "no answer",
                "checks": _checks(signals),
                "upstream": self.settings.voice_url,
                "errors": self.metrics.error_counts(),
                "last_error": {
                    "what": trouble.what,
                    "error": trouble.error,
                    "at": trouble.at.isoformat(),
                }
                if trouble
                else None,
            },
            status_code=code,
        )

    async def prometheus(self, request: Request) -> Response:
        """The metrics in Prometheus' text format."""
        access = self._access(request)
        if access != "full":
            return PlainTextResponse(access, status_code=401 if "missing" in access else 403)
        payload = await run_in_threadpool(generate_latest, self.metrics.registry)
        return Response(payload, media_type=CONTENT_TYPE_LATEST)

    def _access(self, request: Request) -> str:
        """ "full", or why the caller sees only the status."""
        expected = self.settings.metrics_token
        if not expected:
            if is_loopback(request):
                return "full"
            return "no VOICEWATCH_METRICS_TOKEN configured: loopback only"
        given = request.query_params.get("token")
        bearer = request.headers.get("authorization", "")
        if bearer.lower().startswith("bearer "):
            given = bearer[7:].strip()
        if given is None:
            return "metrics token missing: Authorization: Bearer … or ?token=…"
        return "full" if token_ok(expected.reveal(), given) else "metrics token wrong"

    async def _check(self):
        """(problems, signals). Callers that come while a check runs share its result, so a
        flood of /healthz costs one database check at a time."""
        if self._running is None or self._running.done():
            self._running = asyncio.ensure_future(self._fresh_check())
        return await asyncio.shield(self._running)

    async def _fresh_check(self):
        """(problems, signals); signals None when the database did not answer in time."""
        try:
            signals, alerts = await asyncio.wait_for(run_in_threadpool(self._read), HEALTH_WAIT)
        except TimeoutError:
            no_answer = N_("database gave no answer in {wait} s")
            return [problem(STORE_FAILING, no_answer, wait=HEALTH_WAIT)], None
        problems = evaluate(
            signals,
            pull_interval=self.settings.pull_interval,
            disk_min_free_bytes=int(self.settings.disk_min_free_mb * 2**20),
            recent_store_errors=self.metrics.recent_store_errors(signals.last_write),
            firing_alerts=alerts,
        )
        return problems, signals

    def _read(self):
        signals = read_signals(self.engine)
        if signals.database_error:
            return signals, []
        return signals, firing_ingest_alert_names(self.engine, self.alert_rules)


def _checks(signals) -> dict:
    if signals is None:
        return {}
    alive = signals.last_pull_alive
    free = signals.disk_free_bytes
    return {
        "last_pull": alive.isoformat() if alive else None,
        "failed_pulls_in_a_row": signals.failed_pulls_in_a_row,
        "unanswered_sends_in_a_row": signals.unanswered_sends_in_a_row,
        "write_locked": signals.write_locked,
        "disk_free_mb": round(free / 2**20, 1) if free is not None else None,
    }
