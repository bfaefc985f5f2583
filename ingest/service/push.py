"""Yunpian's push receiver: `POST /push/voice` with a form `voice_status=[…]`.

A push is answered SUCCESS only after its reports are committed, so Yunpian retries anything
not stored; whatever is refused or malformed is kept in the raw inbox with the reason.
"""

from __future__ import annotations

import ipaddress
import logging
from functools import partial

from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from ingest import logs
from ingest.service.http_edge import (
    STORE_ATTEMPTS,
    BodyTooLarge,
    clip,
    read_body,
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
        try:
            body = await read_body(request, self.settings.push_max_bytes)
        except BodyTooLarge as too_large:
            return await self._refuse(
                413, "body too large", too_large.head, content_type, truncated=True
            )
        refusal = self._caller_refusal(request, content_type)
        if refusal is not None:
            status, reason = refusal
            return await self._refuse(status, reason, body, content_type)

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
            result = await self._writer.submit((parsed.reports, body, content_type, refused))
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

    def _caller_refusal(self, request: Request, content_type: str) -> tuple[int, str] | None:
        """(status, reason) when the caller may not push or did not send a form."""
        if self.settings.push_token:
            given = request.query_params.get("token")
            if given is None:
                return 401, "push token missing: add ?token=… to the callback URL"
            if not token_ok(self.settings.push_token.reveal(), given):
                return 403, "push token wrong"
        elif not _is_loopback(request):
            return 403, "no VOICEWATCH_PUSH_TOKEN configured: pushes accepted from loopback only"
        if content_type.split(";")[0].strip().lower() != FORM_TYPE:
            return 415, f"expected {FORM_TYPE}, got {content_type or 'none'!r}"
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
        self, status: int, reason: str, body: bytes, content_type: str, *, truncated: bool = False
    ) -> Response:
        self.metrics.rejects.labels(reason.split(":")[0]).inc()
        logs.event(
            log, "push.refused", logging.WARNING, status=status, reason=reason, bytes=len(body)
        )
        try:
            await run_in_threadpool(
                keep_raw,
                self.engine,
                "push",
                body,
                content_type=content_type,
                status=REJECTED,
                error=reason,
                truncated=truncated,
            )
        except Exception as error:
            self.metrics.store_failed("raw", error)
        return self._answer(status, reason)

    def _answer(self, status: int, message: str) -> Response:
        self.metrics.requests.labels("push", str(status)).inc()
        return PlainTextResponse(message, status_code=status)


def _is_loopback(request: Request) -> bool:
    host = request.client.host if request.client else ""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
