"""Throttling's listed numbers without reading their calls (2 s over 30 days at 10 M reports
on PostgreSQL, of which ~0.7 s joining every call to its report and ~0.4 s reading the calls):

- number_days.answered, the sends whose report says SUCCESS, kept by triggers on sends and now
  reports too (filled once from the stored rows), and an index of the rollup by number;
- the sends' index by number and time also holds the code digest, so that a number's distinct
  codes and first and last send are read from the index alone; it replaces the index by number
  and time and the one by number, which it serves as well.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 03:15:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ingest.store import number_rollup

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    number_rollup.drop_triggers(bind)
    # A plain ADD COLUMN: SQLite has it, and a batch copy would lose WITHOUT ROWID.
    op.add_column(
        "number_days", sa.Column("answered", sa.BigInteger(), nullable=False, server_default="0")
    )
    op.create_index("ix_number_days_mobile_at", "number_days", ["mobile", "at"])
    number_rollup.install_triggers(bind)
    number_rollup.refill(bind)
    op.create_index("ix_sends_mobile_sent_at_code", "sends", ["mobile", "sent_at", "code_digest"])
    op.drop_index("ix_sends_mobile_sent_at", table_name="sends")
    op.drop_index("ix_sends_mobile", table_name="sends")


def downgrade() -> None:
    bind = op.get_bind()
    op.create_index("ix_sends_mobile", "sends", ["mobile"])
    op.create_index("ix_sends_mobile_sent_at", "sends", ["mobile", "sent_at"])
    op.drop_index("ix_sends_mobile_sent_at_code", table_name="sends")
    number_rollup.drop_triggers(bind)
    op.drop_index("ix_number_days_mobile_at", table_name="number_days")
    op.drop_column("number_days", "answered")  # SQLite ≥ 3.35 drops a column in place
    number_rollup.install_triggers(bind)
