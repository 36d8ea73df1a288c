"""Sign-in checks: password, per-account throttling and the second factor.

Every failure raises ``SignInFailed`` with one generic message, so the page never
reveals whether an email exists, whether the account is locked or which factor was
wrong. Callers commit the session after each call (failures must be stored too).
"""

from __future__ import annotations

from datetime import timedelta

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import func, select, update

from hotline import audit
from hotline.auth import totp
from hotline.auth.clock import now
from hotline.auth.passwords import (
    MAX_PASSWORD_LENGTH,
    hash_password,
    needs_rehash,
    verify_password,
)
from hotline.extensions import db
from hotline.i18n import N_
from hotline.models import User

# Wrong passwords or codes in a row before the account locks, and for how long.
MAX_FAILED_LOGINS = 5
LOCKOUT_MINUTES = 15

GENERIC_FAILURE = N_("Sign-in failed. Check your email address and password; after several "
                   "failures the account is locked for a while.")
GENERIC_CODE_FAILURE = N_("That code was not accepted. Use the current code from your "
                        "authenticator app; each code works only once.")


class SignInFailed(Exception):
    """A sign-in step failed; ``str(exc)`` is safe to show."""


def address_limit() -> str:
    """The per-address limit on POST /login and the second-factor step (``LOGIN_RATE_LIMIT``)."""
    return current_app.config["LOGIN_RATE_LIMIT"]


def find_user(email: str) -> User | None:
    """The user with this email (case-insensitive), or None."""
    email = (email or "").strip().lower()
    if not email:
        return None
    return db.session.execute(
        select(User).where(func.lower(User.email) == email)
    ).scalar_one_or_none()


def is_locked(user: User) -> bool:
    """True while the account's lockout lasts."""
    return user.locked_until is not None and user.locked_until > now()


def _dummy_hash() -> str:
    # Computed once per app with the app's parameters, so an unknown email costs
    # the same argon2 work as a known one.
    cache = current_app.extensions.setdefault("hotline_auth", {})
    if "dummy_hash" not in cache:
        cache["dummy_hash"] = hash_password("not-a-real-password-just-for-timing")
    return cache["dummy_hash"]


def register_failure(user: User, step: str) -> bool:
    """Count a failed password or code; lock the account at ``MAX_FAILED_LOGINS``.

    The count is one atomic ``UPDATE … SET failed_logins = failed_logins + 1 RETURNING``,
    and the lock a second UPDATE conditional on the count, so parallel failures each count
    (a read-modify-write lost them: 8 parallel wrong passwords left 2 and no lock) and
    exactly one of them locks. Returns True when this failure locked the account.
    """
    failures = db.session.execute(
        update(User).where(User.id == user.id)
        .values(failed_logins=func.coalesce(User.failed_logins, 0) + 1)
        .returning(User.failed_logins), execution_options={"synchronize_session": False}
    ).scalar_one()
    audit.record("auth.login_failed", actor=user, detail={"step": step, "failures": failures})
    locked = db.session.execute(
        update(User).where(User.id == user.id, User.failed_logins >= MAX_FAILED_LOGINS)
        .values(failed_logins=0, locked_until=now() + timedelta(minutes=LOCKOUT_MINUTES))
        .returning(User.id), execution_options={"synchronize_session": False}
    ).scalar_one_or_none() is not None
    db.session.refresh(user, ["failed_logins", "locked_until"])
    if locked:
        audit.record("auth.lockout", actor=user, detail={"minutes": LOCKOUT_MINUTES})
    return locked


def check_password(email: str, password: str) -> User:
    """The user whose email and password match; raises SignInFailed otherwise.

    A matching password made with old argon2 parameters is re-hashed on the spot.
    """
    user = find_user(email)
    if user is None or len(password) > MAX_PASSWORD_LENGTH:
        verify_password(_dummy_hash(), password[:MAX_PASSWORD_LENGTH])
        audit.record("auth.login_failed", actor_label="anonymous",
                     detail={"step": "password", "reason": "unknown account"})
        raise SignInFailed(_(GENERIC_FAILURE))
    if not user.active or is_locked(user):
        verify_password(_dummy_hash(), password)
        reason = "inactive" if not user.active else "locked"
        audit.record("auth.login_failed", actor=user, detail={"step": "password",
                                                              "reason": reason})
        raise SignInFailed(_(GENERIC_FAILURE))
    if not verify_password(user.password_hash, password):
        register_failure(user, "password")
        raise SignInFailed(_(GENERIC_FAILURE))
    if one_time_password_expired(user):
        audit.record("auth.login_failed", actor=user, detail={
            "step": "password", "reason": "one-time password expired"})
        raise SignInFailed(_(GENERIC_FAILURE))
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
        audit.record("auth.password_rehashed", actor=user)
    return user


def one_time_password_expired(user: User) -> bool:
    """True when ``user`` holds a one-time password past its expiry (an admin issues another)."""
    return bool(user.must_change_password and user.password_expires_at is not None
                and user.password_expires_at <= now())


def check_code(user: User, code: str) -> None:
    """Accept the TOTP ``code`` for ``user`` or raise SignInFailed (counted as a failure)."""
    if not user.active or is_locked(user):
        raise SignInFailed(_(GENERIC_CODE_FAILURE))
    if not totp.accept_code(user, code, now()):
        register_failure(user, "totp")
        raise SignInFailed(_(GENERIC_CODE_FAILURE))


def signed_in(user: User) -> None:
    """Bookkeeping after both factors passed: reset the counters, stamp the time."""
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now()
    audit.record("auth.login", actor=user)
