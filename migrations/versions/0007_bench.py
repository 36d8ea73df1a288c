"""index cases by creation time alone

The statistics (/api/v1/stats, the report page) filter cases by a created_at range
with no other condition; the existing indexes all lead with another column, so at a
million cases every such query was a sequential scan (~1.5 s per stats call).

Revision ID: 0007_bench
Revises: 0001
"""
from alembic import op


revision = "0007_bench"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.create_index("ix_cases_created_at", ["created_at"], unique=False)


def downgrade():
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_index("ix_cases_created_at")
