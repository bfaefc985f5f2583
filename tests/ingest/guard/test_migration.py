"""Migration 0005 makes the guard's tables exactly as the models describe them, and undoes."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.command import downgrade
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from ingest.store.engine import alembic_config, make_engine
from ingest.store.models import Base

GUARD_TABLES = {"guard_attempts", "guard_list_entries", "guard_list_changes"}


def _guard_differences(engine) -> list:
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    return [d for d in differences if any(t in repr(d) for t in GUARD_TABLES)]


def test_migrated_guard_tables_match_the_models_and_downgrade_removes_them(db_url):
    engine = make_engine(db_url)
    assert _guard_differences(engine) == []
    config = alembic_config(engine)
    downgrade(config, "0004")
    assert GUARD_TABLES.isdisjoint(inspect(engine).get_table_names())
