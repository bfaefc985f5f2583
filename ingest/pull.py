"""The pull loop: drain Yunpian's pull_status into the store, raw body first, then wait."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from sqlalchemy import Engine

from ingest import logs
from ingest.store import (
    MALFORMED,
    finish_pull_run,
    keep_raw,
    mark_raw,
    pending_raw,
    start_pull_run,
    store_reports,
)
from ingest.yunpian import (
    MalformedAnswer,
    ReportFormatError,
    VoiceClient,
    YunpianError,
    interpret_pull_answer,
    parse_push_form,
)

log = logging.getLogger(__name__)

PAGE_SIZE = 100  # Yunpian's maximum
REPORT_TYPES = (1, 2)  # 1 = voice codes, 2 = voice notifications


@dataclass(frozen=True, slots=True)
class DrainResult:
    pages: int
    reports: int
    new: int


def drain(client: VoiceClient, engine: Engine) -> DrainResult:
    """Pull pages of 100 until a short page, for each report type; store every body first.

    Each report is handed out once, so the body is committed to the raw inbox before it is
    parsed: a crash after the answer leaves it `pending`, and `replay_pending` picks it up.
    """
    pages = reports = new = 0
    for report_type in REPORT_TYPES:
        while True:
            status, body = client.pull_status_raw(PAGE_SIZE, report_type)
            raw_id = keep_raw(engine, "pull", body, content_type="application/json")
            pages += 1
            try:
                page = interpret_pull_answer(status, body)
            except MalformedAnswer as error:
                mark_raw(engine, raw_id, MALFORMED, error.msg)
                raise
            result = store_reports(engine, page, "pull", raw_id=raw_id)
            reports, new = reports + result.received, new + result.new
            if len(page) < PAGE_SIZE:
                break
    return DrainResult(pages, reports, new)


def replay_pending(engine: Engine) -> int:
    """Process raw bodies kept but never parsed (the process died in between). Returns reports."""
    replayed = 0
    for raw_id, channel, body in pending_raw(engine):
        try:
            page = parse_push_form(body) if channel == "push" else interpret_pull_answer(200, body)
        except (ReportFormatError, YunpianError) as error:
            mark_raw(engine, raw_id, MALFORMED, str(error))
            continue
        replayed += store_reports(engine, page, channel, raw_id=raw_id).received
    if replayed:
        logs.event(log, "pull.replayed", reports=replayed)
    return replayed


def run(
    client: VoiceClient,
    engine: Engine,
    *,
    interval: float = 5.0,
    once: bool = False,
    stop: threading.Event | None = None,
    max_backoff: float = 300.0,
) -> None:
    """Drain, wait `interval`, repeat; back off exponentially while pulls fail."""
    stop = stop or threading.Event()
    replay_pending(engine)
    failures = 0
    while not stop.is_set():
        run_id = start_pull_run(engine)
        try:
            result = drain(client, engine)
        except YunpianError as error:
            failures += 1
            finish_pull_run(engine, run_id, 0, 0, error=str(error))
            delay = min(max_backoff, interval * 2**failures)
            logs.event(log, "pull.failed", logging.WARNING, error=error, retry_in_s=round(delay, 1))
            if once:
                raise
        else:
            failures = 0
            finish_pull_run(engine, run_id, result.pages, result.reports)
            logs.event(
                log, "pull.drained", pages=result.pages, reports=result.reports, new=result.new
            )
            delay = interval
            if once:
                return
        stop.wait(delay)
