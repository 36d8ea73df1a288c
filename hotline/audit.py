"""The tamper-evident audit log: a keyed hash chain with a witness outside the database.

Each row stores ``hash = HMAC-SHA256(HOTLINE_AUDIT_KEY, prev_hash + canonical JSON of its
own content)``. The key is not in the database, so someone who can write to the database
can neither edit a row nor rebuild the chain after an edit (an unkeyed SHA-256 chain, as
before, could be recomputed whole: security review, finding 9). Appends are serialised (an
advisory lock on PostgreSQL, held to the commit; SQLite serialises writers anyway), so two
requests appending at once never fork the chain.

Deleting the newest rows leaves a shorter, still valid chain, so every commit that
appended rows also writes the chain's head, ``{"id", "hash"}``, to the **witness**: a
file outside the database (``HOTLINE_AUDIT_WITNESS``, default ``instance/audit-witness``),
replaced atomically under a file lock and only by a newer head (commits finishing out of
order cannot move it back). ``verify_chain`` walks every row (HMAC and link) and then
checks the witness: a head row that is missing or different means rows were removed at
the end. A chain that runs past the witness (an app killed between commit and witness
write) is reported, not failed: those rows are HMAC-valid, so only the key holder wrote
them.
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import logging
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from flask import current_app
from sqlalchemy import event, func, select, text
from sqlalchemy.orm import Session

from hotline.extensions import db
from hotline.models import AuditEvent, Case, User, utcnow

GENESIS_HASH = "0" * 64
# Any constant works: it names the one advisory lock that serialises audit appends.
_AUDIT_LOCK_ID = 0x484F544C
# Where a session keeps the head it appended until it commits.
_PENDING_HEAD = "hotline_audit_head"
log = logging.getLogger(__name__)


def canonical_payload(created_at: datetime, actor_label: str, action: str,
                      case_id: int | None, detail: dict[str, Any]) -> str:
    """The row content the chain covers, as canonical JSON."""
    return json.dumps(
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


def chain_hash(key: str | bytes, prev_hash: str, payload: str) -> str:
    """HMAC-SHA256 of the previous hash and this row's payload under the audit key."""
    raw = key.encode() if isinstance(key, str) else key
    return hmac.new(raw, (prev_hash + payload).encode(), hashlib.sha256).hexdigest()


def _key() -> str:
    key = current_app.config.get("HOTLINE_AUDIT_KEY")
    if not key:
        raise RuntimeError("HOTLINE_AUDIT_KEY is not set")
    return key


def witness_path() -> Path:
    """The witness file of this app (``HOTLINE_AUDIT_WITNESS``)."""
    configured = current_app.config.get("HOTLINE_AUDIT_WITNESS")
    return Path(configured) if configured else Path(current_app.instance_path) / "audit-witness"


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
    prev = session.execute(
        select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)
    ).scalar_one_or_none() or GENESIS_HASH
    label = actor_label or actor_label_for(actor)
    created_at = utcnow()
    detail = dict(detail or {})
    case_id = case.id if case is not None else None
    event_row = AuditEvent(
        created_at=created_at,
        actor_id=actor.id if actor is not None else None,
        actor_label=label,
        action=action,
        case_id=case_id,
        detail=detail,
        prev_hash=prev,
        hash=chain_hash(_key(), prev,
                        canonical_payload(created_at, label, action, case_id, detail)),
    )
    session.add(event_row)
    session.flush()
    session.info[_PENDING_HEAD] = (event_row.id, event_row.hash, str(witness_path()))
    return event_row


# ---- the witness --------------------------------------------------------------------------

def read_witness(path: Path) -> tuple[int, str] | None:
    """The head recorded in the witness file, or None when there is none (or it is unreadable)."""
    try:
        data = json.loads(path.read_text())
        return int(data["id"]), str(data["hash"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def write_witness(path: Path, head_id: int, head_hash: str, *, force: bool = False) -> None:
    """Record ``(head_id, head_hash)`` unless the witness already holds a newer head.

    Under an exclusive lock on a side file; the new content is written to a temporary
    file, fsync'd and renamed over the witness, so a reader never sees half a file.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    lock_path = path.with_name(path.name + ".lock")
    with open(lock_path, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        current = read_witness(path)
        if current is not None and current[0] >= head_id and not force:
            return
        temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump({"id": head_id, "hash": head_hash}, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)


@event.listens_for(Session, "after_commit")
def _witness_after_commit(session: Session) -> None:
    pending = session.info.pop(_PENDING_HEAD, None)
    if pending is None:
        return
    head_id, head_hash, path = pending
    try:
        write_witness(Path(path), head_id, head_hash)
    except OSError as exc:
        # The rows are committed; failing the request now would only hide that. The
        # witness stays behind, which ``audit verify`` reports; the log says why.
        log.error("audit witness %s not written (%s); `audit verify` will report it",
                  path, type(exc).__name__)


@event.listens_for(Session, "after_rollback")
def _forget_after_rollback(session: Session) -> None:
    session.info.pop(_PENDING_HEAD, None)


# ---- verification ---------------------------------------------------------------------------

@dataclass
class ChainReport:
    """Outcome of ``verify_chain``."""

    ok: bool
    checked: int
    broken_at: int | None = None
    reason: str = ""
    # Rows after the witness's head (HMAC-valid; the witness write after a commit was lost).
    beyond_witness: int = 0


def _rows(batch_size: int):
    last_id = 0
    while True:
        rows = db.session.execute(
            select(AuditEvent).where(AuditEvent.id > last_id).order_by(AuditEvent.id)
            .limit(batch_size)
        ).scalars().all()
        if not rows:
            return
        yield from rows
        last_id = rows[-1].id
        db.session.expunge_all()


def verify_chain(batch_size: int = 5000, key: str | None = None) -> ChainReport:
    """Walk the whole audit log in id order, check every link and HMAC, then the witness."""
    key = key or _key()
    prev = GENESIS_HASH
    checked = 0
    last: tuple[int, str] | None = None
    hashes_by_id: dict[int, str] = {}
    witness = read_witness(witness_path())
    for row in _rows(batch_size):
        if row.prev_hash != prev:
            return ChainReport(False, checked, row.id,
                               "link to the previous row broken (a row removed or reordered)")
        expected = chain_hash(key, prev, canonical_payload(
            row.created_at, row.actor_label, row.action, row.case_id, row.detail or {}))
        if not hmac.compare_digest(row.hash, expected):
            return ChainReport(False, checked, row.id, "row content altered (HMAC mismatch)")
        if witness is not None and row.id == witness[0]:
            hashes_by_id[row.id] = row.hash
        prev = row.hash
        checked += 1
        last = (row.id, row.hash)
    return _check_witness(checked, last, witness, hashes_by_id)


def _check_witness(checked: int, last: tuple[int, str] | None, witness: tuple[int, str] | None,
                   seen: dict[int, str]) -> ChainReport:
    if witness is None:
        if last is None:
            return ChainReport(True, 0)
        return ChainReport(False, checked, None,
                           f"no audit witness at {witness_path()}: cannot tell whether the "
                           "newest rows were removed")
    head_id, head_hash = witness
    if head_id not in seen:
        return ChainReport(False, checked, head_id,
                           f"rows missing at the end: the witness names event {head_id}, "
                           f"the log ends at {last[0] if last else 'nothing'}")
    if not hmac.compare_digest(seen[head_id], head_hash):
        return ChainReport(False, checked, head_id, "the witness's head row differs from the log")
    beyond = 0
    if last is not None and last[0] > head_id:
        beyond = db.session.execute(select(func.count()).select_from(AuditEvent)
                                    .where(AuditEvent.id > head_id)).scalar_one()
    return ChainReport(True, checked, beyond_witness=beyond)


def rechain(old_key: str | None) -> int:
    """Re-compute every row's link and HMAC under the current key (key rotation, or the
    first keyed chain); returns the rows rewritten. With ``old_key`` the chain is first
    verified under it, and a chain that is not intact is refused (the caller commits).
    The rewrite is appended to the chain as ``audit.rechained`` and the witness moves on.
    """
    if old_key is not None:
        report = verify_chain(key=old_key)
        if not report.ok:
            raise ValueError(f"the chain is not intact under the old key: {report.reason} "
                             f"(event {report.broken_at})")
    key = _key()
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _AUDIT_LOCK_ID})
    prev = GENESIS_HASH
    count = 0
    for row in db.session.execute(select(AuditEvent).order_by(AuditEvent.id)).scalars():
        row.prev_hash = prev
        row.hash = prev = chain_hash(key, prev, canonical_payload(
            row.created_at, row.actor_label, row.action, row.case_id, row.detail or {}))
        count += 1
    db.session.flush()
    record("audit.rechained", actor_label="cli", detail={"rows": count})
    return count
