"""Lookup: everything stored for one number or one sid, as calls (a send and its report,
joined by sid), newest first. The `voicewatch lookup` command and the dashboard's Lookup page
both read it."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from sqlalchemy import (
    ColumnElement,
    Engine,
    Row,
    Select,
    Table,
    func,
    null,
    select,
    union,
    union_all,
)

from ingest.numbers import PartialNumber, canonical, storage_key
from ingest.store.models import Report, Send

SENDS = Send.__table__
REPORTS = Report.__table__
Record = TypeVar("Record", Send, Report)


@dataclass(frozen=True, slots=True)
class Call:
    """A stored send with its report, once it has arrived; or a report found by its number or
    sid whose send is not among those found (never stored, or stored under another form of
    the number)."""

    send: Send | None
    report: Report | None

    @property
    def until_call_ended(self) -> timedelta | None:
        """From the send to the end of the call (`user_receive_time`: when an answered call
        hung up or an unanswered one gave up), answered or not."""
        if self.send is None or self.report is None or self.report.user_receive_time is None:
            return None
        return self.report.user_receive_time - self.send.sent_at


@dataclass(frozen=True, slots=True)
class Candidate:
    """One stored number a partial number may mean, with how much is stored for it."""

    number: str
    sends: int  # 0: only reports are stored for it


def lookup(engine: Engine, sid_or_mobile: str, limit: int = 200) -> list[Call]:
    """The newest `limit` calls of a number or a sid: its sends (with their reports) and its
    reports whose send is not among them."""
    query = unicodedata.normalize("NFKC", sid_or_mobile).strip()
    # SQLite takes ORDER BY and LIMIT in a part of a UNION only inside a subquery.
    calls = union_all(
        select(_by_send(query, limit).subquery()), select(_by_report(query, limit).subquery())
    ).subquery()
    newest = func.coalesce(
        calls.c.send_sent_at, calls.c.report_user_receive_time, calls.c.report_first_seen
    )
    with engine.connect() as connection:
        rows = connection.execute(select(calls).order_by(newest.desc()).limit(limit))
        return [Call(_record(Send, row, "send_"), _record(Report, row, "report_")) for row in rows]


def _matches(table: Table, query: str) -> ColumnElement[bool]:
    """Rows of the number however it is written (its canonical form, or the text as stored
    for rows older than it), or with the sid in any letter case.

    Found through each column's own index and united: as one OR, SQLite walked the whole table
    in time order to save sorting the few rows found (2.5 s for a sid at 1 M sends)."""
    number = canonical(query) or storage_key(query)
    sids = {query, query.lower(), query.upper()}
    found = union(
        select(table.c.id).where(table.c.number == number),
        select(table.c.id).where(table.c.mobile == query),
        select(table.c.id).where(table.c.sid.in_(sids)),
    )
    return table.c.id.in_(found)


def candidates(engine: Engine, partial: PartialNumber, limit: int = 20) -> list[Candidate]:
    """The stored numbers a partial number (`152****9867`, a last four) may mean, most sent
    to first."""
    pattern = f"{partial.prefix}%{partial.suffix}"  # digits and "+" only: nothing to escape
    numbers = union_all(
        select(SENDS.c.number, SENDS.c.sent_at).where(SENDS.c.number.like(pattern)),
        select(REPORTS.c.number, null().label("sent_at")).where(REPORTS.c.number.like(pattern)),
    ).subquery()
    stmt = (
        select(numbers.c.number, func.count(numbers.c.sent_at))
        .group_by(numbers.c.number)
        .order_by(func.count(numbers.c.sent_at).desc(), numbers.c.number)
        .limit(limit)
    )
    with engine.connect() as connection:
        return [Candidate(*row) for row in connection.execute(stmt)]


def count_no_report(engine: Engine, start: datetime, sent_before: datetime) -> int:
    """Accepted sends from `start` up to `sent_before` whose report has not arrived."""
    stmt = (
        select(func.count())
        .select_from(SENDS.outerjoin(REPORTS, REPORTS.c.sid == SENDS.c.sid))
        .where(
            SENDS.c.result_code == 0,
            SENDS.c.sent_at >= start,
            SENDS.c.sent_at < sent_before,
            REPORTS.c.id.is_(None),
        )
    )
    with engine.connect() as connection:
        return int(connection.execute(stmt).scalar_one())


def _columns() -> list[ColumnElement]:
    """Every column of both tables, prefixed by its table, so a row splits back into two."""
    return [c.label(f"send_{c.key}") for c in SENDS.c] + [
        c.label(f"report_{c.key}") for c in REPORTS.c
    ]


def _by_send(query: str, limit: int) -> Select:
    """The sends to the number (or with the sid), with their reports."""
    return (
        select(*_columns())
        .select_from(SENDS.outerjoin(REPORTS, REPORTS.c.sid == SENDS.c.sid))
        .where(_matches(SENDS, query))
        .order_by(SENDS.c.sent_at.desc())
        .limit(limit)
    )


def _by_report(query: str, limit: int) -> Select:
    """The reports for the number (or with the sid) that `_by_send` does not find with a send
    (their send columns all null)."""
    found_send = (SENDS.c.sid == REPORTS.c.sid) & _matches(SENDS, query)
    return (
        select(*_columns())
        .select_from(REPORTS.outerjoin(SENDS, found_send))
        .where(_matches(REPORTS, query), SENDS.c.id.is_(None))
        .order_by(func.coalesce(REPORTS.c.user_receive_time, REPORTS.c.first_seen).desc())
        .limit(limit)
    )


def _record(model: type[Record], row: Row, prefix: str) -> Record | None:
    """The `model` record held in `row`'s columns named `prefix` + column; None when null."""
    values = {c.key: row._mapping[prefix + c.key] for c in model.__table__.columns}
    return None if values["id"] is None else model(**values)
