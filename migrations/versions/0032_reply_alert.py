"""reply alert: a case whose staff reply did not leave says so on the queue

Revision ID: 0032_reply_alert
Revises: 0031_user_timezone

``cases.reply_failed`` is kept by ``hotline/cases/reply_policy.py`` (failed, undelivered,
not sent or unknown with no later reply that left); the queue row and the case page read
it without looking at the timeline.
"""
import sqlalchemy as sa
from alembic import op

revision = "0032_reply_alert"
down_revision = "0031_user_timezone"
branch_labels = None
depends_on = None


def upgrade():
    # Idempotent: a database stamped back to an earlier revision may have it already.
    if "reply_failed" in {c["name"] for c in sa.inspect(op.get_bind()).get_columns("cases")}:
        return
    # A plain ADD COLUMN: a batch copy of ``cases`` on SQLite would drop the report
    # roll-up's triggers and the generated queue rank.
    op.add_column("cases", sa.Column("reply_failed", sa.Boolean(), nullable=False,
                                     server_default=sa.false()))


def downgrade():
    op.drop_column("cases", "reply_failed")
