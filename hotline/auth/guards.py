"""Access checks for staff pages: signed in, second factor passed, role high enough.

A session counts as fully signed in when Flask-Login holds the user *and* the
second factor was passed in this session (``session[MFA_SESSION_KEY]``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flask import abort, redirect, request, session, url_for
from flask_login import current_user

from hotline.cases.vocabularies import role_at_least

MFA_SESSION_KEY = "mfa_ok"


def fully_authenticated() -> bool:
    """True when a user is signed in and passed two-factor in this session."""
    return bool(current_user.is_authenticated and session.get(MFA_SESSION_KEY))


def staff_required(minimum_role: str = "staff") -> Callable:
    """Decorator: sign-in (with 2FA) required, and at least ``minimum_role``.

    Anonymous visitors are sent to the login page; a signed-in user with too low a
    role gets 403.
    """

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not fully_authenticated():
                return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
            if not role_at_least(current_user.role, minimum_role):
                abort(403, description="your role does not allow this page")
            return view(*args, **kwargs)

        return wrapper

    return decorator
