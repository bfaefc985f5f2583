"""canonical numbers: sends.number and reports.number hold each number in one form (E.164,
ingest.numbers.canonical) beside the mobile as Yunpian was sent it, so a number has one
history however it was written. Existing rows are filled in here.

The rollup triggers are dropped during the backfill (an UPDATE of sends would move every row
out of its rollup and back in) and installed again after; the rollups do not change.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 08:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ingest.numbers import storage_key
from ingest.store import rollups

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    op.add_column("sends", sa.Column("number", sa.String(length=32), nullable=True))
    op.add_column("reports", sa.Column("number", sa.String(length=32), nullable=True))
    rollups.drop_triggers(bind)
    for table in ("sends", "reports"):
        _backfill(bind, table)
    rollups.install_triggers(bind)
    op.create_index("ix_sends_number_sent_at", "sends", ["number", "sent_at"])
    op.create_index(op.f("ix_reports_number"), "reports", ["number"])


def _backfill(bind, table: str) -> None:
    """One UPDATE per distinct mobile: a number is written a few ways, sent to many times."""
    mobiles = [row[0] for row in bind.execute(sa.text(f"SELECT DISTINCT mobile FROM {table}"))]
    statement = sa.text(f"UPDATE {table} SET number = :number WHERE mobile = :mobile")
    for start in range(0, len(mobiles), 1000):
        chunk = mobiles[start : start + 1000]
        bind.execute(statement, [{"number": storage_key(m), "mobile": m} for m in chunk])


def downgrade() -> None:
    op.drop_index(op.f("ix_reports_number"), table_name="reports")
    op.drop_index("ix_sends_number_sent_at", table_name="sends")
    # SQLite's batch mode rebuilds a table (create a copy, drop, rename), and the rename re-checks
    # every trigger: the sends triggers read reports, so all of them must be gone before either
    # table is rebuilt, not only those on the table being rebuilt.
    bind = op.get_bind()
    rollups.drop_triggers(bind)
    with op.batch_alter_table("reports") as batch:
        batch.drop_column("number")
    with op.batch_alter_table("sends") as batch:
        batch.drop_column("number")
    rollups.install_triggers(bind)
