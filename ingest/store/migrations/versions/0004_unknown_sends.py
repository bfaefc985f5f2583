"""unknown send outcomes: sends.result_code may be NULL (sent, no answer read: the call may
have been placed), and sends.joined_at records when such a send was joined to its report.

SQLite cannot drop a NOT NULL in place: the sends table is rebuilt (batch mode), which drops
its rollup triggers, so every rollup trigger is dropped first and installed again after.
The rollups need no refill: the rebuild copies rows without firing triggers, and a NULL
result_code counts as a send that is neither accepted nor rejected.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 08:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ingest.store import rollups

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    rollups.drop_triggers(bind)
    with op.batch_alter_table("sends") as batch:
        batch.alter_column("result_code", existing_type=sa.Integer(), nullable=True)
        batch.add_column(sa.Column("joined_at", sa.DateTime(), nullable=True))
    rollups.install_triggers(bind)
    # Older versions stored a send that lost its answer as -50 with no HTTP status, like one
    # that never left; their texts tell them apart. Made unknown (with the triggers on, so the
    # rollups stop counting them as rejected), they can still join a report.
    op.execute(
        sa.text(
            f"UPDATE sends SET result_code = NULL WHERE result_code = -50 AND ({_LOST_ANSWER})"
        )
    )


# What older versions wrote for a send that may have left: the relay's detail names the
# transport error in parentheses, the client's message after "unreachable: ", and an
# unreadable answer (not a proxy's 4xx) starts "malformed answer".
_MAY_HAVE_LEFT = ("ReadTimeout", "WriteTimeout", "ReadError", "WriteError", "RemoteProtocolError")
_LOST_ANSWER = " OR ".join(
    [
        *(f"result_detail LIKE '%unreachable ({name})%'" for name in _MAY_HAVE_LEFT),
        *(f"result_msg LIKE '%unreachable: {name}%'" for name in _MAY_HAVE_LEFT),
        "(result_msg LIKE 'malformed answer%' AND NOT (http_status >= 400 AND http_status < 500))",
    ]
)


def downgrade() -> None:
    bind = op.get_bind()
    # An unknown outcome goes back to what older versions stored for it: -50, no answer
    # (while the triggers still move it into the rollups' rejections).
    op.execute("UPDATE sends SET result_code = -50 WHERE result_code IS NULL")
    rollups.drop_triggers(bind)
    with op.batch_alter_table("sends") as batch:
        batch.drop_column("joined_at")
        batch.alter_column("result_code", existing_type=sa.Integer(), nullable=False)
    rollups.install_triggers(bind)
