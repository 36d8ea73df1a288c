"""Atomic attempt counters for the follow-up sign-in (security review, finding 8).

Revision ID: 0020_throttle_counters
Revises: 0019_one_time_passwords
"""

import sqlalchemy as sa
from alembic import op

revision = "0020_throttle_counters"
down_revision = "0019_one_time_passwords"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "throttle_counters",
        sa.Column("bucket_key", sa.String(length=64), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("bucket_key"),
    )
    with op.batch_alter_table("throttle_counters", schema=None) as batch_op:
        batch_op.create_index("ix_throttle_counters_window_start", ["window_start"],
                              unique=False)


def downgrade():
    with op.batch_alter_table("throttle_counters", schema=None) as batch_op:
        batch_op.drop_index("ix_throttle_counters_window_start")
    op.drop_table("throttle_counters")
