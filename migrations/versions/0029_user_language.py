"""user language: the language a staff member's pages are shown in

Revision ID: 0029_user_language
Revises: 0028_call_legs

Null means the deployment's ``STAFF_DEFAULT_LANGUAGE``; a code is one of
``hotline/languages.py``. Distinct from ``languages`` (the languages a person speaks on
the voice roster).
"""
import sqlalchemy as sa
from alembic import op

revision = "0029_user_language"
down_revision = "0028_call_legs"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("ui_language", sa.String(length=8), nullable=True))


def downgrade():
    with op.batch_alter_table("users") as batch:
        batch.drop_column("ui_language")
