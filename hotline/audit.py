"""The tamper-evident audit log.

Each row stores ``hash = sha256(prev_hash + canonical JSON of its own content)``.
Appends are serialised (an advisory lock on PostgreSQL; SQLite serialises writers
anyway) so the chain never forks. ``verify_chain`` walks it and reports the first
row that does not fit.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, text

from hotline.extensions import db
from hotline.models import AuditEvent, Case, User, utcnow

GENESIS_HASH = "0" * 64
# Any constant works: it names the one advisory lock that serialises audit appends.
_AUDIT_LOCK_ID = 0x484F544C


def _content_hash(prev_hash: str, created_at: datetime, actor_label: str, action: str,
                  case_id: int | None, detail: dict[str, Any]) -> str:
    payload = json.dumps(
        {
            "at": created_at.isoformat(timespec="microseconds"),
            "actor": actor_label,
            "action": action,
            "case": case_id,
            "detail": detail,
        },
        sort_keys=True,
        ensure_ascii=True,
        separators=(",", ":"),
    )
    return hashlib.sha256((prev_hash + payload).encode()).hexdigest()


def actor_label_for(user: User | None, fallback: str = "system") -> str:
    """A stable label for the actor: ``user:<id>:<email>`` or the fallback."""
    if user is None:
        return fallback
    return f"user:{user.id}:{user.email}"


def record(action: str, *, actor: User | None = None, actor_label: str | None = None,
           case: Case | None = None, detail: dict[str, Any] | None = None) -> AuditEvent:
    """Append an audit event in the current transaction (the caller commits)."""
    session = db.session
    # Pending row changes first, so every transaction takes its row locks before the
    # audit lock (one order everywhere: no deadlock between two appenders).
    session.flush()
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _AUDIT_LOCK_ID})
    if case is not None and case.id is None:
        session.flush()
    prev = session.execute(
        select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)
    ).scalar_one_or_none() or GENESIS_HASH
    label = actor_label or actor_label_for(actor)
    created_at = utcnow()
    detail = dict(detail or {})
    case_id = case.id if case is not None else None
    event = AuditEvent(
        created_at=created_at,
        actor_id=actor.id if actor is not None else None,
        actor_label=label,
        action=action,
        case_id=case_id,
        detail=detail,
        prev_hash=prev,
        hash=_content_hash(prev, created_at, label, action, case_id, detail),
    )
    session.add(event)
    session.flush()
    return event


@dataclass
class ChainReport:
    """Outcome of ``verify_chain``."""

    ok: bool
    checked: int
    broken_at: int | None = None
    reason: str = ""


def verify_chain(batch_size: int = 5000) -> ChainReport:
    """Walk the whole audit log in id order and check every link and hash."""
    prev = GENESIS_HASH
    checked = 0
    last_id = 0
    while True:
        rows = db.session.execute(
            select(AuditEvent).where(AuditEvent.id > last_id).order_by(AuditEvent.id)
            .limit(batch_size)
        ).scalars().all()
        if not rows:
            return ChainReport(ok=True, checked=checked)
        for row in rows:
            if row.prev_hash != prev:
                return ChainReport(False, checked, row.id, "link to previous row broken")
            expected = _content_hash(prev, row.created_at, row.actor_label, row.action,
                                     row.case_id, row.detail or {})
            if row.hash != expected:
                return ChainReport(False, checked, row.id, "row content altered")
            prev = row.hash
            checked += 1
            last_id = row.id
        db.session.expunge_all()
