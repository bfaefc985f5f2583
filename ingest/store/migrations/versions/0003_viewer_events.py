"""viewer_events: the dashboard's audit log of logins, failed logins, logouts and unmasks.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 08:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "viewer_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("event", sa.String(length=16), nullable=False),
        sa.Column("viewer", sa.String(length=64), nullable=False),
        sa.Column("client", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_viewer_events")),
    )
    op.create_index(op.f("ix_viewer_events_at"), "viewer_events", ["at"])
    op.create_index(op.f("ix_viewer_events_viewer"), "viewer_events", ["viewer"])
    op.create_index(op.f("ix_viewer_events_client"), "viewer_events", ["client"])


def downgrade() -> None:
    op.drop_table("viewer_events")
