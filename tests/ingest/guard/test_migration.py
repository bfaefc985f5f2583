"""Migration 0007_guard makes the guard's tables exactly as the models describe them, and undoes.

The guard's revision is chained after 0006_canonical_numbers; its downgrade is checked both to the
revision right before it and across 0006, whose downgrade rebuilds sends and reports on SQLite
while the rollup triggers (which join the two) must be out of the way and come back after.
"""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.command import downgrade
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from ingest.store.engine import alembic_config, make_engine, upgrade
from ingest.store.models import Base

GUARD_TABLES = {"guard_attempts", "guard_list_entries", "guard_list_changes"}
GUARD_REVISION = "0007"  # ingest/store/migrations/versions/0007_guard.py


def _guard_differences(engine) -> list:
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    return [d for d in differences if any(t in repr(d) for t in GUARD_TABLES)]


def _rollup_triggers(engine) -> int:
    if engine.dialect.name == "postgresql":
        query = (
            "SELECT count(DISTINCT trigger_name) FROM information_schema.triggers "
            "WHERE trigger_name LIKE 'rollup_%'"
        )
    else:
        query = "SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'rollup_%'"
    with engine.connect() as connection:
        return connection.execute(text(query)).scalar_one()


def test_migrated_guard_tables_match_the_models_and_downgrade_removes_them(db_url):
    engine = make_engine(db_url)
    config = alembic_config(engine)
    guard = ScriptDirectory.from_config(config).get_revision(GUARD_REVISION)
    assert guard.module.__doc__.startswith("guard:")
    assert _guard_differences(engine) == []
    triggers = _rollup_triggers(engine)  # SQLite's row triggers, PostgreSQL's statement ones
    assert triggers >= 6

    downgrade(config, guard.down_revision)  # the revision right before the guard's
    tables = set(inspect(engine).get_table_names())
    assert GUARD_TABLES.isdisjoint(tables)
    assert {"sends", "reports"} <= tables
    upgrade(engine)
    assert _guard_differences(engine) == []

    downgrade(config, "0004")  # across 0006, which rebuilds sends and reports on SQLite
    assert GUARD_TABLES.isdisjoint(inspect(engine).get_table_names())
    assert _rollup_triggers(engine) == triggers
    upgrade(engine)
    assert _guard_differences(engine) == []
    assert _rollup_triggers(engine) == triggers
    engine.dispose()
