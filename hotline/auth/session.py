"""Flask-Login wiring: loading the user behind a session.

The session stores ``"<id>:<session_token>"``; rotating a user's token (password
change, "log out everywhere", deactivation) invalidates every session at once.
"""

from __future__ import annotations

import hmac

from flask import Flask

from hotline.extensions import db, login_manager
from hotline.models import User


@login_manager.user_loader
def load_user(identity: str) -> User | None:
    """The active user whose id and session token match, else None."""
    user_id, _, token = identity.partition(":")
    if not user_id.isdigit() or not token:
        return None
    user = db.session.get(User, int(user_id))
    if user is None or not user.active:
        return None
    if not hmac.compare_digest(user.session_token, token):
        return None
    return user


def register(app: Flask) -> None:
    """Configure the login manager for ``app`` and the session lifetime checks.

    The login view is the ``auth`` blueprint's ``auth.login`` (registered in
    ``_register_blueprints`` just before this runs).
    """
    from hotline.auth import lifetime

    login_manager.login_view = "auth.login"
    login_manager.session_protection = "basic"
    lifetime.register(app)
