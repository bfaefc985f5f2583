"""guard: the guard's attempts (its shared counters and decisions) and its allow/block lists
with their audit.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "guard_attempts",
        sa.Column("id", _ID, nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("mobile", sa.String(length=32), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("country", sa.String(length=8), nullable=False),
        sa.Column("app", sa.String(length=128), nullable=False),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column("rule", sa.String(length=32), nullable=True),
        sa.Column("mode", sa.String(length=16), nullable=True),
        sa.Column("fired", sa.String(length=256), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_guard_attempts")),
    )
    op.create_index(op.f("ix_guard_attempts_at"), "guard_attempts", ["at"])
    for column in ("mobile", "prefix", "country", "app"):
        op.create_index(f"ix_guard_attempts_{column}_at", "guard_attempts", [column, "at"])
    op.create_table(
        "guard_list_entries",
        sa.Column("id", _ID, nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("value", sa.String(length=32), nullable=False),
        sa.Column("note", sa.String(length=256), nullable=False),
        sa.Column("added_by", sa.String(length=64), nullable=False),
        sa.Column("added_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_guard_list_entries")),
    )
    op.create_index(
        "uq_guard_list_entries_kind_value", "guard_list_entries", ["kind", "value"], unique=True
    )
    op.create_table(
        "guard_list_changes",
        sa.Column("id", _ID, nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("action", sa.String(length=8), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("value", sa.String(length=32), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("via", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_guard_list_changes")),
    )
    op.create_index(op.f("ix_guard_list_changes_at"), "guard_list_changes", ["at"])


def downgrade() -> None:
    op.drop_table("guard_list_changes")
    op.drop_table("guard_list_entries")
    op.drop_table("guard_attempts")
