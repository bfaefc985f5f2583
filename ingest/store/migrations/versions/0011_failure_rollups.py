"""failure_hours, failure_days: failed calls and refused sends per hour and China day × stage ×
reason × code × carrier × province × source, kept by triggers on sends and reports, for the
Failures page (its queries took 1.3 s each over 24 h and 6-7 s over 30 days at 10 M reports on
PostgreSQL); filled once from the stored rows.

Also narrows 0010's partial index of failed reports to their sids: it held error_msg too, and
an error_msg from outside may be 4,096 characters, more than a PostgreSQL index entry holds,
so storing such a failed report failed.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 21:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ingest.store import failure_rollup

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

FAILED = sa.text("status = 'FAIL'")


def upgrade() -> None:
    for table in failure_rollup.TABLES.values():  # hours first: the days' table says both exist
        op.create_table(
            table,
            sa.Column("at", sa.DateTime(), nullable=False),
            sa.Column("stage", sa.String(length=8), nullable=False),
            sa.Column("reason", sa.String(length=failure_rollup.REASON_CHARS), nullable=False),
            sa.Column("code", sa.Integer(), autoincrement=False, nullable=False),
            sa.Column("carrier", sa.String(length=32), nullable=False),
            sa.Column("province", sa.String(length=64), nullable=False),
            sa.Column("source", sa.String(length=16), nullable=False),
            sa.Column("failures", sa.BigInteger(), nullable=False),
            sa.PrimaryKeyConstraint("at", *failure_rollup.KEYS, name=op.f(f"pk_{table}")),
            sqlite_with_rowid=False,
        )
    bind = op.get_bind()
    failure_rollup.install_triggers(bind)
    failure_rollup.refill(bind)
    if bind.dialect.name == "postgresql":
        op.drop_index("ix_reports_failed", table_name="reports")
        op.create_index("ix_reports_failed", "reports", ["sid"], postgresql_where=FAILED)


def downgrade() -> None:
    # The narrowed index stays: 0010's could not be rebuilt over a long stored error_msg.
    bind = op.get_bind()
    failure_rollup.drop_triggers(bind)
    for table in reversed(failure_rollup.TABLES.values()):
        op.drop_table(table)
