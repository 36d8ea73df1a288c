"""reply templates: approved replies per language, and users who may send only them

Revision ID: 0033_reply_templates
Revises: 0032_reply_alert

``reply_templates`` holds a name and one encrypted text per language (ko, ru, uk, en);
the starter set is added by ``hotline/cases/reply_templates.py`` (it needs the app's
encryption key, which a migration does not have). ``users.approved_replies_only`` makes
the server refuse any reply that is not a template.
"""
import sqlalchemy as sa
from alembic import op

revision = "0033_reply_templates"
down_revision = "0032_reply_alert"
branch_labels = None
depends_on = None


def upgrade():
    # Idempotent: a database stamped back to an earlier revision may have it already.
    if sa.inspect(op.get_bind()).has_table("reply_templates"):
        return
    op.create_table(
        "reply_templates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("text_ko", sa.Text(), nullable=True),
        sa.Column("text_ru", sa.Text(), nullable=True),
        sa.Column("text_uk", sa.Text(), nullable=True),
        sa.Column("text_en", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["updated_by_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.add_column("users", sa.Column("approved_replies_only", sa.Boolean(), nullable=False,
                                     server_default=sa.false()))


def downgrade():
    op.drop_column("users", "approved_replies_only")
    op.drop_table("reply_templates")
