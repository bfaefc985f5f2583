"""Migration 0005: the alert tables exactly as the models say, and a clean way back."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from ingest.store.alert_models import AlertState
from ingest.store.engine import alembic_config, upgrade

ALERT_TABLES = {
    "alert_states",
    "alert_events",
    "alert_measurements",
    "alert_silences",
    "balance_readings",
    "alert_leases",
}


def test_alert_tables_match_the_models_and_downgrade_cleanly(engine):
    def made_here(item, _name, _type, _reflected, _compare_to) -> bool:
        """An object the models make on this dialect (`ddl_if`: on PostgreSQL only, say)."""
        only = getattr(item, "_ddl_if", None)
        return only is None or only.dialect in (None, engine.dialect.name)

    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"include_object": made_here})
        assert compare_metadata(context, AlertState.metadata) == []
    command.downgrade(alembic_config(engine), "0004")  # the revision before the alerts
    assert not ALERT_TABLES & set(inspect(engine).get_table_names())
    upgrade(engine)
    assert set(inspect(engine).get_table_names()) >= ALERT_TABLES
