"""Bodies kept and not (or not wholly) stored, parsed and stored again.

At start, the pull loop and the push receiver store what a crash left between keeping a body
and storing its reports (`replay_pending`, `replay_spool`). After an upgrade, `voicewatch db
replay` parses quarantined and malformed bodies with today's parser (`replay_inbox`), so a
parser fix recovers what an older version refused.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import Engine, select
from tqdm import tqdm

from ingest import logs
from ingest.store.faults import is_transient
from ingest.store.inbox import (
    JSON,
    MALFORMED,
    QUARANTINED,
    count_with_status,
    inbox_holds,
    keep_raw,
    mark_raw,
    pending_raw,
    raw_with_status,
)
from ingest.store.models import Report as StoredReport
from ingest.store.spool import PullSpool, Spooled, spool_for
from ingest.store.upserts import store_pages, store_reports
from ingest.yunpian.client import YunpianError, interpret_pull_page
from ingest.yunpian.reports import (
    MAX_PUSH_REPORTS,
    ParsedReports,
    Report,
    ReportFormatError,
    parse_push_form,
)

log = logging.getLogger(__name__)


def keep_unstored(
    engine: Engine,
    spool: PullSpool | None,
    kept: int | Spooled,
    error: str,
    status: str = MALFORMED,
) -> None:
    """Keep a body whose reports are not stored in the raw inbox, with the reason: as
    malformed (not a pull answer) or quarantined (the store refused it)."""
    if isinstance(kept, int):
        mark_raw(engine, kept, status, error)
        return
    keep_raw(
        engine,
        "pull",
        kept.body,
        content_type=JSON,
        status=status,
        error=error,
        received_at=kept.received_at,
    )
    if spool is not None:
        spool.forget([kept.id])


def quarantine(
    engine: Engine, spool: PullSpool | None, kept: int | Spooled, error: BaseException
) -> None:
    """Keep a body none of whose reports could be stored as quarantined, with the error, and
    out of the spool, so that no restart tries it again (`voicewatch db replay` does)."""
    reason = f"not stored: {type(error).__name__}: {error}"
    keep_unstored(engine, spool, kept, reason, QUARANTINED)
    logs.event(log, "ingest.quarantined", logging.ERROR, error=type(error).__name__)


def replay_pending(engine: Engine) -> int:
    """Process raw bodies kept but never parsed (the process died in between). Returns reports."""
    replayed = 0
    for raw_id, channel, body in pending_raw(engine):
        try:
            page = parse_body(channel, body)
        except (ReportFormatError, YunpianError) as error:
            mark_raw(engine, raw_id, MALFORMED, str(error))
            continue
        try:
            stored = store_reports(
                engine, page.reports, channel, raw_id=raw_id, refused=page.reasons()
            )
        except Exception as error:
            if is_transient(error):
                raise
            mark_raw(engine, raw_id, QUARANTINED, f"not stored: {type(error).__name__}: {error}")
            continue
        replayed += stored.received
    if replayed:
        logs.event(log, "pull.replayed", reports=replayed)
    return replayed


def parse_body(channel: str, body: bytes) -> ParsedReports:
    """The reports of a kept push or pull body, as the receiver and the pull loop parse it."""
    if channel == "push":
        return parse_push_form(body, MAX_PUSH_REPORTS)
    return interpret_pull_page(200, body)


def replay_spool(engine: Engine) -> int:
    """Store what a crashed pull loop left in the spool (ingest/store/spool.py). Returns reports.

    A body whose transaction committed just before the crash is in the raw inbox already,
    received at the same instant: it is only forgotten, so nothing is counted twice. A body
    the store refuses is quarantined, never left to fail the next start too."""
    spool = spool_for(engine)
    replayed = 0
    for spooled in spool.waiting() if spool is not None else []:
        if not inbox_holds(engine, "pull", spooled.received_at, spooled.body):
            try:
                page = interpret_pull_page(200, spooled.body)
            except (ReportFormatError, YunpianError) as error:
                keep_unstored(engine, spool, spooled, str(error))
                continue
            try:
                replayed += store_pages(
                    engine, [(spooled, page.reports, page.reasons())], "pull"
                ).received
            except Exception as error:
                if is_transient(error):
                    raise
                quarantine(engine, spool, spooled, error)
                continue
        spool.forget([spooled.id])
    if replayed:
        logs.event(log, "pull.replayed", reports=replayed, source="spool")
    return replayed


@dataclass(frozen=True, slots=True)
class ReplayResult:
    """What `replay_inbox` did."""

    bodies: int  # bodies parsed again
    new: int  # reports stored that were not before
    ok: int  # bodies all of whose reports are stored now
    refused: int  # bodies still quarantined or malformed


def replay_inbox(
    engine: Engine,
    statuses: tuple[str, ...] = (QUARANTINED, MALFORMED),
    *,
    progress: bool = False,
) -> ReplayResult:
    """Parse the raw inbox's quarantined and malformed bodies again with today's parser, and
    store the reports it takes now (`voicewatch db replay`, after an upgrade).

    Safe to repeat: a report whose sid is stored already is left as it is (not counted as a
    delivery again), so replaying twice stores nothing twice. Truncated bodies and bodies
    refused at the door (rejected) are not replayed."""
    bodies = new = ok = refused = 0
    after = 0
    with tqdm(total=count_with_status(engine, statuses), unit="body", disable=not progress) as bar:
        while batch := raw_with_status(engine, statuses, after=after, limit=200):
            for raw_id, channel, body in batch:
                stored, now_ok = _replay_one(engine, raw_id, channel, body)
                bodies, new = bodies + 1, new + stored
                ok, refused = ok + now_ok, refused + (not now_ok)
                after = raw_id
            bar.update(len(batch))
    logs.event(log, "inbox.replayed", bodies=bodies, new=new, ok=ok, refused=refused)
    return ReplayResult(bodies, new, ok, refused)


def _replay_one(engine: Engine, raw_id: int, channel: str, body: bytes) -> tuple[int, bool]:
    """(reports newly stored, whether the body is ok now) for one kept body."""
    try:
        page = parse_body(channel, body)
    except (ReportFormatError, YunpianError) as error:
        mark_raw(engine, raw_id, MALFORMED, str(error))
        return 0, False
    unstored = _not_stored(engine, page.reports)
    try:
        result = store_reports(
            engine,
            unstored,
            channel,
            raw_id=raw_id,
            refused=page.reasons(),
            body_count=len(page.reports),
        )
    except Exception as error:
        if is_transient(error):
            raise
        mark_raw(engine, raw_id, QUARANTINED, f"not stored: {type(error).__name__}: {error}")
        return 0, False
    return result.new, not page.refused


def _not_stored(engine: Engine, reports: list[Report]) -> list[Report]:
    """The reports whose sid is not in the store yet."""
    stored: set[str] = set()
    sids = [report.sid for report in reports]
    with engine.connect() as connection:
        for start in range(0, len(sids), 500):
            chunk = sids[start : start + 500]
            stored.update(
                connection.scalars(select(StoredReport.sid).where(StoredReport.sid.in_(chunk)))
            )
    return [report for report in reports if report.sid not in stored]
