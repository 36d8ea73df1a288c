"""user time zone: the zone a staff member reads and types times in

Revision ID: 0031_user_timezone
Revises: 0030_web_contact_section

An IANA zone name (``Asia/Seoul``); null follows the ``HOTLINE_TIMEZONE`` default
(``hotline/staff_time.py``). Stored times stay UTC.
"""
import sqlalchemy as sa
from alembic import op

revision = "0031_user_timezone"
down_revision = "0030_web_contact_section"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("timezone", sa.String(length=64), nullable=True))


def downgrade():
    with op.batch_alter_table("users") as batch:
        batch.drop_column("timezone")
