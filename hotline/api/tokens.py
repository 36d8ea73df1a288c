"""API bearer tokens: created once, shown once, stored as SHA-256 only.

Tokens carry 256 random bits, so a fast hash is enough (no password stretching).
Roles: ``stats`` (counts and case metadata, no message text) and the user roles.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from sqlalchemy import select

from hotline.cases.vocabularies import ROLES
from hotline.extensions import db
from hotline.models import ApiToken, utcnow

TOKEN_ROLES = ("stats", *ROLES)
TOKEN_PREFIX = "hl_"  # noqa: S105 - a public marker that makes leaked tokens easy to spot
# Record use at most this often, so reads do not become writes on every request.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(name: str, role: str) -> tuple[ApiToken, str]:
    """Add a token (flushed; the caller commits); returns the row and the clear token
    (shown once)."""
    if role not in TOKEN_ROLES:
        raise ValueError(f"role must be one of {', '.join(TOKEN_ROLES)}")
    clear = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(name=name, role=role, token_hash=_digest(clear))
    db.session.add(row)
    db.session.flush()
    return row, clear


def authenticate(header: str) -> ApiToken | None:
    """The live token named by an ``Authorization: Bearer …`` header, else None.

    Its ``last_used_at`` is updated in the session, not committed: the request commits.
    """
    scheme, _, value = header.partition(" ")
    value = value.strip()
    if scheme.lower() != "bearer" or not value or len(value) > 200:
        return None
    digest = _digest(value)
    row = db.session.execute(
        select(ApiToken).where(ApiToken.token_hash == digest)
    ).scalar_one_or_none()
    if row is None or row.revoked_at is not None or not hmac.compare_digest(row.token_hash, digest):
        return None
    now = utcnow()
    if row.last_used_at is None or now - row.last_used_at > LAST_USED_RESOLUTION:
        row.last_used_at = now
    return row
