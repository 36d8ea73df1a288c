"""timeline: web-form contact details in their own encrypted column; callbacks their own kind

Revision ID: 0027_timeline
Revises: 0026_report_rollup

``cases.contact_details`` holds the contact a web visitor typed (encrypted like every caller
field); it used to be appended to the message body. Existing bodies are left as they are:
they are encrypted, and splitting free text apart again could lose what the caller wrote.

Calls staff logged by hand (``call`` entries with an author) become ``callback`` entries,
the kind the timeline now gives them; inbound calls never have an author.
"""
import sqlalchemy as sa
from alembic import op

revision = "0027_timeline"
down_revision = "0026_report_rollup"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("cases", sa.Column("contact_details", sa.Text(), nullable=True))
    op.execute("UPDATE interactions SET kind = 'callback' "
               "WHERE kind = 'call' AND author_id IS NOT NULL")


def downgrade():
    op.execute("UPDATE interactions SET kind = 'call' WHERE kind = 'callback'")
    # Not a batch: SQLite's table copy cannot insert into the generated queue_rank;
    # SQLite 3.35+ drops a plain column in place.
    op.drop_column("cases", "contact_details")
