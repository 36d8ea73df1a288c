"""Account changes made by a user or an admin: every one audited, sessions ended as needed.

Functions raise ``AccountError`` (message safe to show) and leave committing to the
caller, so a view commits the change and its audit event together.
"""

from __future__ import annotations

from datetime import timedelta

from flask_babel import gettext as _
from sqlalchemy import func, select

from hotline import audit
from hotline.auth import server_sessions
from hotline.auth.clock import now
from hotline.auth.passwords import (
    MAX_PASSWORD_LENGTH,
    MIN_PASSWORD_LENGTH,
    generate_password,
    hash_password,
    new_session_token,
    verify_password,
)
from hotline.cases.vocabularies import LANGUAGES, ROLES
from hotline.crypto import AddressError, normalise_address
from hotline.extensions import db
from hotline.models import User

# A one-time password set by an admin (or the CLI) stops working after this long; and
# none ever issued to the account is accepted as its new password (an admin has seen it).
ONE_TIME_PASSWORD_HOURS = 72
# How many one-time password hashes are kept to refuse as a new password.
ONE_TIME_HISTORY = 3


class AccountError(ValueError):
    """An account change was refused; ``str(exc)`` is safe to show."""


def check_new_password(password: str, *, current_hash: str | None = None,
                       retired: list[str] | None = None) -> None:
    """Refuse passwords that are too short, too long, equal to the current one or to any
    one-time password the account was given (``retired`` hashes)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(_("The password must have at least %(count)s characters.",
                             count=MIN_PASSWORD_LENGTH))
    if len(password) > MAX_PASSWORD_LENGTH:
        raise AccountError(_("The password may have at most %(count)s characters.",
                             count=MAX_PASSWORD_LENGTH))
    if current_hash and verify_password(current_hash, password):
        raise AccountError(_("Choose a password different from the current one."))
    if any(verify_password(old, password) for old in retired or []):
        raise AccountError(_("Choose a password of your own, not a one-time password "
                             "you were given."))


def _issue_one_time(user: User, password: str) -> None:
    """Make ``password`` the account's one-time password: expiring, remembered as used."""
    hashed = hash_password(password)
    user.password_hash = hashed
    user.must_change_password = True
    user.password_expires_at = now() + timedelta(hours=ONE_TIME_PASSWORD_HOURS)
    user.one_time_hashes = [hashed, *(user.one_time_hashes or [])][:ONE_TIME_HISTORY]


def end_all_sessions(user: User) -> None:
    """Every session of ``user`` stops working at once: token rotated, server records gone."""
    user.session_token = new_session_token()
    server_sessions.revoke_user(user.id)


def create_account(email: str, display_name: str, role: str, *, actor: User | None = None,
                   actor_label: str | None = None, password: str | None = None
                   ) -> tuple[User, str]:
    """Create a user; the admin pages and the CLI both come through here.

    Without ``password`` a one-time password is generated (returned, to show once) and
    must be changed at first sign-in; a given password is checked like a chosen one.
    """
    email = email.strip().lower()
    if role not in ROLES:
        raise AccountError(_("The role must be one of %(roles)s.", roles=", ".join(ROLES)))
    exists = db.session.execute(
        select(User.id).where(func.lower(User.email) == email)
    ).first()
    if exists:
        raise AccountError(_("An account with this email address exists already."))
    one_time = password is None
    if password is None:
        password = generate_password()
    else:
        check_new_password(password)
    user = User(email=email, display_name=display_name.strip() or email.split("@")[0],
                role=role, password_hash=hash_password(password),
                session_token=new_session_token(), must_change_password=one_time)
    if one_time:
        _issue_one_time(user, password)
    db.session.add(user)
    db.session.flush()
    audit.record("admin.user_create", actor=actor, actor_label=actor_label,
                 detail={"user_id": user.id, "role": role})
    return user, password


def change_password(user: User, new_password: str, *, actor: User, forced: bool = False) -> None:
    """Set a new password chosen by the user; ends every other session of theirs."""
    check_new_password(new_password, current_hash=user.password_hash,
                       retired=user.one_time_hashes)
    user.password_hash = hash_password(new_password)
    user.must_change_password = False
    user.password_expires_at = None
    user.failed_logins = 0
    end_all_sessions(user)
    audit.record("auth.password_changed", actor=actor,
                 detail={"user_id": user.id, "forced": forced})


def _active_admins() -> int:
    return db.session.execute(
        select(func.count()).select_from(User).where(User.role == "admin", User.active)
    ).scalar_one()


def _guard_last_admin(user: User) -> None:
    if user.role == "admin" and user.active and _active_admins() <= 1:
        raise AccountError(_("This is the last active admin; make another admin first."))


def set_role(user: User, role: str, *, actor: User) -> None:
    """Change the role of ``user``; the last active admin cannot be demoted."""
    if role not in ROLES:
        raise AccountError(_("The role must be one of %(roles)s.", roles=", ".join(ROLES)))
    if role == user.role:
        return
    if role != "admin":
        _guard_last_admin(user)
    old = user.role
    user.role = role
    end_all_sessions(user)
    audit.record("admin.user_role", actor=actor,
                 detail={"user_id": user.id, "from": old, "to": role})


def set_ui_language(user: User, code: str | None, *, actor: User) -> None:
    """Set the language of ``user``'s pages (None or "": the deployment default)."""
    code = code or None
    if code is not None and code not in LANGUAGES:
        raise AccountError(_("The language must be one of %(codes)s.",
                             codes=", ".join(LANGUAGES)))
    if code == user.ui_language:
        return
    old = user.ui_language
    user.ui_language = code
    action = "auth.language_set" if actor.id == user.id else "admin.user_language"
    audit.record(action, actor=actor,
                 detail={"user_id": user.id, "from": old or "default", "to": code or "default"})


def set_active(user: User, active: bool, *, actor: User) -> None:
    """Deactivate (ending every session) or reactivate ``user``."""
    if active == user.active:
        return
    if not active:
        _guard_last_admin(user)
        user.on_duty = False
        end_all_sessions(user)
    else:
        user.failed_logins = 0
        user.locked_until = None
    user.active = active
    audit.record("admin.user_reactivate" if active else "admin.user_deactivate", actor=actor,
                 detail={"user_id": user.id})


def reset_two_factor(user: User, *, actor: User) -> None:
    """Forget the TOTP secret: the user enrols again at the next sign-in."""
    user.totp_secret = None
    user.totp_confirmed = False
    user.totp_last_counter = None
    end_all_sessions(user)
    audit.record("admin.totp_reset", actor=actor, detail={"user_id": user.id})


def reset_password(user: User, *, actor: User) -> str:
    """Give ``user`` a new one-time password (returned, to show once); ends their sessions."""
    password = generate_password()
    _issue_one_time(user, password)
    user.failed_logins = 0
    user.locked_until = None
    end_all_sessions(user)
    audit.record("admin.password_reset", actor=actor, detail={"user_id": user.id})
    return password


def update_roster(user: User, *, phone: str, languages: list[str], on_duty: bool,
                  actor: User) -> None:
    """Set the number the voice line dials, the languages spoken and the on-duty flag."""
    phone = phone.strip()
    if phone:
        try:
            phone = normalise_address("phone", phone)
        except AddressError as exc:
            raise AccountError(_("The phone number must be in international form, "
                                 "e.g. +44 20 7946 0958.")) from exc
    unknown = [code for code in languages if code not in LANGUAGES]
    if unknown:
        raise AccountError(_("Languages must be among %(codes)s.", codes=", ".join(LANGUAGES)))
    if on_duty and not phone:
        raise AccountError(_("Someone on duty needs a phone number the line can dial."))
    if on_duty and not user.active:
        raise AccountError(_("A deactivated account cannot be on duty."))
    ordered = [code for code in LANGUAGES if code in languages]
    changed = {
        "phone_changed": (user.phone or "") != phone,
        "languages": ",".join(ordered),
        "on_duty": on_duty,
    }
    user.phone = phone or None
    user.languages = ",".join(ordered)
    user.on_duty = on_duty
    audit.record("admin.roster_update", actor=actor, detail={"user_id": user.id, **changed})
