"""Migrations 0009, 0011 and 0012: the number and failure rollups filled from the rows already
stored, kept from then on, and a clean way back (no trigger left writing to a table that is
gone); and a failed report whose reason is as long as a report's may be is stored."""

from __future__ import annotations

import random
from datetime import timedelta

from alembic import command
from sqlalchemy import inspect, select

from ingest.seed.history import seed
from ingest.store.engine import alembic_config, upgrade
from ingest.store.failure_rollup import REASON_CHARS, TABLES
from ingest.store.models import FailureDay, FailureHour, Report
from ingest.store.number_rollup import MEASURES as NUMBER_MEASURES
from ingest.store.upserts import store_reports
from ingest.store.writes import record_send
from tests.ingest.test_rollups import T0, expected, long_reason, report, rolled_up, send


def test_migration_0009_fills_the_number_rollup_and_takes_it_back(engine):
    command.downgrade(alembic_config(engine), "0008")
    assert "number_days" not in inspect(engine).get_table_names()
    seed(engine, days=2, per_day=300, seed=4, now=T0, progress=False)
    record_send(engine, send("15205201314", T0 - timedelta(hours=1), "before-0009"))

    upgrade(engine)
    assert rolled_up(engine)["number_days"] == expected(engine)["number_days"] != {}
    record_send(engine, send("15205201314", T0, "after-0009"))
    assert rolled_up(engine)["number_days"] == expected(engine)["number_days"]

    command.downgrade(alembic_config(engine), "0008")
    assert "number_days" not in inspect(engine).get_table_names()
    record_send(engine, send("15205201314", T0, "after-downgrade"))  # no trigger left behind


def test_migration_0011_fills_the_failure_rollup_and_takes_it_back(engine):
    command.downgrade(alembic_config(engine), "0010")
    assert not set(TABLES.values()) & set(inspect(engine).get_table_names())
    seed(engine, days=2, per_day=300, seed=4, now=T0, progress=False)
    record_send(engine, send("15205201314", T0 - timedelta(hours=1), "before-0011", 22))

    upgrade(engine)
    for table in TABLES.values():
        assert rolled_up(engine)[table] == expected(engine)[table] != {}
    record_send(engine, send("15205201314", T0, "after-0011"))
    store_reports(engine, [report("after-0011", "15205201314", "FAIL", T0, "关机")], "push")
    for table in TABLES.values():
        assert rolled_up(engine)[table] == expected(engine)[table]

    command.downgrade(alembic_config(engine), "0010")
    assert not set(TABLES.values()) & set(inspect(engine).get_table_names())
    record_send(engine, send("15205201314", T0, "after-downgrade", 8))  # no trigger left behind
    store_reports(engine, [report("after-downgrade", "15205201314", "FAIL", T0, "x")], "push")


def sends_indexes(engine) -> dict[str, list[str]]:
    return {i["name"]: i["column_names"] for i in inspect(engine).get_indexes("sends")}


def test_migration_0012_counts_the_answered_calls_per_number_and_takes_them_back(engine):
    def columns() -> set[str]:
        return {c["name"] for c in inspect(engine).get_columns("number_days")}

    command.downgrade(alembic_config(engine), "0011")
    assert "answered" not in columns()
    seed(engine, days=2, per_day=300, seed=4, now=T0, progress=False)
    record_send(engine, send("15205201314", T0 - timedelta(hours=1), "before-0012"))
    store_reports(engine, [report("before-0012", "15205201314", "SUCCESS", T0)], "push")

    upgrade(engine)
    assert "answered" in columns()
    numbers = rolled_up(engine)["number_days"]
    assert numbers == expected(engine)["number_days"]
    assert sum(row[NUMBER_MEASURES.index("answered")] for row in numbers.values()) > 0
    record_send(engine, send("15205201314", T0, "after-0012"))
    store_reports(engine, [report("after-0012", "15205201314", "SUCCESS", T0)], "push")
    assert rolled_up(engine)["number_days"] == expected(engine)["number_days"]

    assert sends_indexes(engine)["ix_sends_mobile_sent_at_code"] == [
        "mobile",
        "sent_at",
        "code_digest",
    ]
    assert not {"ix_sends_mobile", "ix_sends_mobile_sent_at"} & set(sends_indexes(engine))

    command.downgrade(alembic_config(engine), "0011")
    assert "answered" not in columns()
    assert sends_indexes(engine)["ix_sends_mobile_sent_at"] == ["mobile", "sent_at"]
    assert "ix_sends_mobile_sent_at_code" not in sends_indexes(engine)
    assert "ix_number_days_mobile_at" not in {
        i["name"] for i in inspect(engine).get_indexes("number_days")
    }
    record_send(engine, send("15205201314", T0, "after-downgrade"))  # no trigger left behind
    store_reports(engine, [report("after-downgrade", "15205201314", "SUCCESS", T0)], "push")


def test_a_failed_report_with_the_longest_reason_is_stored_and_counted_by_its_start(engine):
    """4,096 CJK characters that do not compress (12 KB): more than a PostgreSQL index entry
    holds, which an index over error_msg made a storage error."""
    reason = long_reason(random.Random(1))
    record_send(engine, send("15205201314", T0, "long"))
    store_reports(engine, [report("long", "15205201314", "FAIL", T0, reason)], "push")
    with engine.connect() as connection:
        assert connection.scalar(select(Report.error_msg)) == reason
        assert connection.scalar(select(FailureDay.reason)) == reason[:REASON_CHARS]
        assert connection.scalar(select(FailureHour.reason)) == reason[:REASON_CHARS]
