"""The wire-compatible relay to Yunpian: callers post to voicewatch as they would to Yunpian,
get Yunpian's answer back unchanged, and each send (or pulled page) is recorded on the way."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from urllib.parse import parse_qs

import httpx
from sqlalchemy import Engine
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ingest import logs
from ingest.sending import record_outcome
from ingest.service.http_edge import BodyTooLarge, clip, read_body, retrying, token_ok
from ingest.service.metrics import IngestMetrics
from ingest.settings import Settings, redact
from ingest.store.inbox import JSON, MALFORMED, keep_raw, mark_raw
from ingest.store.models import Send
from ingest.store.upserts import store_reports
from ingest.store.writes import code_digest, record_send, utcnow
from ingest.yunpian.client import (
    HEADERS,
    MalformedAnswer,
    SendResult,
    YunpianError,
    interpret_pull_answer,
    interpret_send_answer,
    scrub_request,
)
from ingest.yunpian.codes import lookup

log = logging.getLogger(__name__)

MAX_RELAY_BODY = 64 * 1024
RELAYED = ("send.json", "tpl_notify.json", "pull_status.json")  # Yunpian's endpoints relayed


class Relay:
    """Relays `POST /v2/voice/{endpoint}` to `settings.voice_url` through the service's client."""

    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        metrics: IngestMetrics,
        http: Callable[[], httpx.AsyncClient],
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.metrics = metrics
        # A getter: the client exists only while the app's lifespan runs.
        self.http = http

    async def forward(self, request: Request) -> Response:
        """The Starlette endpoint: Yunpian's answer to the relayed request, or one in its form."""
        endpoint = request.path_params["endpoint"]
        refusal = self._caller_refusal(request, endpoint)
        if refusal is not None:
            return refusal
        try:
            body = await read_body(request, MAX_RELAY_BODY)
        except BodyTooLarge:
            return self._yunpian_error(
                413, 2, f"request body over {MAX_RELAY_BODY} bytes", endpoint
            )
        url = f"{self.settings.voice_url}/v2/voice/{endpoint}"
        started = time.perf_counter()
        try:
            # Sent once: a send that timed out or lost its answer may still ring the phone,
            # so it is never repeated here (the client decides, knowing the ground truth).
            upstream_answer = await self.http().post(
                url, content=body, headers=_upstream_headers(request)
            )
        except httpx.HTTPError as error:
            latency_ms = (time.perf_counter() - started) * 1000
            return await self._unreachable(request, endpoint, body, error, latency_ms)
        latency_ms = (time.perf_counter() - started) * 1000
        self.metrics.relay_latency.labels(endpoint).observe(latency_ms / 1000)
        if upstream_answer.status_code >= 500:
            self.metrics.upstream_failed(endpoint, "5xx")
            logs.event(
                log,
                "relay.upstream_failed",
                logging.WARNING,
                endpoint=endpoint,
                kind="5xx",
                status=upstream_answer.status_code,
            )
        await self._record_relayed(
            request,
            endpoint,
            body,
            upstream_answer.status_code,
            upstream_answer.content,
            latency_ms,
        )
        self.metrics.requests.labels("relay", str(upstream_answer.status_code)).inc()
        passthrough = {
            k: v for k, v in upstream_answer.headers.items() if k.lower() == "content-type"
        }
        return Response(
            upstream_answer.content, status_code=upstream_answer.status_code, headers=passthrough
        )

    def _caller_refusal(self, request: Request, endpoint: str) -> Response | None:
        """Yunpian's form of an answer when the endpoint is not relayed or the token is wrong."""
        if endpoint not in RELAYED:
            return self._yunpian_error(
                404, 2, f"voicewatch relays {', '.join(RELAYED)}, not {endpoint}", endpoint
            )
        if self.settings.relay_token:
            given = request.path_params.get("token") or request.headers.get("x-voicewatch-token")
            if not token_ok(self.settings.relay_token.reveal(), given):
                return self._yunpian_error(403, -3, "relay token missing or wrong", endpoint)
        return None

    async def _unreachable(
        self,
        request: Request,
        endpoint: str,
        body: bytes,
        error: httpx.HTTPError,
        latency_ms: float,
    ) -> Response:
        kind = _failure_kind(error)
        self.metrics.upstream_failed(endpoint, kind)
        logs.event(log, "relay.upstream_failed", logging.WARNING, endpoint=endpoint, kind=kind)
        answer = self._yunpian_error(
            502,
            -50,
            f"voicewatch relay: upstream unreachable ({type(error).__name__})",
            endpoint,
        )
        await self._record_relayed(request, endpoint, body, None, answer.body, latency_ms)
        self.metrics.relay_sends.labels("unreachable").inc()
        return answer

    def _yunpian_error(self, status: int, code: int, detail: str, endpoint: str) -> Response:
        self.metrics.requests.labels("relay", str(status)).inc()
        answer = {
            "http_status_code": status,
            "code": code,
            "msg": lookup(code).msg,
            "detail": detail,
        }
        return JSONResponse(answer, status_code=status, media_type="application/json;charset=utf-8")

    async def _record_relayed(
        self,
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
                await retrying(lambda: self._tee_pulled(status, answer))
            elif endpoint in ("send.json", "tpl_notify.json"):
                send = self._send_from_relay(request, endpoint, body, status, answer, latency_ms)
                await retrying(lambda: record_send(self.engine, send))
                self.metrics.relay_sends.labels(
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
            self.metrics.store_failed("relay", error)
            logs.event(
                log,
                "relay.record_failed",
                logging.ERROR,
                endpoint=endpoint,
                error=type(error).__name__,
            )

    def _tee_pulled(self, status: int | None, answer: bytes) -> None:
        """A caller pulling through the relay takes reports voicewatch would not see again."""
        if status != 200 or answer.lstrip()[:1] != b"[":
            return
        raw_id = keep_raw(self.engine, "pull", answer, content_type=JSON)
        try:
            reports = interpret_pull_answer(status, answer)
        except MalformedAnswer as error:
            mark_raw(self.engine, raw_id, MALFORMED, error.msg)
            return
        store_reports(self.engine, reports, "pull", raw_id=raw_id)

    def _send_from_relay(
        self,
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
            mobile=clip(mobile, 32),
            code_digest=code_digest(self.settings.digest_key, mobile, secret_part),
            kind="notify" if endpoint == "tpl_notify.json" else "code",
            display_num=clip(form.get("display_num"), 32) or None,
            # The push URL carries the push token: kept as `?token=***`.
            callback_url=clip(redact(form.get("callback_url", ""), self.settings.push_token), 2048)
            or None,
            uid=clip(form.get("uid"), 64) or None,
            http_status=status,
            latency_ms=latency_ms,
            source="relay",
            actor=clip(actor, 128),
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
                self.metrics.upstream_failed(endpoint, "malformed")
            outcome = error
        record_outcome(send, outcome)
        send.http_status = status
        send.result_msg, send.result_detail = (
            clip(send.result_msg, 4096),
            clip(send.result_detail, 4096),
        )
        send.sid = clip(send.sid, 64)
        return send


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


def _upstream_headers(request: Request) -> dict[str, str]:
    content_type = request.headers.get("content-type", "")
    return {
        # Passed on only when it can go on the wire again (printable ASCII).
        "content-type": content_type
        if content_type.isascii() and content_type.isprintable() and content_type.strip()
        else HEADERS["Content-Type"],
        "accept": HEADERS["Accept"],
    }
