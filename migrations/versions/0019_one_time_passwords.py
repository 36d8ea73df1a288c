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
    # Plain ALTER TABLE (SQLite >= 3.35 and PostgreSQL): a batch copy of the table would
    # fail on SQLite while other tables reference its rows.
    op.execute("ALTER TABLE users DROP COLUMN one_time_hashes")
    op.execute("ALTER TABLE users DROP COLUMN password_expires_at")
