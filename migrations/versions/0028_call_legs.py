"""call legs: the phones the line rings in a call-back or for an interpreter

Revision ID: 0028_call_legs
Revises: 0027_timeline

One row per leg (staff, caller, interpreter) of a call through the line, with the
worker's job on it and the leg's Twilio status (``hotline/channels/twilio/calls.py``).
No number is stored: each leg's number is read from the roster or the caller when it
is placed.
"""
import sqlalchemy as sa
from alembic import op

revision = "0028_call_legs"
down_revision = "0027_timeline"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "call_legs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("interaction_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("call_sid", sa.String(length=64), nullable=True),
        sa.Column("job", sa.String(length=16), nullable=True),
        sa.Column("job_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("error", sa.String(length=32), nullable=True),
        sa.Column("error_code", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("duration", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.ForeignKeyConstraint(["interaction_id"], ["interactions.id"]),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("call_sid"),
    )
    op.create_index("ix_call_legs_job", "call_legs", ["job", "job_at"])
    op.create_index("ix_call_legs_case_status", "call_legs", ["case_id", "status"])
    op.create_index("ix_call_legs_interaction", "call_legs", ["interaction_id"])


def downgrade():
    op.drop_index("ix_call_legs_interaction", table_name="call_legs")
    op.drop_index("ix_call_legs_case_status", table_name="call_legs")
    op.drop_index("ix_call_legs_job", table_name="call_legs")
    op.drop_table("call_legs")
