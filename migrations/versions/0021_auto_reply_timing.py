"""Auto-replies decided by the caller's own timing, never by its cases (review finding 10).

Adds ``callers.last_auto_reply_at``. Callers known before the upgrade have none, so each
gets one auto-reply on its next message.

Revision ID: 0021_auto_reply_timing
Revises: 0020_throttle_counters
"""

import sqlalchemy as sa
from alembic import op

revision = "0021_auto_reply_timing"
down_revision = "0020_throttle_counters"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("callers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_auto_reply_at", sa.DateTime(timezone=True),
                                      nullable=True))


def downgrade():
    # Plain ALTER TABLE (SQLite >= 3.35 and PostgreSQL): a batch copy of the table would
    # fail on SQLite while other tables reference its rows.
    op.execute("ALTER TABLE callers DROP COLUMN last_auto_reply_at")
