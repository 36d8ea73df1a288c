"""dashboard: the generated queue rank and the indexes the queue reads through

Revision ID: 0015_dashboard
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = "0015_dashboard"
down_revision = "0006_reports"
branch_labels = None
depends_on = None

# Same text as hotline.cases.ordering.QUEUE_RANK_SQL at the time of this migration.
QUEUE_RANK_SQL = (
    "(CASE status WHEN 'new' THEN 0 WHEN 'closed' THEN 6 ELSE 3 END)"
    " + (CASE urgency WHEN 'immediate' THEN 0 WHEN 'high' THEN 1 ELSE 2 END)"
)


def upgrade():
    # A generated column can be added in place on both databases (SQLite: VIRTUAL,
    # PostgreSQL: STORED); no table copy, so the upgrade is quick on a big table.
    op.add_column("cases", sa.Column("queue_rank", sa.Integer(),
                                     sa.Computed(QUEUE_RANK_SQL), nullable=True))
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.create_index("ix_cases_queue", ["queue_rank", "created_at", "id"],
                              unique=False)
        batch_op.create_index("ix_cases_assignee_queue",
                              ["assigned_to_id", "queue_rank", "created_at", "id"],
                              unique=False)
        # The callback queue reads only open cases with a callback pending.
        batch_op.create_index("ix_cases_callback_queue",
                              ["callback_needed", "queue_rank", "created_at", "id"],
                              unique=False)


def downgrade():
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_index("ix_cases_callback_queue")
        batch_op.drop_index("ix_cases_assignee_queue")
        batch_op.drop_index("ix_cases_queue")
    # In place on both databases (SQLite 3.35+ drops an unindexed generated column); a
    # batch table copy would trip over the foreign keys pointing at cases.
    op.drop_column("cases", "queue_rank")
