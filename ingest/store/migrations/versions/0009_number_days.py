"""number_days: sends per China day × number × carrier × province × source, kept by triggers on
sends, for Throttling's ranking of numbers over long ranges (bench row "7 Page Throttling":
30 days read every send, ~16 s at 10 M reports); filled once from the stored sends.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 16:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ingest.store import number_rollup

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "number_days",
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("mobile", sa.String(length=32), nullable=False),
        sa.Column("carrier", sa.String(length=32), nullable=False),
        sa.Column("province", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("sends", sa.BigInteger(), nullable=False),
        sa.Column("accepted", sa.BigInteger(), nullable=False),
        sa.Column("throttled", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "at", "mobile", "carrier", "province", "source", name=op.f("pk_number_days")
        ),
        sqlite_with_rowid=False,
    )
    bind = op.get_bind()
    number_rollup.install_triggers(bind)
    number_rollup.refill(bind)


def downgrade() -> None:
    number_rollup.drop_triggers(op.get_bind())
    op.drop_table("number_days")
