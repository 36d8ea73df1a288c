"""Server-side session records (security review, finding 2).

A signed-in staff session and a web follow-up session each get a row, so signing out
deletes it and a copied cookie stops working. Sessions signed in before this migration
have no row and must sign in again once.

Revision ID: 0018_server_sessions
Revises: 0017_web_submission_keys
"""

import sqlalchemy as sa
from alembic import op

revision = "0018_server_sessions"
down_revision = "0017_web_submission_keys"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "server_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    with op.batch_alter_table("server_sessions", schema=None) as batch_op:
        batch_op.create_index("ix_server_sessions_user_id", ["user_id"], unique=False)
        batch_op.create_index("ix_server_sessions_seen_at", ["seen_at"], unique=False)


def downgrade():
    with op.batch_alter_table("server_sessions", schema=None) as batch_op:
        batch_op.drop_index("ix_server_sessions_seen_at")
        batch_op.drop_index("ix_server_sessions_user_id")
    op.drop_table("server_sessions")
