"""The ingest service: Yunpian's push receiver, a wire-compatible relay, health and metrics."""

from __future__ import annotations

import ipaddress
import json
import logging
import secrets
import time
from contextlib import asynccontextmanager
from urllib.parse import parse_qs

import httpx
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import Engine, text
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from ingest import logs
from ingest.codes import lookup
from ingest.metrics import IngestMetrics
from ingest.models import Send
from ingest.pull import replay_pending
from ingest.settings import Settings
from ingest.store import (
    MALFORMED,
    REJECTED,
    code_digest,
    keep_raw,
    mark_raw,
    record_send,
    store_reports,
    utcnow,
)
from ingest.yunpian import (
    HEADERS,
    MalformedAnswer,
    ReportFormatError,
    YunpianError,
    interpret_pull_answer,
    interpret_send_answer,
    parse_push_form,
)

log = logging.getLogger(__name__)

MAX_PUSH_REPORTS = 1000  # Yunpian sends at most 500 per push; twice that is not Yunpian
MAX_RELAY_BODY = 64 * 1024
PUSH_ACK = "SUCCESS"
RELAYED = (
    "send.json",
    "tpl_notify.json",
    "pull_status.json",
)  # what Yunpian expects from a receiver that took the push


class BodyTooLarge(Exception):
    def __init__(self, head: bytes) -> None:
        self.head = head


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refusing (with the head kept) once it passes `limit` bytes."""
    declared = request.headers.get("content-length", "")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(b"".join(chunks)[:limit])
    if declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(b"".join(chunks)[:limit])
    return b"".join(chunks)


def _is_loopback(request: Request) -> bool:
    host = request.client.host if request.client else ""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _token_ok(expected: str, given: str | None) -> bool:
    return given is not None and secrets.compare_digest(expected.encode(), given.encode())


def create_app(
    settings: Settings, engine: Engine, *, upstream: httpx.AsyncBaseTransport | None = None
) -> Starlette:
    """The ingest service over `engine`, relaying to `settings.voice_url`."""
    metrics = IngestMetrics(engine)
    state: dict[str, httpx.AsyncClient] = {}

    @asynccontextmanager
    async def lifespan(_app: Starlette):
        await run_in_threadpool(replay_pending, engine)
        # Connect errors only are retried (the request never left); a send is never repeated.
        transport = upstream or httpx.AsyncHTTPTransport(retries=2)
        async with httpx.AsyncClient(timeout=15.0, transport=transport) as client:
            state["http"] = client
            yield

    # ------------------------------------------------------------ push receiver

    async def push(request: Request) -> Response:
        channel = "push"
        content_type = request.headers.get("content-type", "")
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
            if not _token_ok(settings.push_token.reveal(), given):
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

        try:
            raw_id = await run_in_threadpool(
                keep_raw, engine, channel, body, content_type=content_type
            )
        except Exception as error:  # not acknowledged, so Yunpian retries: nothing is lost
            metrics.store_errors.labels("raw").inc()
            logs.event(log, "push.store_failed", logging.ERROR, error=type(error).__name__)
            return _answer(request, 503, "storage unavailable, retry later")
        try:
            reports = parse_push_form(body)
            if len(reports) > MAX_PUSH_REPORTS:
                raise ReportFormatError(
                    f"{len(reports)} reports in one push; at most {MAX_PUSH_REPORTS} accepted"
                )
        except ReportFormatError as error:
            await run_in_threadpool(mark_raw, engine, raw_id, MALFORMED, str(error))
            metrics.rejects.labels("malformed").inc()
            logs.event(log, "push.malformed", logging.WARNING, raw_id=raw_id, reason=error)
            return _answer(request, 400, f"malformed push: {error}")
        try:
            result = await run_in_threadpool(store_reports, engine, reports, channel, raw_id=raw_id)
        except Exception as error:  # kept raw and pending: replayed at next start
            metrics.store_errors.labels("reports").inc()
            logs.event(
                log, "push.store_failed", logging.ERROR, raw_id=raw_id, error=type(error).__name__
            )
            return _answer(request, 503, "storage unavailable, retry later")
        metrics.reports_received.labels(channel).inc(result.received)
        metrics.reports_stored.labels(channel).inc(result.new)
        metrics.duplicates.labels(channel).inc(result.duplicates)
        return _answer(request, 200, PUSH_ACK)

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
        except Exception:
            metrics.store_errors.labels("raw").inc()
        metrics.requests.labels("push", str(status)).inc()
        return PlainTextResponse(reason, status_code=status)

    def _answer(request: Request, status: int, message: str) -> Response:
        metrics.requests.labels("push", str(status)).inc()
        return PlainTextResponse(message, status_code=status)

    # ------------------------------------------------------------ relay

    async def relay(request: Request) -> Response:
        endpoint = request.path_params["endpoint"]
        if endpoint not in RELAYED:
            return _yunpian_error(
                404, 2, f"voicewatch relays {', '.join(RELAYED)}, not {endpoint}", endpoint
            )
        if settings.relay_token:
            given = request.path_params.get("token") or request.headers.get("x-voicewatch-token")
            if not _token_ok(settings.relay_token.reveal(), given):
                return _yunpian_error(403, -3, "relay token missing or wrong", endpoint)
        try:
            body = await read_body(request, MAX_RELAY_BODY)
        except BodyTooLarge:
            return _yunpian_error(413, 2, f"request body over {MAX_RELAY_BODY} bytes", endpoint)
        url = f"{settings.voice_url}/v2/voice/{endpoint}"
        headers = {
            "content-type": request.headers.get("content-type", HEADERS["Content-Type"]),
            "accept": HEADERS["Accept"],
        }
        started = time.perf_counter()
        try:
            upstream_answer = await state["http"].post(url, content=body, headers=headers)
        except httpx.HTTPError as error:
            latency_ms = (time.perf_counter() - started) * 1000
            answer = _yunpian_error(
                502,
                -50,
                f"voicewatch relay: upstream unreachable ({type(error).__name__})",
                endpoint,
            )
            await _record_relayed(request, endpoint, body, None, answer.body, latency_ms)
            metrics.relay_sends.labels("unreachable").inc()
            return answer
        latency_ms = (time.perf_counter() - started) * 1000
        metrics.relay_latency.labels(endpoint).observe(latency_ms / 1000)
        await _record_relayed(
            request,
            endpoint,
            body,
            upstream_answer.status_code,
            upstream_answer.content,
            latency_ms,
        )
        metrics.requests.labels("relay", str(upstream_answer.status_code)).inc()
        passthrough = {
            k: v for k, v in upstream_answer.headers.items() if k.lower() == "content-type"
        }
        return Response(
            upstream_answer.content, status_code=upstream_answer.status_code, headers=passthrough
        )

    def _yunpian_error(status: int, code: int, detail: str, endpoint: str) -> Response:
        metrics.requests.labels("relay", str(status)).inc()
        answer = {
            "http_status_code": status,
            "code": code,
            "msg": lookup(code).msg,
            "detail": detail,
        }
        return JSONResponse(answer, status_code=status, media_type="application/json;charset=utf-8")

    async def _record_relayed(
        request: Request,
        endpoint: str,
        body: bytes,
        status: int | None,
        answer: bytes,
        latency_ms: float,
    ) -> None:
        try:
            if endpoint == "pull_status.json":
                await run_in_threadpool(_tee_pulled, status, answer)
            elif endpoint in ("send.json", "tpl_notify.json"):
                send = _send_from_relay(request, endpoint, body, status, answer, latency_ms)
                await run_in_threadpool(record_send, engine, send)
                metrics.relay_sends.labels(
                    "accepted" if send.result_code == 0 else "rejected"
                ).inc()
                logs.event(
                    log,
                    "relay.send",
                    mobile=send.mobile,
                    code=send.result_code,
                    sid=send.sid,
                    ms=round(latency_ms, 1),
                )
        except Exception as error:  # the caller still gets Yunpian's answer; we log what we missed
            metrics.store_errors.labels("relay").inc()
            logs.event(
                log,
                "relay.record_failed",
                logging.ERROR,
                endpoint=endpoint,
                error=type(error).__name__,
            )

    def _tee_pulled(status: int | None, answer: bytes) -> None:
        """A caller pulling through the relay takes reports voicewatch would not see again."""
        if status != 200 or answer.lstrip()[:1] != b"[":
            return
        raw_id = keep_raw(engine, "pull", answer, content_type="application/json")
        try:
            reports = interpret_pull_answer(status, answer)
        except MalformedAnswer as error:
            mark_raw(engine, raw_id, MALFORMED, error.msg)
            return
        store_reports(engine, reports, "pull", raw_id=raw_id)

    def _send_from_relay(
        request: Request,
        endpoint: str,
        body: bytes,
        status: int | None,
        answer: bytes,
        latency_ms: float,
    ) -> Send:
        form = {
            k: v[0]
            for k, v in parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True).items()
        }
        mobile = form.get("mobile", "")
        secret_part = form.get("code") or form.get("tpl_value", "")
        send = Send(
            sent_at=utcnow(),
            mobile=mobile[:32],
            code_digest=code_digest(settings.digest_key, mobile, secret_part),
            kind="notify" if endpoint == "tpl_notify.json" else "code",
            display_num=form.get("display_num") or None,
            callback_url=form.get("callback_url") or None,
            uid=form.get("uid") or None,
            http_status=status,
            latency_ms=latency_ms,
            source="relay",
            actor=request.headers.get("x-voicewatch-actor")
            or (request.client.host if request.client else None),
            carrier="",
            province="",
            fee=0,
            count=0,
        )
        try:
            if status is None:
                raise YunpianError(*_unpack_error(answer))
            result = interpret_send_answer(status, answer)
        except YunpianError as error:
            send.result_code = error.code if error.code is not None else -50
            send.result_msg, send.result_detail = error.msg, error.detail
        else:
            send.result_code, send.result_msg = 0, "OK"
            send.fee, send.count, send.sid = result.fee, result.count, result.sid
        return send

    # ------------------------------------------------------------ health and metrics

    async def healthz(_request: Request) -> Response:
        def database_ok() -> bool:
            with engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            return True

        try:
            await run_in_threadpool(database_ok)
        except Exception as error:
            return JSONResponse(
                {"status": "degraded", "database": type(error).__name__}, status_code=503
            )
        return JSONResponse({"status": "ok", "database": "ok", "upstream": settings.voice_url})

    async def metrics_endpoint(_request: Request) -> Response:
        payload = await run_in_threadpool(generate_latest, metrics.registry)
        return Response(payload, media_type=CONTENT_TYPE_LATEST)

    relay_endpoints = "{endpoint:str}"
    routes = [
        Route("/push/voice", push, methods=["POST"], name="push"),
        Route(f"/v2/voice/{relay_endpoints}", relay, methods=["POST"], name="relay"),
        Route(
            f"/relay/{{token}}/v2/voice/{relay_endpoints}",
            relay,
            methods=["POST"],
            name="relay_token",
        ),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/metrics", metrics_endpoint, methods=["GET"]),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.metrics = metrics
    return app


def _unpack_error(answer: bytes) -> tuple[int | None, str, str | None, int | None]:
    parsed = json.loads(answer)
    return parsed.get("code"), parsed.get("msg", ""), parsed.get("detail"), None
