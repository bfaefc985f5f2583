"""Sending a call from voicewatch itself (CLI, dashboard form) and recording it as a send,
and what a send's outcome is: accepted, rejected, never sent, or unknown.

An outcome is unknown when the request may have reached Yunpian and no answer could be read
(a read timeout, a connection closed mid-answer, an answer that is not Yunpian's JSON): the
call may well have been placed, so it is neither accepted nor rejected, and never retried.
Only a request that provably never left (connection refused or not made in time) is "not
sent". See ../shared/yunpian-voice-api.md ("Return codes") for why the difference matters.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import Engine

from ingest.settings import Settings, redact
from ingest.store.models import NOT_SENT_CODE, Send
from ingest.store.writes import code_digest, record_send, utcnow
from ingest.yunpian.client import (
    MalformedAnswer,
    SendResult,
    Unreachable,
    VoiceClient,
    YunpianError,
)

UNANSWERED_CODE = NOT_SENT_CODE  # Yunpian's own "unknown error", for a send that never left


@dataclass(frozen=True, slots=True)
class SendOutcome:
    """What happened to a send, for people: accepted with a sid, or why not."""

    accepted: bool
    sid: str | None
    result_code: int | None  # None: unknown outcome
    msg: str
    detail: str | None
    fee: float
    send_id: int
    state: str = "accepted"  # Send.state: accepted, rejected, not sent or unknown


def outcome_unknown(error: YunpianError) -> bool:
    """Whether a send that ended in `error` may have been placed all the same: the request
    may have left and no Yunpian answer could be read. A Yunpian error code (any HTTP status)
    is a refusal; an unreadable 4xx is a proxy's refusal before Yunpian."""
    if isinstance(error, Unreachable):
        return error.may_have_left
    if isinstance(error, MalformedAnswer):
        return error.http_status is None or not 400 <= error.http_status < 500
    return False


def record_outcome(send: Send, outcome: SendResult | YunpianError) -> Send:
    """Fill in a send's result from Yunpian's answer, or from the error it became."""
    if isinstance(outcome, YunpianError):
        # An unknown outcome has no code; no answer to a request that never left is recorded
        # as Yunpian's own "unknown error".
        if outcome_unknown(outcome):
            send.result_code = None
        else:
            send.result_code = outcome.code if outcome.code is not None else UNANSWERED_CODE
        send.result_msg, send.result_detail = outcome.msg, outcome.detail
        send.http_status, send.fee, send.count = outcome.http_status, 0, 0
    else:
        send.result_code, send.result_msg, send.http_status = 0, "OK", outcome.http_status
        send.fee, send.count, send.sid = outcome.fee, outcome.count, outcome.sid
    return send


def send_and_record(
    client: VoiceClient,
    engine: Engine,
    settings: Settings,
    mobile: str,
    code: str,
    *,
    display_num: str | None = None,
    callback_url: str | None = None,
    source: str,
    actor: str | None = None,
) -> SendOutcome:
    """Send one voice code through `client` and record the attempt, whatever its outcome."""
    callback_url = callback_url or settings.callback_url or None
    started = time.perf_counter()
    send = Send(
        sent_at=utcnow(),
        mobile=mobile,
        code_digest=code_digest(settings.digest_key, mobile, code),
        kind="code",
        display_num=display_num,
        # The push URL may carry the push token: kept as `?token=***`.
        callback_url=redact(callback_url, settings.push_token) if callback_url else None,
        source=source,
        actor=actor,
        carrier="",
        province="",
    )
    try:
        outcome: SendResult | YunpianError = client.send(
            mobile, code, callback_url=callback_url, display_num=display_num
        )
    except YunpianError as error:
        outcome = error
    record_outcome(send, outcome)
    send.latency_ms = (time.perf_counter() - started) * 1000
    send_id = record_send(engine, send)
    return SendOutcome(
        accepted=send.result_code == 0,
        sid=send.sid,
        result_code=send.result_code,
        msg=send.result_msg or "",
        detail=send.result_detail,
        fee=float(send.fee or 0),
        send_id=send_id,
        state=send.state,
    )


def send_test_call(
    settings: Settings,
    engine: Engine,
    mobile: str,
    code: str,
    *,
    display_num: str | None = None,
    callback_url: str | None = None,
    source: str = "dashboard",
    actor: str | None = None,
) -> SendOutcome:
    """Send one call through the configured endpoint (Yunpian or the simulator) and record it."""
    with VoiceClient(settings.voice_url, settings.apikey_or_demo) as client:
        return send_and_record(
            client,
            engine,
            settings,
            mobile,
            code,
            display_num=display_num,
            callback_url=callback_url,
            source=source,
            actor=actor,
        )
