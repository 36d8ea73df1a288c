"""Server-side session records: what makes a copied cookie worthless after sign-out.

Flask's session is a signed cookie: the server cannot take it back, so before this a
cookie copied from a staff browser kept working after ``POST /logout`` until its absolute
lifetime ran out (security review, finding 2). Now every signed-in staff session and every
web follow-up session also has a row in ``server_sessions``; the cookie carries a random
token whose SHA-256 names the row. A request whose row is gone is signed out. Rows are
deleted on sign-out, on follow-up "leave", when they expire (idle or absolute lifetime,
measured on the server too) and, for all of a user's browsers, on "sign out everywhere",
password change, role change, deactivation and 2FA reset.

``seen_at`` is written at most once per ``TOUCH_SECONDS`` per session, so a busy page
costs one indexed read per request and a write a minute. Functions flush; the request
boundary commits (``hotline/auth/lifetime.py``, ``hotline/intake/web.py``).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update

from hotline.database import rowcount
from hotline.extensions import db
from hotline.models import ServerSession

STAFF = "staff"
FOLLOWUP = "followup"
KINDS = (STAFF, FOLLOWUP)
# Granularity of the server's idle clock (and the most often a session row is written).
TOUCH_SECONDS = 60
TOKEN_BYTES = 32


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def open_session(kind: str, at: datetime, *, user_id: int | None = None,
                 case_id: int | None = None) -> str:
    """Record a new session; returns the token for the cookie (never stored itself)."""
    if kind not in KINDS:
        raise ValueError(f"unknown session kind {kind!r}")
    token = secrets.token_urlsafe(TOKEN_BYTES)
    db.session.add(ServerSession(token_hash=_hash(token), kind=kind, user_id=user_id,
                                 case_id=case_id, created_at=at, seen_at=at))
    db.session.flush()
    return token


def check(token: object, kind: str, at: datetime, *, idle: timedelta, lifetime: timedelta,
          touch: bool = True) -> ServerSession | None:
    """The live session this token names, or None (an expired row is deleted).

    ``touch`` records this request as activity (at most once per ``TOUCH_SECONDS``).
    """
    if not isinstance(token, str) or not token:
        return None
    row = db.session.execute(
        select(ServerSession).where(ServerSession.token_hash == _hash(token))
    ).scalar_one_or_none()
    if row is None or row.kind != kind:
        return None
    if at - row.created_at > lifetime or at - row.seen_at > idle:
        db.session.delete(row)
        db.session.flush()
        return None
    if touch and (at - row.seen_at).total_seconds() >= TOUCH_SECONDS:
        db.session.execute(update(ServerSession).where(ServerSession.id == row.id)
                           .values(seen_at=at))
        row.seen_at = at
    return row


def revoke(token: object) -> None:
    """End the session this token names (no error when it is already gone)."""
    if isinstance(token, str) and token:
        db.session.execute(delete(ServerSession).where(ServerSession.token_hash == _hash(token)))


def revoke_user(user_id: int) -> None:
    """End every session of one user (every browser, every device)."""
    db.session.execute(delete(ServerSession).where(ServerSession.user_id == user_id))


def forget_stale(before: datetime) -> int:
    """Delete rows not seen since ``before`` (cleaned on each new sign-in); the count."""
    result = db.session.execute(delete(ServerSession).where(ServerSession.seen_at < before))
    return rowcount(result)
