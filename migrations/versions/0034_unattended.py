"""unattended cases: when the caller has been waiting for staff, and an index to find them

Revision ID: 0034_unattended
Revises: 0033_reply_templates

``cases.awaiting_staff_since`` is the moment of the caller's first contact after the last
staff action on the case (null: nothing from the caller is waiting). The intake sets it,
every staff action clears it (``hotline/cases/actions.py``). A case assigned to someone
off duty, deactivated or away, with this set, is *unattended* (``hotline/cases/access.py``):
``ix_cases_unattended`` holds exactly the assigned cases with a caller waiting, a few rows
among a million, in queue order, so the unattended view and the visibility rule read
them without touching the rest.

The backfill stamps open cases whose latest caller contact came after the latest entry
by staff, with the first such contact.
"""
import sqlalchemy as sa
from alembic import op

revision = "0034_unattended"
down_revision = "0033_reply_templates"
branch_labels = None
depends_on = None

WAITING = sa.text("awaiting_staff_since IS NOT NULL AND assigned_to_id IS NOT NULL")
# The caller's kinds (hotline.cases.timeline.CALLER_KINDS at the time of this migration).
BACKFILL = """
UPDATE cases SET awaiting_staff_since = (
    SELECT min(i.created_at) FROM interactions i
    WHERE i.case_id = cases.id AND i.author_id IS NULL
      AND i.kind IN ('message_in', 'call', 'voicemail')
      AND i.id > COALESCE((SELECT max(s.id) FROM interactions s
                           WHERE s.case_id = cases.id AND s.author_id IS NOT NULL), 0))
WHERE status <> 'closed'
"""


def upgrade():
    op.add_column("cases", sa.Column("awaiting_staff_since", sa.DateTime(timezone=True),
                                     nullable=True))
    op.execute(BACKFILL)
    op.create_index("ix_cases_unattended", "cases",
                    ["assigned_to_id", "queue_rank", "created_at", "id"],
                    postgresql_where=WAITING, sqlite_where=WAITING)


def downgrade():
    op.drop_index("ix_cases_unattended", table_name="cases")
    # Not a batch: SQLite's table copy cannot insert into the generated queue_rank.
    op.drop_column("cases", "awaiting_staff_since")
