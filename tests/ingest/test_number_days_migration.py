"""Migration 0009: the number rollup filled from the sends already stored, kept from then on,
and a clean way back (no trigger left writing to a table that is gone)."""

from __future__ import annotations

from datetime import timedelta

from alembic import command
from sqlalchemy import inspect

from ingest.seed.history import seed
from ingest.store.engine import alembic_config, upgrade
from ingest.store.writes import record_send
from tests.ingest.test_rollups import T0, expected, rolled_up, send


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
