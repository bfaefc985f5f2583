"""`/healthz` and `/metrics`: whether ingest works right now, and its counters for Prometheus."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import Engine, text
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ingest.service.metrics import IngestMetrics
from ingest.settings import Settings


class Health:
    """The health and metrics endpoints over one engine and one set of metrics."""

    def __init__(self, settings: Settings, engine: Engine, metrics: IngestMetrics) -> None:
        self.settings = settings
        self.engine = engine
        self.metrics = metrics

    async def healthz(self, _request: Request) -> Response:
        """`ok` (200) when the database answers, `degraded` (503) with the reason otherwise."""
        trouble = self.metrics.last_trouble
        report = {
            "upstream": self.settings.voice_url,
            "errors": self.metrics.error_counts(),
            "last_error": {
                "what": trouble.what,
                "error": trouble.error,
                "at": trouble.at.isoformat(),
            }
            if trouble
            else None,
        }
        try:
            await run_in_threadpool(self._database_ok)
        except Exception as error:
            return JSONResponse(
                {"status": "degraded", "database": type(error).__name__, **report},
                status_code=503,
            )
        return JSONResponse({"status": "ok", "database": "ok", **report})

    async def prometheus(self, _request: Request) -> Response:
        """The metrics in Prometheus' text format."""
        payload = await run_in_threadpool(generate_latest, self.metrics.registry)
        return Response(payload, media_type=CONTENT_TYPE_LATEST)

    def _database_ok(self) -> bool:
        with self.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        return True
