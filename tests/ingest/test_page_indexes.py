"""Migration 0008: the indexes the Throttling and Ingest health pages read by."""

from __future__ import annotations

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
