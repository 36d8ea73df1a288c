"""Web submission ids stored only as keyed hashes (security review, finding 1).

Until now ``interactions.external_id`` held the web form's hidden submission id in
clear, and the API returned it. New web interactions store ``submission_key`` (an
HMAC under ``HOTLINE_INDEX_KEY`` scoped to the browser session or the signed-in case).
This migration replaces every clear web id already stored by an HMAC under the same key
in a ``legacy`` scope, so no stored or once-exposed id can match anything again (a double
submission in flight during the upgrade becomes two messages, which staff can see).
No schema change. Downgrade keeps the hashes: the clear ids cannot be recovered.

Revision ID: 0017_web_submission_keys
Revises: 0016_open_queue
"""

import hashlib
import hmac
import re

import sqlalchemy as sa
from alembic import op
from flask import current_app

revision = "0017_web_submission_keys"
down_revision = "0016_open_queue"
branch_labels = None
depends_on = None

BATCH = 1000
_HASHED = re.compile(r"^[0-9a-f]{64}$")


def _legacy_key(index_key: bytes, clear: str) -> str:
    return hmac.new(index_key, f"web-submission|legacy|{clear}".encode(), hashlib.sha256
                    ).hexdigest()


def upgrade():
    index_key = str(current_app.config["HOTLINE_INDEX_KEY"]).encode()
    conn = op.get_bind()
    interactions = sa.table("interactions", sa.column("id", sa.Integer),
                            sa.column("channel", sa.String), sa.column("external_id", sa.String))
    last = 0
    while True:
        rows = conn.execute(
            sa.select(interactions.c.id, interactions.c.external_id)
            .where(interactions.c.channel == "web", interactions.c.external_id.is_not(None),
                   interactions.c.id > last)
            .order_by(interactions.c.id).limit(BATCH)
        ).all()
        if not rows:
            break
        for row in rows:
            if not _HASHED.match(row.external_id):
                conn.execute(interactions.update().where(interactions.c.id == row.id)
                             .values(external_id=_legacy_key(index_key, row.external_id)))
        last = rows[-1].id


def downgrade():
    pass
