"""Storing reports: one row per sid whatever the deliveries, the later report wins.

The same report delivered by push and by pull, or pushed twice, is one row, upserted with the
dialect's ON CONFLICT. A batch of pushes or pull pages is stored with its raw bodies marked
done in the same transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import (
    Connection,
    Engine,
    bindparam,
    func,
    select,
    update,
)

from ingest.store.inbox import JSON, OK, QUARANTINED, raw_row, storable_error
from ingest.store.models import RawBody, Report
from ingest.store.report_upsert import upsert_reports
from ingest.store.spool import Spooled
from ingest.store.writes import utcnow, writing
from ingest.yunpian.reports import Report as ReportRecord


@dataclass(frozen=True, slots=True)
class StoreResult:
    """What a batch of reports did to the store."""

    received: int
    new: int
    duplicates: int  # sids already stored (counted once per delivery)


def store_reports(
    engine: Engine,
    reports: Sequence[ReportRecord],
    channel: str,
    *,
    raw_id: int | None = None,
    refused: str | None = None,
    body_count: int | None = None,
    now: datetime | None = None,
) -> StoreResult:
    """Upsert reports by sid and mark their raw body (`raw_id`, kept earlier) processed, in
    one transaction.

    A later report (by `user_receive_time`) wins over an earlier one for the same sid; gaps
    (null fields) are filled from whichever report has them; first_seen is kept. With
    `refused` reasons, the raw body is marked quarantined rather than ok; `body_count` is
    its report_count when not all its reports are in `reports` (stored before).
    """
    with writing(engine) as connection:
        new = _store_counting_new(connection, reports, channel, now)
        result = StoreResult(len(reports), new, len(reports) - new)
        if raw_id is not None:
            count = len(reports) if body_count is None else body_count
            _mark_stored(connection, [(raw_id, count, refused)])
    return result


def store_pages(
    engine: Engine,
    pages: Sequence[tuple[int | Spooled, Sequence[ReportRecord]] | Page],
    channel: str,
) -> StoreResult:
    """The reports of several bodies, (kept, reports[, refused]) each, in one transaction
    that also marks every body processed: `kept` is a raw inbox id, or a spooled body that
    goes into the raw inbox now; a body with `refused` reasons (reports it held that the
    store cannot) is marked quarantined with them."""
    pages = [(page[0], page[1], page[2] if len(page) > 2 else None) for page in pages]
    reports = [r for _, page, _ in pages for r in page]
    with writing(engine) as connection:
        if connection.dialect.name == "sqlite":
            # Up to 64 MiB of pages for this connection (default 2 MiB), allocated as used:
            # report sids are random, so each report dirties an index page anywhere in the
            # file, and a transaction of many pages pays for each index page once only if it
            # stays cached. Only here: the dashboard's connections keep the small default.
            connection.exec_driver_sql("PRAGMA cache_size=-65536")
        new = _store_counting_new(connection, reports, channel)
        result = StoreResult(len(reports), new, len(reports) - new)
        kept = [(k, len(page), refused) for k, page, refused in pages if isinstance(k, int)]
        if kept:
            _mark_stored(connection, kept)
        spooled = [(k, len(page), why) for k, page, why in pages if not isinstance(k, int)]
        if spooled:
            rows = [
                raw_row(
                    channel,
                    s.body,
                    JSON,
                    QUARANTINED if refused else OK,
                    error=refused,
                    report_count=count,
                    received_at=s.received_at,
                )
                for s, count, refused in spooled
            ]
            connection.execute(RawBody.__table__.insert(), rows)
    return result


# A pushed or pulled body's reports and why the others in it were refused (None: none was).
Push = tuple[Sequence[ReportRecord], bytes, str | None, str | None]
Page = tuple[int | Spooled, Sequence[ReportRecord], str | None]


def store_pushes(engine: Engine, pushes: Sequence[Push]) -> list[StoreResult]:
    """Several pushes, (reports, raw body, content type, refused) each, in one transaction:
    their reports upserted and their bodies kept, quarantined with the reasons when some of
    their reports were refused. Results are per push, as if stored in turn."""
    with writing(engine) as connection:
        seen = _store(connection, [r for reports, *_ in pushes for r in reports], "push")
        connection.execute(
            RawBody.__table__.insert(),
            [
                raw_row(
                    "push",
                    body,
                    content_type,
                    QUARANTINED if refused else OK,
                    error=refused,
                    report_count=len(reports),
                )
                for reports, body, content_type, refused in pushes
            ],
        )
    results = []
    for reports, *_ in pushes:
        sids = {report.sid for report in reports}
        new = len(sids - seen)
        seen |= sids
        results.append(StoreResult(len(reports), new, len(reports) - new))
    return results


def _store(
    connection: Connection,
    reports: Sequence[ReportRecord],
    channel: str,
    now: datetime | None = None,
) -> set[str]:
    """Upsert `reports`; the sids among them that were stored before."""
    merged = _merge_by_sid(reports)
    existing: set[str] = set()
    for chunk in _chunks(list(merged), 500):
        existing.update(connection.scalars(_STORED_SIDS, {"sids": chunk}))
    if merged:  # the rollup triggers run in this same transaction
        upsert_reports(connection, merged.values(), channel, now or utcnow())
    return existing


def _store_counting_new(
    connection: Connection,
    reports: Sequence[ReportRecord],
    channel: str,
    now: datetime | None = None,
) -> int:
    """Upsert `reports`; how many of their sids were not stored before.

    On SQLite, counted from the rowids the upsert took rather than by asking first which
    sids exist (which cost a pull as much as SQLite's own upsert work, bench/README.md): the
    transaction is the only writer, and each new row takes the largest rowid + 1."""
    if connection.dialect.name != "sqlite":
        return _result(reports, _store(connection, reports, channel, now)).new
    merged = _merge_by_sid(reports)
    before = connection.scalar(_LAST_REPORT_ID)
    if merged:  # the rollup triggers run in this same transaction
        upsert_reports(connection, merged.values(), channel, now or utcnow())
    return connection.scalar(_LAST_REPORT_ID) - before


_LAST_REPORT_ID = select(func.coalesce(func.max(Report.id), 0))


def _result(reports: Sequence[ReportRecord], existing: set[str]) -> StoreResult:
    new = len({report.sid for report in reports} - existing)
    return StoreResult(received=len(reports), new=new, duplicates=len(reports) - new)


# One cached statement whatever the number of sids (a literal IN list is coerced per value).
_STORED_SIDS = select(Report.sid).where(Report.sid.in_(bindparam("sids", expanding=True)))


def _mark_stored(connection: Connection, bodies: list[tuple[int, int, str | None]]) -> None:
    """Raw bodies (id, reports stored from it, why others were refused) processed."""
    connection.execute(
        update(RawBody)
        .where(RawBody.id == bindparam("raw_id"))
        .values(
            parse_status=bindparam("status"),
            parse_error=bindparam("error"),
            report_count=bindparam("count"),
        ),
        [
            {
                "raw_id": raw_id,
                "count": count,
                "status": QUARANTINED if refused else OK,
                "error": storable_error(refused),
            }
            for raw_id, count, refused in bodies
        ],
    )


def _merge_by_sid(reports: Sequence[ReportRecord]) -> dict[str, tuple[ReportRecord, int]]:
    """One report per sid (ON CONFLICT cannot touch a row twice in one statement)."""
    merged = {report.sid: (report, 1) for report in reports}
    if len(merged) == len(reports):  # the usual case: each sid once
        return merged
    merged = {}
    for report in reports:
        if report.sid in merged:
            kept, deliveries = merged[report.sid]
            merged[report.sid] = (_later(kept, report), deliveries + 1)
        else:
            merged[report.sid] = (report, 1)
    return merged


def _later(a: ReportRecord, b: ReportRecord) -> ReportRecord:
    a_time = a.user_receive_time or datetime.min.replace(tzinfo=UTC)
    b_time = b.user_receive_time or datetime.min.replace(tzinfo=UTC)
    return b if b_time >= a_time else a


def _chunks(items: list, size: int) -> Iterable[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
