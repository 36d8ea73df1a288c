"""One-time passwords expire and are never accepted as the new password (review finding 14).

One-time passwords already issued expire ``ONE_TIME_PASSWORD_HOURS`` after the upgrade.

Revision ID: 0019_one_time_passwords
Revises: 0018_server_sessions
"""

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

revision = "0019_one_time_passwords"
down_revision = "0018_server_sessions"
branch_labels = None
depends_on = None
ONE_TIME_PASSWORD_HOURS = 72  # as hotline.auth.accounts, frozen here


def upgrade():
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("password_expires_at", sa.DateTime(timezone=True),
                                      nullable=True))
        batch_op.add_column(sa.Column("one_time_hashes", sa.JSON(), nullable=True))
    users = sa.table("users", sa.column("must_change_password", sa.Boolean),
                     sa.column("password_expires_at", sa.DateTime(timezone=True)))
    expires = datetime.now(UTC) + timedelta(hours=ONE_TIME_PASSWORD_HOURS)
    op.get_bind().execute(users.update().where(users.c.must_change_password.is_(True))
                          .values(password_expires_at=expires))


def downgrade():
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("one_time_hashes")
        batch_op.drop_column("password_expires_at")
