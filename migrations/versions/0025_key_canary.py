"""The key canary (security review, finding 15): one row encrypted under the first key.

Before storing it, the upgrade checks that the configured keys open the data already
there (one caller address or message body, if any): a wrong key must not become the
canary. Start-up and ``db upgrade`` then refuse keys that cannot open the canary.

Revision ID: 0025_key_canary
Revises: 0024_audit_hmac_chain
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op
from flask import current_app

revision = "0025_key_canary"
down_revision = "0024_audit_hmac_chain"
branch_labels = None
depends_on = None


def _sample(conn):
    for table, column in (("callers", "address"), ("interactions", "body"),
                          ("users", "totp_secret")):
        value = conn.execute(sa.text(
            f"SELECT {column} FROM {table} WHERE {column} IS NOT NULL LIMIT 1")).scalar()  # noqa: S608
        if value:
            return table, value
    return None


def upgrade():
    from hotline.ops.canary import KeyCanaryError, canary_token, opening_key

    op.create_table(
        "key_canary",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    keys = list(current_app.config["HOTLINE_ENCRYPTION_KEYS"])
    conn = op.get_bind()
    found = _sample(conn)
    if found is not None:
        from cryptography.fernet import Fernet, InvalidToken

        table, token = found
        opened = False
        for key in keys:
            try:
                Fernet(key.encode()).decrypt(token.encode())
                opened = True
                break
            except (InvalidToken, ValueError):
                continue
        if not opened:
            raise SystemExit(f"hotline: {KeyCanaryError.__name__}: HOTLINE_ENCRYPTION_KEYS "
                             f"cannot decrypt the data already in {table}; fix the keys "
                             "before upgrading")
    token = canary_token(keys)
    assert opening_key(token, keys) == 0
    canary = sa.table("key_canary", sa.column("value", sa.Text),
                      sa.column("created_at", sa.DateTime(timezone=True)))
    conn.execute(canary.insert().values(value=token, created_at=datetime.now(UTC)))


def downgrade():
    op.drop_table("key_canary")
