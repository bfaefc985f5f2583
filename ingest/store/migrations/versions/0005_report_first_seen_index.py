"""An index on reports.first_seen: Ingest health counts the reports stored in the last hour
(bench row "7 Page Ingest health"), which without it read every report ever stored.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 08:40:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_reports_first_seen", "reports", ["first_seen"])


def downgrade() -> None:
    op.drop_index("ix_reports_first_seen", table_name="reports")
