"""The signed-in session: starting it fresh, ending it, idle timeout and absolute lifetime.

Flask keeps the session in a signed cookie, so "regenerating" the session means clearing
every key before signing in: nothing a visitor (or an attacker who planted a cookie) had
in the session survives the login. The cookie alone cannot be taken back, so a signed-in
session is also a row on the server (``hotline/auth/server_sessions.py``), named by the
token in ``SERVER_SESSION_KEY``: signing out deletes the row and a copied cookie is then
worthless. Idle timeout and absolute lifetime are checked on both the cookie's stamps
and the row's.

Keys: Flask-Login's ``_user_id`` / ``_fresh``, ``MFA_SESSION_KEY`` (both factors
passed), ``AUTH_AT_KEY`` (when the sign-in completed) and ``SEEN_AT_KEY`` (the last
request), both as integer UNIX seconds. A half-finished sign-in keeps only
``PENDING_KEY`` / ``PENDING_AT_KEY`` (the user that passed the password step).
"""

from __future__ import annotations

from datetime import timedelta

from flask import Flask, current_app, flash, g, request, session
from flask_babel import gettext as _
from flask_login import login_user, logout_user

from hotline.auth import server_sessions
from hotline.auth.clock import now
from hotline.auth.guards import MFA_SESSION_KEY
from hotline.extensions import db
from hotline.i18n import N_
from hotline.models import User

AUTH_AT_KEY = "auth_at"
SEEN_AT_KEY = "seen_at"
PENDING_KEY = "pending_user"
PENDING_AT_KEY = "pending_at"
PENDING_MFA_KEY = "pending_mfa_ok"
NEXT_KEY = "auth_next"
SERVER_SESSION_KEY = "sid"
# A password step not followed by the second factor within this time must start over.
PENDING_MINUTES = 10

EXPIRED_MESSAGE = N_("Your session expired. Please sign in again.")
# Requests carrying this header (a page refreshing itself) do not count as activity,
# so a dashboard left open still times out when nobody uses it.
BACKGROUND_HEADER = "X-Hotline-Background"


def _timestamp() -> int:
    return int(now().timestamp())


def reset_session() -> None:
    """Empty the session, including the CSRF token cached for this request."""
    session.clear()
    g.pop("csrf_token", None)


def start_pending(user: User, next_url: str | None) -> None:
    """After the password step: a fresh session that remembers only who is signing in."""
    reset_session()
    session[PENDING_KEY] = user.get_id()
    session[PENDING_AT_KEY] = _timestamp()
    if next_url:
        session[NEXT_KEY] = next_url


def pending_user() -> User | None:
    """The user part-way through signing in, if the attempt is recent and still valid."""
    identity = session.get(PENDING_KEY)
    started = session.get(PENDING_AT_KEY)
    if not identity or not isinstance(started, int):
        return None
    if _timestamp() - started > PENDING_MINUTES * 60:
        return None
    user_id, _, token = str(identity).partition(":")
    user = db.session.get(User, int(user_id)) if user_id.isdigit() else None
    if user is None or not user.active or user.session_token != token:
        return None
    return user


def _idle() -> timedelta:
    return timedelta(minutes=current_app.config["SESSION_IDLE_MINUTES"])


def _lifetime() -> timedelta:
    return timedelta(hours=current_app.config["SESSION_MAX_HOURS"])


def start_session(user: User) -> str | None:
    """Sign ``user`` in on a brand-new session; returns the remembered ``next`` path.

    Records the session on the server (the caller commits).
    """
    next_url = session.get(NEXT_KEY)
    reset_session()
    login_user(user)
    at = now()
    server_sessions.forget_stale(at - max(_idle(), timedelta(hours=1)))
    session[SERVER_SESSION_KEY] = server_sessions.open_session(
        server_sessions.STAFF, at, user_id=user.id)
    session[MFA_SESSION_KEY] = True
    stamp = int(at.timestamp())
    session[AUTH_AT_KEY] = stamp
    session[SEEN_AT_KEY] = stamp
    session.permanent = False
    return next_url


def end_session() -> None:
    """Sign out of this browser: its server record goes too (commits)."""
    server_sessions.revoke(session.get(SERVER_SESSION_KEY))
    db.session.commit()
    logout_user()
    reset_session()


def _server_session_ok(background: bool) -> bool:
    """True when the cookie's server record is live and belongs to the cookie's user."""
    user_id = str(session.get("_user_id", "")).partition(":")[0]
    row = server_sessions.check(session.get(SERVER_SESSION_KEY), server_sessions.STAFF,
                                now(), idle=_idle(), lifetime=_lifetime(),
                                touch=not background)
    ok = row is not None and str(row.user_id) == user_id
    db.session.commit()
    return ok


def expired_reason() -> str | None:
    """Why the signed-in session in the cookie is no longer valid, or None."""
    stamp = _timestamp()
    auth_at = session.get(AUTH_AT_KEY)
    seen_at = session.get(SEEN_AT_KEY)
    if not isinstance(auth_at, int) or not isinstance(seen_at, int):
        return "missing timestamps"
    if stamp - auth_at > _lifetime().total_seconds():
        return "absolute lifetime"
    if stamp - seen_at > _idle().total_seconds():
        return "idle timeout"
    return None


def enforce_lifetime() -> None:
    """before_request: end an expired signed-in session, else note this request's time.

    The staff guard then finds nobody signed in and sends the browser to the login page,
    where the flashed message explains why.
    """
    if "_user_id" not in session:
        return
    background = request.headers.get(BACKGROUND_HEADER) == "1"
    if expired_reason() is not None or not _server_session_ok(background):
        end_session()
        flash(_(EXPIRED_MESSAGE), "error")
        return
    if not background:
        session[SEEN_AT_KEY] = _timestamp()


def register(app: Flask) -> None:
    """Install the lifetime check on ``app``."""
    app.before_request(enforce_lifetime)
