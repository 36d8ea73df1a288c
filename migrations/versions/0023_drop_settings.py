"""drop the settings table: nothing ever read or wrote it

Revision ID: 0023_drop_settings
Revises: 0022_demo_accounts

Its model said admins edit run-time settings there; no page, command or code did. Every
setting is declared in ``settings.py`` and read from the environment.
"""
import sqlalchemy as sa
from alembic import op

revision = "0023_drop_settings"
down_revision = "0022_demo_accounts"
branch_labels = None
depends_on = None


def upgrade():
    op.drop_table("settings")


def downgrade():
    op.create_table(
        "settings",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.String(length=255), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_settings")),
    )
