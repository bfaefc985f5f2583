"""The ingest service: Yunpian's push receiver, a wire-compatible relay, health and metrics."""

from __future__ import annotations

import ipaddress
import logging
from contextlib import asynccontextmanager
from functools import partial

import httpx
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import Engine, text
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from ingest import logs
from ingest.numbers import describe
from ingest.pull import replay_pending
from ingest.service.http_edge import (
    STORE_ATTEMPTS,
    BodyTooLarge,
    clip,
    read_body,
    retrying,
    token_ok,
)
from ingest.service.metrics import IngestMetrics
from ingest.service.relay import Relay
from ingest.settings import Settings
from ingest.store.group_commit import GroupCommitter
from ingest.store.inbox import MALFORMED, REJECTED, keep_raw
from ingest.store.upserts import store_pushes
from ingest.yunpian.reports import ReportFormatError, parse_push_form

log = logging.getLogger(__name__)

MAX_PUSH_REPORTS = 1000  # Yunpian sends at most 500 per push; twice that is not Yunpian
PUSH_ACK = "SUCCESS"  # what Yunpian expects from a receiver that took the push


def _is_loopback(request: Request) -> bool:
    host = request.client.host if request.client else ""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def create_app(
    settings: Settings, engine: Engine, *, upstream: httpx.AsyncBaseTransport | None = None
) -> Starlette:
    """The ingest service over `engine`, relaying to `settings.voice_url`."""
    metrics = IngestMetrics(engine)
    state: dict[str, httpx.AsyncClient] = {}
    pushes: dict[str, GroupCommitter] = {}

    @asynccontextmanager
    async def lifespan(_app: Starlette):
        await run_in_threadpool(replay_pending, engine)
        # Loaded now, not by the first push while it holds the database's write lock.
        await run_in_threadpool(describe, "15205201314")
        # Connect errors only are retried (the request never left); a send is never repeated.
        transport = upstream or httpx.AsyncHTTPTransport(retries=2)
        timeout = settings.upstream_timeout
        pushes["store"] = GroupCommitter(
            partial(store_pushes, engine), attempts=STORE_ATTEMPTS, name="push-writer"
        )
        try:
            async with httpx.AsyncClient(timeout=timeout, transport=transport) as client:
                state["http"] = client
                yield
        finally:
            await run_in_threadpool(pushes.pop("store").close)

    # ------------------------------------------------------------ push receiver

    async def push(request: Request) -> Response:
        channel = "push"
        content_type = clip(request.headers.get("content-type", ""), 128) or ""
        try:
            body = await read_body(request, settings.push_max_bytes)
        except BodyTooLarge as too_large:
            return await _refuse(
                413, "body too large", too_large.head, content_type, truncated=True
            )

        if settings.push_token:
            given = request.query_params.get("token")
            if given is None:
                return await _refuse(
                    401, "push token missing: add ?token=… to the callback URL", body, content_type
                )
            if not token_ok(settings.push_token.reveal(), given):
                return await _refuse(403, "push token wrong", body, content_type)
        elif not _is_loopback(request):
            return await _refuse(
                403,
                "no VOICEWATCH_PUSH_TOKEN configured: pushes accepted from loopback only",
                body,
                content_type,
            )
        if content_type.split(";")[0].strip().lower() != "application/x-www-form-urlencoded":
            return await _refuse(
                415,
                f"expected application/x-www-form-urlencoded, got {content_type or 'none'!r}",
                body,
                content_type,
            )

        # Parsed before anything is written: a valid push is kept and stored in one
        # transaction, and acknowledged only after it commits (Yunpian retries otherwise).
        try:
            reports = parse_push_form(body)
            if len(reports) > MAX_PUSH_REPORTS:
                raise ReportFormatError(
                    f"{len(reports)} reports in one push; at most {MAX_PUSH_REPORTS} accepted"
                )
        except ReportFormatError as error:
            return await _malformed(request, body, content_type, error)
        try:
            # Stored with the pushes that arrive meanwhile, and answered after that commit.
            result = await pushes["store"].submit((reports, body, content_type))
        except Exception as error:  # not acknowledged, so Yunpian delivers it again
            metrics.store_failed("push", error)
            logs.event(log, "push.store_failed", logging.ERROR, error=type(error).__name__)
            return _answer(request, 503, "storage unavailable, retry later")
        metrics.reports_received.labels(channel).inc(result.received)
        metrics.reports_stored.labels(channel).inc(result.new)
        metrics.duplicates.labels(channel).inc(result.duplicates)
        return _answer(request, 200, PUSH_ACK)

    async def _malformed(
        request: Request, body: bytes, content_type: str, error: ReportFormatError
    ) -> Response:
        try:
            await retrying(
                lambda: keep_raw(
                    engine,
                    "push",
                    body,
                    content_type=content_type,
                    status=MALFORMED,
                    error=str(error),
                )
            )
        except Exception as store_error:  # its body could not be kept: ask for it again
            metrics.store_failed("raw", store_error)
            return _answer(request, 503, "storage unavailable, retry later")
        metrics.rejects.labels("malformed").inc()
        logs.event(log, "push.malformed", logging.WARNING, reason=error)
        return _answer(request, 400, f"malformed push: {error}")

    async def _refuse(
        status: int, reason: str, body: bytes, content_type: str, *, truncated: bool = False
    ) -> Response:
        metrics.rejects.labels(reason.split(":")[0]).inc()
        logs.event(
            log, "push.refused", logging.WARNING, status=status, reason=reason, bytes=len(body)
        )
        try:
            await run_in_threadpool(
                keep_raw,
                engine,
                "push",
                body,
                content_type=content_type,
                status=REJECTED,
                error=reason,
                truncated=truncated,
            )
        except Exception as error:
            metrics.store_failed("raw", error)
        metrics.requests.labels("push", str(status)).inc()
        return PlainTextResponse(reason, status_code=status)

    def _answer(request: Request, status: int, message: str) -> Response:
        metrics.requests.labels("push", str(status)).inc()
        return PlainTextResponse(message, status_code=status)

    # ------------------------------------------------------------ health and metrics

    async def healthz(_request: Request) -> Response:
        def database_ok() -> bool:
            with engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            return True

        trouble = metrics.last_trouble
        report = {
            "upstream": settings.voice_url,
            "errors": metrics.error_counts(),
            "last_error": {
                "what": trouble.what,
                "error": trouble.error,
                "at": trouble.at.isoformat(),
            }
            if trouble
            else None,
        }
        try:
            await run_in_threadpool(database_ok)
        except Exception as error:
            return JSONResponse(
                {"status": "degraded", "database": type(error).__name__, **report},
                status_code=503,
            )
        return JSONResponse({"status": "ok", "database": "ok", **report})

    async def metrics_endpoint(_request: Request) -> Response:
        payload = await run_in_threadpool(generate_latest, metrics.registry)
        return Response(payload, media_type=CONTENT_TYPE_LATEST)

    relay = Relay(settings, engine, metrics, lambda: state["http"])
    relay_endpoints = "{endpoint:str}"
    routes = [
        Route("/push/voice", push, methods=["POST"], name="push"),
        Route(f"/v2/voice/{relay_endpoints}", relay.forward, methods=["POST"], name="relay"),
        Route(
            f"/relay/{{token}}/v2/voice/{relay_endpoints}",
            relay.forward,
            methods=["POST"],
            name="relay_token",
        ),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/metrics", metrics_endpoint, methods=["GET"]),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.metrics = metrics
    return app
