"""Yunpian's push receiver: `POST /push/voice` with a form `voice_status=[…]`.

A push is answered SUCCESS only after its reports are committed, so Yunpian retries anything
not stored; whatever is refused or malformed is kept in the raw inbox with the reason.
"""

from __future__ import annotations

import asyncio
import logging
from functools import partial

from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from ingest import logs
from ingest.service.http_edge import (
    REFUSED_HEAD,
    STORE_ATTEMPTS,
    BodyTooLarge,
    RefusalBudget,
    clip,
    is_loopback,
    read_body,
    read_head,
    retrying,
    token_ok,
)
from ingest.service.metrics import IngestMetrics
from ingest.settings import Settings
from ingest.store.group_commit import GroupCommitter
from ingest.store.inbox import MALFORMED, REJECTED, keep_raw
from ingest.store.upserts import StoreResult, store_pushes
from ingest.yunpian.reports import (
    MAX_PUSH_REPORTS,
    ParsedReports,
    ReportFormatError,
    parse_push_form,
)

log = logging.getLogger(__name__)

PUSH_ACK = "SUCCESS"  # what Yunpian expects from a receiver that took the push
FORM_TYPE = "application/x-www-form-urlencoded"


class PushReceiver:
    """Receives Yunpian's pushes into `engine`; `open()` and `close()` bracket its writer."""

    def __init__(self, settings: Settings, engine: Engine, metrics: IngestMetrics) -> None:
        self.settings = settings
        self.engine = engine
        self.metrics = metrics
        self._writer: GroupCommitter | None = None
        self._refusals_kept = RefusalBudget(settings.refused_per_minute)

    def open(self) -> None:
        """Start the writer that stores pushes arriving together in one transaction."""
        self._writer = GroupCommitter(
            partial(store_pushes, self.engine), attempts=STORE_ATTEMPTS, name="push-writer"
        )

    def close(self) -> None:
        """Store what is queued, then stop the writer."""
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.close()

    async def receive(self, request: Request) -> Response:
        """The Starlette endpoint."""
        content_type = clip(request.headers.get("content-type", ""), 128) or ""
        # Who may push is decided from the headers alone: a refused caller's body is never
        # read past a short head, so refusals cost no memory, CPU or disk worth having.
        refusal = self._caller_refusal(request, content_type)
        if refusal is not None:
            return await self._refuse(*refusal, content_type, unread=request)
        try:
            body = await read_body(request, self.settings.push_max_bytes)
        except BodyTooLarge as too_large:
            message = f"body over {self.settings.push_max_bytes} bytes"
            return await self._refuse(
                413, "too_large", message, content_type, body=too_large.head, truncated=True
            )

        # Parsed before anything is written, off the event loop (a push can be megabytes):
        # its good reports and its body are stored in one transaction, and acknowledged
        # only after it commits (Yunpian retries otherwise).
        try:
            parsed = await run_in_threadpool(parse_push_form, body, MAX_PUSH_REPORTS)
        except ReportFormatError as error:
            return await self._malformed(body, content_type, error)
        refused = parsed.reasons()
        try:
            # Stored with the pushes that arrive meanwhile, and answered after that commit.
            # A bounded wait: a locked database gets a 503 (Yunpian retries), not a hang.
            result = await asyncio.wait_for(
                self._writer.submit((parsed.reports, body, content_type, refused)),
                self.settings.store_wait,
            )
        except Exception as error:  # not acknowledged, so Yunpian delivers it again
            self.metrics.store_failed("push", error)
            logs.event(log, "push.store_failed", logging.ERROR, error=type(error).__name__)
            return self._answer(503, "storage unavailable, retry later")
        self.metrics.reports_received.labels("push").inc(result.received)
        self.metrics.reports_stored.labels("push").inc(result.new)
        self.metrics.duplicates.labels("push").inc(result.duplicates)
        if refused:
            self._quarantined(parsed, result)
        return self._answer(200, PUSH_ACK)

    def _quarantined(self, parsed: ParsedReports, result: StoreResult) -> None:
        """Some reports of a push were refused: its good ones are stored and its body kept
        with the reasons, so it is acknowledged (Yunpian's retry would carry the same)."""
        self.metrics.rejects.labels("quarantined").inc()
        logs.event(
            log,
            "push.quarantined",
            logging.WARNING,
            stored=result.received,
            refused=len(parsed.refused),
            first_reason=parsed.refused[0][1],
        )

    def _caller_refusal(self, request: Request, content_type: str) -> tuple[int, str, str] | None:
        """(status, reason, message) when the caller may not push or sends no form; the
        reason is one of metrics.REJECT_REASONS, never text from the request."""
        if self.settings.push_token:
            given = request.query_params.get("token")
            if given is None:
                return 401, "token_missing", "push token missing: add ?token=… to the callback URL"
            if not token_ok(self.settings.push_token.reveal(), given):
                return 403, "token_wrong", "push token wrong"
        elif not is_loopback(request):
            message = "no VOICEWATCH_PUSH_TOKEN configured: pushes accepted from loopback only"
            return 403, "not_loopback", message
        if content_type.split(";")[0].strip().lower() != FORM_TYPE:
            return 415, "content_type", f"expected {FORM_TYPE}, got {content_type or 'none'!r}"
        return None

    async def _malformed(
        self, body: bytes, content_type: str, error: ReportFormatError
    ) -> Response:
        try:
            await retrying(
                lambda: keep_raw(
                    self.engine,
                    "push",
                    body,
                    content_type=content_type,
                    status=MALFORMED,
                    error=str(error),
                )
            )
        except Exception as store_error:  # its body could not be kept: ask for it again
            self.metrics.store_failed("raw", store_error)
            return self._answer(503, "storage unavailable, retry later")
        self.metrics.rejects.labels("malformed").inc()
        logs.event(log, "push.malformed", logging.WARNING, reason=error)
        return self._answer(400, f"malformed push: {error}")

    async def _refuse(
        self,
        status: int,
        reason: str,
        message: str,
        content_type: str,
        *,
        unread: Request | None = None,
        body: bytes = b"",
        truncated: bool = False,
    ) -> Response:
        """Answer a refusal; keep its head in the raw inbox while this minute's budget lasts
        (`unread`: the request whose body was not read yet, of which only a head is read)."""
        self.metrics.rejects.labels(reason).inc()
        budget = self._refusals_kept
        if not budget.take():
            self.metrics.refusals_not_kept.inc()
            if budget.denied == 1:  # one line per run of refusals not kept
                logs.event(
                    log, "push.refusals_not_kept", logging.WARNING, per_minute=budget.per_minute
                )
            return self._answer(status, message)
        logs.event(log, "push.refused", logging.WARNING, status=status, reason=reason)
        if unread is not None:
            body, truncated = await read_head(unread)
        truncated = truncated or len(body) > REFUSED_HEAD
        try:
            await run_in_threadpool(
                keep_raw,
                self.engine,
                "push",
                body[:REFUSED_HEAD],
                content_type=content_type,
                status=REJECTED,
                error=message,
                truncated=truncated,
            )
        except Exception as error:
            self.metrics.store_failed("raw", error)
        return self._answer(status, message)

    def _answer(self, status: int, message: str) -> Response:
        self.metrics.requests.labels("push", str(status)).inc()
        return PlainTextResponse(message, status_code=status)
