"""The ingest service: Yunpian's push receiver, a wire-compatible relay, health and metrics."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import secrets
import time
from collections.abc import Callable
from contextlib import asynccontextmanager
from functools import partial
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
from ingest.group_commit import GroupCommitter
from ingest.metrics import IngestMetrics
from ingest.models import Send
from ingest.numbers import describe
from ingest.pull import replay_pending
from ingest.reports import ReportFormatError, parse_push_form
from ingest.sending import record_outcome
from ingest.settings import Settings, redact
from ingest.store import (
    MALFORMED,
    REJECTED,
    code_digest,
    keep_raw,
    mark_raw,
    record_send,
    store_pushes,
    store_reports,
    utcnow,
)
from ingest.yunpian import (
    HEADERS,
    MalformedAnswer,
    SendResult,
    YunpianError,
    interpret_pull_answer,
    interpret_send_answer,
    scrub_request,
)

log = logging.getLogger(__name__)

MAX_PUSH_REPORTS = 1000  # Yunpian sends at most 500 per push; twice that is not Yunpian
MAX_RELAY_BODY = 64 * 1024
STORE_ATTEMPTS = 3  # idempotent writes are retried this often before a 503 / a logged loss
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


def _clip(value: str | None, length: int) -> str | None:
    """`value` fit for a column of `length` characters (PostgreSQL refuses longer, and NUL)."""
    return value.replace("\x00", "")[:length] if value is not None else None


async def _retrying(write: Callable[[], object], attempts: int = STORE_ATTEMPTS) -> object:
    """Run an idempotent database write, retrying briefly (a PostgreSQL restart, a lock)."""
    for attempt in range(1, attempts + 1):
        try:
            return await run_in_threadpool(write)
        except Exception as error:
            if attempt == attempts:
                raise
            delay = 0.2 * 2 ** (attempt - 1)
            logs.event(
                log,
                "store.retry",
                logging.WARNING,
                attempt=attempt,
                error=type(error).__name__,
                retry_in_s=delay,
            )
            await asyncio.sleep(delay)
    raise AssertionError("unreachable")


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
        content_type = _clip(request.headers.get("content-type", ""), 128) or ""
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
            await _retrying(
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
        content_type = request.headers.get("content-type", "")
        headers = {
            # Passed on only when it can go on the wire again (printable ASCII).
            "content-type": content_type
            if content_type.isascii() and content_type.isprintable() and content_type.strip()
            else HEADERS["Content-Type"],
            "accept": HEADERS["Accept"],
        }
        started = time.perf_counter()
        try:
            # Sent once: a send that timed out or lost its answer may still ring the phone,
            # so it is never repeated here (the client decides, knowing the ground truth).
            upstream_answer = await state["http"].post(url, content=body, headers=headers)
        except httpx.HTTPError as error:
            latency_ms = (time.perf_counter() - started) * 1000
            kind = _failure_kind(error)
            metrics.upstream_failed(endpoint, kind)
            logs.event(log, "relay.upstream_failed", logging.WARNING, endpoint=endpoint, kind=kind)
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
        if upstream_answer.status_code >= 500:
            metrics.upstream_failed(endpoint, "5xx")
            logs.event(
                log,
                "relay.upstream_failed",
                logging.WARNING,
                endpoint=endpoint,
                kind="5xx",
                status=upstream_answer.status_code,
            )
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
        caller_apikey = _form(body).get("apikey")
        # What the upstream echoes of the caller's key is passed back to the caller, not kept.
        if caller_apikey:
            answer = answer.replace(caller_apikey.encode(), b"***")
        try:
            if endpoint == "pull_status.json":
                await _retrying(lambda: _tee_pulled(status, answer))
            elif endpoint in ("send.json", "tpl_notify.json"):
                send = _send_from_relay(request, endpoint, body, status, answer, latency_ms)
                await _retrying(lambda: record_send(engine, send))
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
            metrics.store_failed("relay", error)
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
        form = _form(body)
        mobile = form.get("mobile", "")
        secret_part = form.get("code") or form.get("tpl_value", "")
        actor = request.headers.get("x-voicewatch-actor") or (
            request.client.host if request.client else None
        )
        send = Send(
            sent_at=utcnow(),
            mobile=_clip(mobile, 32),
            code_digest=code_digest(settings.digest_key, mobile, secret_part),
            kind="notify" if endpoint == "tpl_notify.json" else "code",
            display_num=_clip(form.get("display_num"), 32) or None,
            # The push URL carries the push token: kept as `?token=***`.
            callback_url=_clip(redact(form.get("callback_url", ""), settings.push_token), 2048)
            or None,
            uid=_clip(form.get("uid"), 64) or None,
            http_status=status,
            latency_ms=latency_ms,
            source="relay",
            actor=_clip(actor, 128),
            carrier="",
            province="",
            fee=0,
            count=0,
        )
        try:
            if status is None:
                raise YunpianError(*_unpack_error(answer))
            try:
                outcome: SendResult | YunpianError = interpret_send_answer(status, answer)
            except YunpianError as error:
                raise scrub_request(error, mobile, secret_part) from None
        except YunpianError as error:
            if isinstance(error, MalformedAnswer):
                metrics.upstream_failed(endpoint, "malformed")
            outcome = error
        record_outcome(send, outcome)
        send.http_status = status
        send.result_msg, send.result_detail = (
            _clip(send.result_msg, 4096),
            _clip(send.result_detail, 4096),
        )
        send.sid = _clip(send.sid, 64)
        return send

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


def _form(body: bytes) -> dict[str, str]:
    """A relayed form body as a dict (first value of each field)."""
    fields = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    return {name: values[0] for name, values in fields.items()}


def _failure_kind(error: httpx.HTTPError) -> str:
    """How a relayed call failed, for metrics: unreachable, timeout or closed (mid-answer)."""
    if isinstance(error, httpx.ConnectError | httpx.ConnectTimeout):
        return "unreachable"
    if isinstance(error, httpx.TimeoutException):
        return "timeout"
    return "closed"


def _unpack_error(answer: bytes) -> tuple[int | None, str, str | None, int | None]:
    parsed = json.loads(answer)
    return parsed.get("code"), parsed.get("msg", ""), parsed.get("detail"), None
