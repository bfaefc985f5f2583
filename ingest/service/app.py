"""The ingest service: Yunpian's push receiver, a wire-compatible relay, health and metrics.

`create_app` only wires the parts together; each endpoint lives in its own module.
"""

from __future__ import annotations

from contextlib import asynccontextmanager

import httpx
from sqlalchemy import Engine
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.routing import Route

from ingest.alerts.metrics import AlertMetrics
from ingest.alerts.rules import Rule, load_rules
from ingest.numbers import describe
from ingest.pull import replay_pending
from ingest.service.health import Health
from ingest.service.metrics import IngestMetrics
from ingest.service.push import PushReceiver
from ingest.service.relay import Relay
from ingest.settings import Settings


def create_app(
    settings: Settings,
    engine: Engine,
    *,
    upstream: httpx.AsyncBaseTransport | None = None,
    alert_rules: list[Rule] | None = None,
) -> Starlette:
    """The ingest service over `engine`, relaying to `settings.voice_url`; `alert_rules`
    (default: the package's) say which firing alerts make /healthz degraded."""
    metrics = IngestMetrics(engine)
    # The alerts' domain figures (answer rate, balance, …) on the same /metrics.
    metrics.registry.register(AlertMetrics(engine))
    pushes = PushReceiver(settings, engine, metrics)
    health = Health(settings, engine, metrics, alert_rules or load_rules())
    clients: dict[str, httpx.AsyncClient] = {}
    relay = Relay(settings, engine, metrics, lambda: clients["upstream"])

    @asynccontextmanager
    async def lifespan(_app: Starlette):
        await run_in_threadpool(replay_pending, engine)
        # Loaded now, not by the first push while it holds the database's write lock.
        await run_in_threadpool(describe, "15205201314")
        # Connect errors only are retried (the request never left); a send is never repeated.
        transport = upstream or httpx.AsyncHTTPTransport(retries=2)
        pushes.open()
        # Sends a previous run answered and did not store are stored now.
        await run_in_threadpool(relay.recorder.open)
        try:
            async with httpx.AsyncClient(
                timeout=settings.upstream_timeout, transport=transport
            ) as client:
                clients["upstream"] = client
                yield
        finally:
            await run_in_threadpool(relay.recorder.close)
            await run_in_threadpool(relay.guard.close)
            await run_in_threadpool(pushes.close)

    relayed = "/v2/voice/{endpoint:str}"
    routes = [
        Route("/push/voice", pushes.receive, methods=["POST"], name="push"),
        # Answered as it is: Starlette would redirect it to a URL built from the Host header.
        Route("/push/voice/", pushes.receive, methods=["POST"], name="push_slash"),
        Route(relayed, relay.forward, methods=["POST"], name="relay"),
        Route(f"/relay/{{token}}{relayed}", relay.forward, methods=["POST"], name="relay_token"),
        Route("/healthz", health.healthz, methods=["GET"]),
        Route("/metrics", health.prometheus, methods=["GET"]),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    # No redirect is ever built from the request (Host header): other paths are 404.
    app.router.redirect_slashes = False
    app.state.metrics = metrics
    return app
