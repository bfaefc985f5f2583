"""Lookup: everything stored for one number or one sid, as calls (a send and its report,
joined by sid), newest first. The `voicewatch lookup` command and the dashboard's Lookup page
both read it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import TypeVar

from sqlalchemy import ColumnElement, Engine, Row, Select, Table, func, or_, select, union_all

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
    def answer_after(self) -> timedelta | None:
        """From the send to the end of the call, as Yunpian reports it."""
        if self.send is None or self.report is None or self.report.user_receive_time is None:
            return None
        return self.report.user_receive_time - self.send.sent_at


def lookup(engine: Engine, sid_or_mobile: str, limit: int = 200) -> list[Call]:
    """The newest `limit` calls of a number or a sid: its sends (with their reports) and its
    reports whose send is not among them."""
    query = sid_or_mobile.strip()
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
    return or_(table.c.mobile == query, table.c.sid == query)


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
