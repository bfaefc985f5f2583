"""Indexes for the Ingest health and Throttling pages (bench rows "7 Page Ingest health" and
"7 Page Throttling"): reports.first_seen, for the reports stored in the last hour, which
without it read every report ever stored; sends (result_code, sent_at), for the throttle
rejections of a range, which read every send of the range (3.7 s for 30 days at 10 M).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 08:40:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_reports_first_seen", "reports", ["first_seen"])
    op.create_index("ix_sends_result_code_sent_at", "sends", ["result_code", "sent_at"])


def downgrade() -> None:
    op.drop_index("ix_sends_result_code_sent_at", table_name="sends")
    op.drop_index("ix_reports_first_seen", table_name="reports")
