"""The wire-compatible relay to Yunpian: callers post to voicewatch as they would to Yunpian,
get Yunpian's answer back unchanged, and each send (or pulled page) is recorded after.

A send has one of four outcomes, told apart in what the caller gets and in what is stored:
- Yunpian answered: its answer, unchanged (accepted with a sid, or refused with a code).
- The request provably never left (connection refused, connect timeout): HTTP 502 with
  Yunpian's code -50, as before; nothing was placed and a retry is safe.
- The request may have reached Yunpian and no answer could be read (read timeout, connection
  closed mid-answer, an answer that is not Yunpian's JSON): the outcome is unknown, the call
  may well ring. Yunpian's official SDK ignores the HTTP status and decides on `code`, and
  turns an unreadable answer into -50 itself; callers commonly retry -5, -50, -51 and -53
  (../shared/yunpian-voice-api.md, "Return codes"). So the relay answers HTTP 202 (not a
  status HTTP retry layers repeat, unlike 502/503/504) with code UNKNOWN_OUTCOME_CODE, a code
  outside Yunpian's table that no caller retries by habit, and stores the send as unknown.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from urllib.parse import parse_qs

import httpx
from sqlalchemy import Engine
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ingest import logs
from ingest.guard.live import BLOCKED_CODE, BLOCKED_MSG, BLOCKED_STATUS, Verdict
from ingest.guard.relay_hook import mark_blocked, relay_guard
from ingest.sending import record_outcome
from ingest.service.http_edge import BodyTooLarge, clip, read_body, token_ok
from ingest.service.metrics import IngestMetrics
from ingest.service.relay_recorder import RelayRecorder
from ingest.settings import Settings, redact
from ingest.store.models import ACCEPTED, JOINED, NOT_SENT, NOT_SENT_CODE, REJECTED, UNKNOWN, Send
from ingest.store.writes import code_digest, utcnow
from ingest.yunpian.client import (
    HEADERS,
    MalformedAnswer,
    SendResult,
    Unreachable,
    YunpianError,
    interpret_send_answer,
    never_left,
    scrub_request,
)
from ingest.yunpian.codes import lookup

log = logging.getLogger(__name__)

MAX_RELAY_BODY = 64 * 1024
RELAYED = ("send.json", "tpl_notify.json", "pull_status.json")  # Yunpian's endpoints relayed

# The relay's answer to a send of unknown outcome (see the module docstring and the README).
UNKNOWN_OUTCOME_STATUS = 202
UNKNOWN_OUTCOME_CODE = -900
UNKNOWN_OUTCOME_MSG = (
    "结果未知，呼叫可能已发出，请勿重发 (outcome unknown: the call may have been placed)"
)

# voicewatch_relay_sends{outcome}: each send counted once, by its state.
METRIC_OUTCOMES = {
    ACCEPTED: "accepted",
    JOINED: "accepted",
    REJECTED: "rejected",
    NOT_SENT: "unreachable",
    UNKNOWN: "unknown",
}


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
        # Opened and closed by the app's lifespan.
        self.recorder = RelayRecorder(engine, metrics)
        self.guard = relay_guard(settings, engine, metrics)

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
        if endpoint != "pull_status.json":
            verdict = await self.guard.check(_form(body).get("mobile", ""), _app(request))
            request.state.guard_at = verdict.at  # the send's time, as the guard counted it
            if verdict.blocked:
                return await self._blocked(request, endpoint, body, verdict)
        url = f"{self.settings.voice_url}/v2/voice/{endpoint}"
        started = time.perf_counter()
        try:
            # Sent once: a send that timed out or lost its answer may still ring the phone,
            # so it is never repeated here (only the transport retries a connect that failed).
            upstream_answer = await self.http().post(
                url, content=body, headers=_upstream_headers(request)
            )
        except httpx.HTTPError as error:
            latency_ms = (time.perf_counter() - started) * 1000
            return await self._no_answer(request, endpoint, body, error, latency_ms)
        latency_ms = (time.perf_counter() - started) * 1000
        self.metrics.relay_latency.labels(endpoint).observe(latency_ms / 1000)
        status, content = upstream_answer.status_code, upstream_answer.content
        if status >= 500:
            self.metrics.upstream_failed(endpoint, "5xx")
            logs.event(
                log,
                "relay.upstream_failed",
                logging.WARNING,
                endpoint=endpoint,
                kind="5xx",
                status=status,
            )
        passthrough = {
            k: v for k, v in upstream_answer.headers.items() if k.lower() == "content-type"
        }
        answer = yunpians = Response(content, status_code=status, headers=passthrough)
        content = self._without_apikey(body, content)
        if endpoint == "pull_status.json":
            if status == 200 and content.lstrip()[:1] == b"[":
                await self.recorder.record_pull(status, content)
        else:
            send = self._send_from_relay(request, endpoint, body, latency_ms)
            self._read_answer(send, endpoint, status, content, _secret_part(_form(body)))
            if send.result_code is None:  # an answer that is not Yunpian's: the call may ring
                answer = self._unknown_outcome(endpoint, send.result_msg or "unreadable answer")
            await self._record_send(send)
        if answer is yunpians:  # the relay's own answers are counted where they are made
            self.metrics.requests.labels("relay", str(status)).inc()
        return answer

    async def _no_answer(
        self,
        request: Request,
        endpoint: str,
        body: bytes,
        error: httpx.HTTPError,
        latency_ms: float,
    ) -> Response:
        """No answer from upstream: "not sent" if the request never left, else unknown."""
        kind = _failure_kind(error)
        self.metrics.upstream_failed(endpoint, kind)
        logs.event(log, "relay.upstream_failed", logging.WARNING, endpoint=endpoint, kind=kind)
        if endpoint == "pull_status.json" or never_left(error):
            answer = self._yunpian_error(
                502,
                NOT_SENT_CODE,
                f"voicewatch relay: upstream unreachable ({type(error).__name__}); not sent",
                endpoint,
            )
        else:
            answer = self._unknown_outcome(endpoint, f"no answer ({type(error).__name__})")
        if endpoint != "pull_status.json":
            send = self._send_from_relay(request, endpoint, body, latency_ms)
            url = f"{self.settings.voice_url}/v2/voice/{endpoint}"
            record_outcome(send, Unreachable(url, error, may_have_left=not never_left(error)))
            if send.result_code is None:
                send.result_msg = f"outcome unknown: no answer ({type(error).__name__})"
            await self._record_send(send)
        return answer

    async def _blocked(
        self, request: Request, endpoint: str, body: bytes, verdict: Verdict
    ) -> Response:
        """The guard refused the send: Yunpian's form of a refusal, recorded at no fee."""
        send = self._send_from_relay(request, endpoint, body, 0.0)
        mark_blocked(send, verdict)
        await self._record_send(send)
        return self._yunpian_error(
            BLOCKED_STATUS, BLOCKED_CODE, send.result_detail or "", endpoint, msg=BLOCKED_MSG
        )

    def _unknown_outcome(self, endpoint: str, why: str) -> Response:
        """The answer to a send that may have been placed: see UNKNOWN_OUTCOME_CODE."""
        return self._yunpian_error(
            UNKNOWN_OUTCOME_STATUS,
            UNKNOWN_OUTCOME_CODE,
            f"voicewatch relay: {why}; the call may have been placed, do not resend it: "
            "its report (or voicewatch lookup) tells",
            endpoint,
            msg=UNKNOWN_OUTCOME_MSG,
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

    def _yunpian_error(
        self, status: int, code: int, detail: str, endpoint: str, msg: str | None = None
    ) -> Response:
        self.metrics.requests.labels("relay", str(status)).inc()
        answer = {
            "http_status_code": status,
            "code": code,
            "msg": msg or lookup(code).msg,
            "detail": detail,
        }
        return JSONResponse(answer, status_code=status, media_type="application/json;charset=utf-8")

    def _without_apikey(self, body: bytes, answer: bytes) -> bytes:
        """What the upstream echoes of the caller's key is passed back to the caller, not kept."""
        caller_apikey = _form(body).get("apikey")
        return answer.replace(caller_apikey.encode(), b"***") if caller_apikey else answer

    async def _record_send(self, send: Send) -> None:
        """Count the send once by its state and hand it to the recorder (stored after)."""
        self.metrics.relay_sends.labels(METRIC_OUTCOMES[send.state]).inc()
        logs.event(
            log,
            "relay.send",
            mobile=send.mobile,
            state=send.state,
            code=send.result_code,
            sid=send.sid,
            ms=round(send.latency_ms or 0, 1),
        )
        await self.recorder.record_send(send)

    def _send_from_relay(
        self, request: Request, endpoint: str, body: bytes, latency_ms: float
    ) -> Send:
        """The send the caller asked for, before its outcome is known."""
        form = _form(body)
        mobile = form.get("mobile", "")
        actor = _app(request)
        return Send(
            sent_at=getattr(request.state, "guard_at", None) or utcnow(),
            mobile=clip(mobile, 32),
            code_digest=code_digest(self.settings.digest_key, mobile, _secret_part(form)),
            kind="notify" if endpoint == "tpl_notify.json" else "code",
            display_num=clip(form.get("display_num"), 32) or None,
            # The push URL carries the push token: kept as `?token=***`.
            callback_url=clip(redact(form.get("callback_url", ""), self.settings.push_token), 2048)
            or None,
            uid=clip(form.get("uid"), 64) or None,
            latency_ms=latency_ms,
            source="relay",
            actor=clip(actor, 128),
            carrier="",
            province="",
            fee=0,
            count=0,
        )

    def _read_answer(
        self, send: Send, endpoint: str, status: int, answer: bytes, secret_part: str
    ) -> None:
        """Fill in `send`'s outcome from the upstream's answer (unknown if unreadable)."""
        try:
            outcome: SendResult | YunpianError = interpret_send_answer(status, answer)
        except YunpianError as error:
            outcome = scrub_request(error, send.mobile, secret_part)
            if isinstance(error, MalformedAnswer):
                self.metrics.upstream_failed(endpoint, "malformed")
        record_outcome(send, outcome)
        send.http_status = status
        if send.result_code is None:
            send.result_msg = f"outcome unknown: unreadable answer (HTTP {status})"
        send.result_msg, send.result_detail = (
            clip(send.result_msg, 4096),
            clip(send.result_detail, 4096),
        )
        send.sid = clip(send.sid, 64)


def _form(body: bytes) -> dict[str, str]:
    """A relayed form body as a dict (first value of each field)."""
    fields = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    return {name: values[0] for name, values in fields.items()}


def _app(request: Request) -> str:
    """Who asks for the send: X-Voicewatch-App, else X-Voicewatch-Actor, else the address."""
    return (
        request.headers.get("x-voicewatch-app")
        or request.headers.get("x-voicewatch-actor")
        or (request.client.host if request.client else "")
    )


def _failure_kind(error: httpx.HTTPError) -> str:
    """How a relayed call failed, for metrics: unreachable, timeout or closed (mid-answer)."""
    if isinstance(error, httpx.ConnectError | httpx.ConnectTimeout):
        return "unreachable"
    if isinstance(error, httpx.TimeoutException):
        return "timeout"
    return "closed"


def _secret_part(form: dict[str, str]) -> str:
    """What of a send must never be stored in clear: the code, or a notification's values."""
    return form.get("code") or form.get("tpl_value", "")


def _upstream_headers(request: Request) -> dict[str, str]:
    content_type = request.headers.get("content-type", "")
    return {
        # Passed on only when it can go on the wire again (printable ASCII).
        "content-type": content_type
        if content_type.isascii() and content_type.isprintable() and content_type.strip()
        else HEADERS["Content-Type"],
        "accept": HEADERS["Accept"],
    }
