"""The store writes reports through the DB-API driver, not through SQLAlchemy's column types:
what lands in the database must be what those types would have written."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from sqlalchemy import insert, select, text

from ingest.store.models import Report
from ingest.store.upserts import store_reports
from ingest.yunpian.reports import Report as ReportRecord

AT = datetime(2026, 11, 20, 6, 0, 7, 250_000, tzinfo=timezone(timedelta(hours=8)))
SEEN = datetime(2026, 11, 20, 0, 0, 0, tzinfo=UTC)  # no microseconds: still written in full


def test_driver_written_report_equals_one_written_by_sqlalchemy(engine):
    store_reports(
        engine,
        [ReportRecord("driver", "15205201314", "SUCCESS", AT, 12, None, "u1")],
        "push",
        now=SEEN,
    )
    with engine.begin() as connection:
        connection.execute(
            insert(Report),
            {
                "sid": "orm",
                "mobile": "15205201314",
                "uid": "u1",
                "status": "SUCCESS",
                "error_msg": None,
                "user_receive_time": AT,
                "duration": 12,
                "via_push": True,
                "via_pull": False,
                "deliveries": 1,
                "first_seen": SEEN,
                "last_seen": SEEN,
                "carrier": "China Mobile",
                "province": "Jiangsu",
            },
        )
    columns = "user_receive_time, first_seen, last_seen, via_push, via_pull, carrier, province"
    with engine.connect() as connection:
        raw = {
            sid: rest
            for sid, *rest in connection.execute(
                text(f"SELECT sid, {columns} FROM reports ORDER BY sid")
            )
        }
        orm = {row.sid: row for row in connection.execute(select(Report))}
    assert raw["driver"] == raw["orm"]  # the same text (SQLite) or values (PostgreSQL)
    assert orm["driver"].user_receive_time == AT and orm["driver"].first_seen == SEEN
