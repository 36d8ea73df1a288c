"""The audit chain becomes keyed: HMAC-SHA256 under HOTLINE_AUDIT_KEY (review finding 9).

The rows written so far were chained with plain SHA-256. This migration first verifies that
old chain, then rewrites every row's ``prev_hash`` / ``hash`` as the keyed chain, appends one
``audit.rechained`` event saying how many rows it rewrote and whether the old chain was
intact (and where it first broke, if not: the evidence stays in the new chain), and writes
the head to the witness file (``HOTLINE_AUDIT_WITNESS``). An empty log is left empty.
Downgrade re-chains with plain SHA-256 (the ``audit.rechained`` row stays).

Revision ID: 0024_audit_hmac_chain
Revises: 0023_drop_settings
"""

import hashlib
import hmac
import json
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from alembic import op
from flask import current_app

revision = "0024_audit_hmac_chain"
down_revision = "0023_drop_settings"
branch_labels = None
depends_on = None

GENESIS = "0" * 64
AUDIT = sa.table(
    "audit_events", sa.column("id", sa.Integer), sa.column("created_at", sa.DateTime(True)),
    sa.column("actor_id", sa.Integer), sa.column("actor_label", sa.String),
    sa.column("action", sa.String), sa.column("case_id", sa.Integer),
    sa.column("detail", sa.JSON), sa.column("prev_hash", sa.String), sa.column("hash", sa.String))


def _aware(value):
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _payload(created_at, actor, action, case_id, detail) -> str:
    return json.dumps({"at": _aware(created_at).isoformat(timespec="microseconds"),
                       "actor": actor, "action": action, "case": case_id,
                       "detail": detail or {}},
                      sort_keys=True, ensure_ascii=True, separators=(",", ":"))


def _sha(prev: str, payload: str) -> str:
    return hashlib.sha256((prev + payload).encode()).hexdigest()


def _hmac(key: bytes):
    return lambda prev, payload: hmac.new(key, (prev + payload).encode(),
                                          hashlib.sha256).hexdigest()


def _rewrite(conn, old, new) -> tuple[int, int | None, int | None, str]:
    """Re-chain every row with ``new``; returns (rows, first break under ``old``, last id,
    last hash)."""
    rows = conn.execute(sa.select(AUDIT).order_by(AUDIT.c.id)).all()
    old_prev = new_prev = GENESIS
    broken = None
    for row in rows:
        payload = _payload(row.created_at, row.actor_label, row.action, row.case_id,
                           row.detail)
        if broken is None and (row.prev_hash != old_prev or row.hash != old(old_prev, payload)):
            broken = row.id
        old_prev = row.hash
        new_hash = new(new_prev, payload)
        conn.execute(AUDIT.update().where(AUDIT.c.id == row.id)
                     .values(prev_hash=new_prev, hash=new_hash))
        new_prev = new_hash
    return len(rows), broken, rows[-1].id if rows else None, new_prev


def upgrade():
    conn = op.get_bind()
    key = str(current_app.config["HOTLINE_AUDIT_KEY"]).encode()
    keyed = _hmac(key)
    count, broken, _last_id, head = _rewrite(conn, _sha, keyed)
    if not count:
        return
    now = datetime.now(UTC)
    detail = {"rows": count, "from": "sha256", "legacy_chain": "intact" if broken is None
              else f"broken at event {broken}"}
    payload = _payload(now, "migration", "audit.rechained", None, detail)
    new_hash = keyed(head, payload)
    conn.execute(AUDIT.insert().values(created_at=now, actor_id=None, actor_label="migration",
                                       action="audit.rechained", case_id=None, detail=detail,
                                       prev_hash=head, hash=new_hash))
    new_id = conn.execute(sa.select(sa.func.max(AUDIT.c.id))).scalar_one()
    from hotline.audit import write_witness

    write_witness(Path(current_app.config.get("HOTLINE_AUDIT_WITNESS")
                       or Path(current_app.instance_path) / "audit-witness"),
                  new_id, new_hash, force=True)


def downgrade():
    conn = op.get_bind()
    key = str(current_app.config["HOTLINE_AUDIT_KEY"]).encode()
    _rewrite(conn, _hmac(key), _sha)
