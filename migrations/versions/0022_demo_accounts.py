"""demo accounts: users.demo marks the made-up staff that ``demo seed`` creates

Revision ID: 0022_demo_accounts
Revises: 0021_auto_reply_timing

The admin user list shows them as "demo", and they cannot sign in unless the seed was
asked for logins. Accounts seeded before this migration (emails at
``demo.hotline.invalid``, the seed's reserved domain) are marked too.
"""
import sqlalchemy as sa
from alembic import op

revision = "0022_demo_accounts"
down_revision = "0021_auto_reply_timing"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("demo", sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
    op.execute(sa.text("UPDATE users SET demo = TRUE WHERE email LIKE '%@demo.hotline.invalid'"))


def downgrade():
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("demo")
