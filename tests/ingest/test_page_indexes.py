"""Migrations 0008, 0010, 0011 and 0012: the indexes the Throttling, Ingest health and Failures pages
read by."""

from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import inspect

from ingest.store.engine import alembic_config, make_engine, upgrade

INDEXES = {("reports", "ix_reports_first_seen"), ("sends", "ix_sends_result_code_sent_at")}


def indexes(engine) -> set[tuple[str, str]]:
    inspector = inspect(engine)
    return {(t, i["name"]) for t in ("reports", "sends") for i in inspector.get_indexes(t)}


def test_migration_0008_adds_the_page_indexes_and_takes_them_back(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'v.db'}")
    assert indexes(engine) >= INDEXES
    command.downgrade(alembic_config(engine), "0007")
    assert not INDEXES & indexes(engine)
    upgrade(engine)
    assert indexes(engine) >= INDEXES
    engine.dispose()


def test_migration_0010_adds_the_failed_reports_index_on_postgresql_only(engine):
    failed = ("reports", "ix_reports_failed")
    postgres = engine.dialect.name == "postgresql"
    assert (failed in indexes(engine)) == postgres
    command.downgrade(alembic_config(engine), "0009")
    assert failed not in indexes(engine)
    upgrade(engine)
    assert (failed in indexes(engine)) == postgres
    if postgres:  # its sids alone (0011): an error_msg can be longer than an index entry holds
        (index,) = (i for i in inspect(engine).get_indexes("reports") if i["name"] == failed[1])
        assert index["column_names"] == ["sid"]


def test_postgresql_connections_do_not_jit_compile(engine):
    """JIT compiling took most of a 2 s dashboard query at 10 M reports (issue 18); every
    pooled connection, new or reused, runs without it."""
    if engine.dialect.name != "postgresql":
        pytest.skip("JIT is PostgreSQL's")
    connections = [engine.connect() for _ in range(3)]  # more than one pooled connection
    try:
        assert [c.exec_driver_sql("SHOW jit").scalar() for c in connections] == ["off"] * 3
    finally:
        for connection in connections:
            connection.close()
    with engine.connect() as reused:
        assert reused.exec_driver_sql("SHOW jit").scalar() == "off"


def test_a_numbers_codes_and_first_and_last_send_are_read_from_the_index_alone(tmp_path):
    """Throttling's listed numbers: their distinct codes and first and last send in a range
    (`frequent_numbers`) come from ix_sends_mobile_sent_at_code without reading the sends."""
    engine = make_engine(f"sqlite:///{tmp_path / 'v.db'}")
    sql = (
        "SELECT mobile, count(DISTINCT code_digest), min(sent_at), max(sent_at) FROM sends "
        "WHERE mobile IN ('15205201314', '13800138000') AND sent_at >= '2026-11-01' "
        "AND sent_at < '2026-12-01' GROUP BY mobile"
    )
    with engine.connect() as connection:
        plan = [row[3] for row in connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}")]
    assert any("USING COVERING INDEX ix_sends_mobile_sent_at_code" in step for step in plan), plan
    engine.dispose()
