"""open queue: a small covering index over the open cases; drop the duplicate closed_at index

Revision ID: 0016_open_queue
Revises: 0015_dashboard

The queue's filters (status, channel, language, urgency, category, assignee, callback)
and the count of new cases read only open cases (``queue_rank < 6``), a few percent of
the table. Before this index, a filtered queue page or the new-case count of a staff
member walked every open case through the heap; with every filter column in the key,
PostgreSQL and SQLite answer them from this index alone, in queue order. Partial, so it
stays small and closed cases cost nothing to write.

``ix_cases_closed_at`` (0001) duplicates ``ix_cases_closed_report`` (0006): the same key,
which on PostgreSQL also covers the closure report. PostgreSQL's planner preferred the
narrower one and then read ~15,000 heap rows per report page for the closures of 30
days; without it the closures are an index-only read (and every closing writes one
index less). Retention's ``closed_at < cutoff`` reads ``ix_cases_closed_report`` too.
"""
import sqlalchemy as sa
from alembic import op

revision = "0016_open_queue"
down_revision = "0015_dashboard"
branch_labels = None
depends_on = None

# Same bound as hotline.cases.ordering.CLOSED_RANK_MIN at the time of this migration.
OPEN_RANKS = sa.text("queue_rank < 6")
COLUMNS = ["queue_rank", "created_at", "id", "assigned_to_id", "status", "urgency", "channel",
           "language", "category", "callback_needed"]


def upgrade():
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.create_index("ix_cases_open_queue", COLUMNS, unique=False,
                              postgresql_where=OPEN_RANKS, sqlite_where=OPEN_RANKS)
        batch_op.drop_index("ix_cases_closed_at")


def downgrade():
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.create_index("ix_cases_closed_at", ["closed_at"], unique=False)
        batch_op.drop_index("ix_cases_open_queue")
