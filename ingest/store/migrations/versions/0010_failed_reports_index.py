"""A partial index of the failed reports' sids and reasons, for the Failures page (bench row
"7 Page Failures, postgresql, 10,000,000 reports": 6.7 s). Its reason queries join the range's
sends to reports; PostgreSQL chose a hash join over a sequential scan of every report rather
than one index lookup per send, and now reads this index alone (an index-only scan of the
failed ones, about a sixth of the reports) instead of the table. SQLite joins by sid through
the unique index already: it gets no index to keep up on every stored report.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 17:20:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

FAILED = sa.text("status = 'FAIL'")


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.create_index(
            "ix_reports_failed", "reports", ["sid", "error_msg"], postgresql_where=FAILED
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_reports_failed", table_name="reports")
