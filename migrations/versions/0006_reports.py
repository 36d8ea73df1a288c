"""reports: covering indexes for the supervisor report and /api/v1/stats

Revision ID: 0006_reports
Revises: 0001

On PostgreSQL every report query becomes an index-only scan over the cases in the range
(or the open cases) thanks to the INCLUDE columns; SQLite gets the same keys without them.
"""
import sqlalchemy as sa
from alembic import op

revision = "0006_reports"
down_revision = "0001"
branch_labels = None
depends_on = None

OPEN = sa.text("status <> 'closed'")


def upgrade():
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.create_index(
            "ix_cases_created_report", ["created_at", "id"], unique=False,
            postgresql_include=["status", "category", "channel", "language", "affiliation",
                                "urgency", "first_response_at"])
        batch_op.create_index(
            "ix_cases_open_created", ["created_at"], unique=False,
            postgresql_include=["channel", "language", "category", "assigned_to_id",
                                "callback_needed"],
            postgresql_where=OPEN, sqlite_where=OPEN)
        batch_op.create_index(
            "ix_cases_closed_report", ["closed_at"], unique=False,
            postgresql_include=["status", "assigned_to_id", "resolution", "channel", "language",
                                "category"])


def downgrade():
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_index("ix_cases_closed_report")
        batch_op.drop_index("ix_cases_open_created")
        batch_op.drop_index("ix_cases_created_report")
