"""Access checks for staff pages: signed in, second factor passed, role high enough.

A session counts as fully signed in when Flask-Login holds the user *and* the
second factor was passed in this session (``session[MFA_SESSION_KEY]``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flask import Response, abort, jsonify, redirect, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user

from hotline.cases.vocabularies import role_at_least

MFA_SESSION_KEY = "mfa_ok"


def fully_authenticated() -> bool:
    """True when a user is signed in and passed two-factor in this session."""
    return bool(current_user.is_authenticated and session.get(MFA_SESSION_KEY))


def staff_required(minimum_role: str = "staff") -> Callable:
    """Decorator: sign-in (with 2FA) required, and at least ``minimum_role``.

    Anonymous visitors are sent to the login page; a script asking for JSON (the queue
    poll) gets a JSON 401 instead, so the page can say the session ended rather than
    turn into the sign-in page. A signed-in user with too low a role gets 403.
    """

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not fully_authenticated():
                if wants_json():
                    return signed_out_json()
                return redirect(url_for("auth.login", next=_way_back()))
            if not role_at_least(current_user.role, minimum_role):
                abort(403, description=_("your role does not allow this page"))
            return view(*args, **kwargs)

        return wrapper

    return decorator


def wants_json() -> bool:
    """True when the client asked for JSON before HTML (``Accept``), as queue.js does."""
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json" and "text/html" not in request.accept_mimetypes.values()


def signed_out_json() -> Response:
    """401 naming the sign-in page (the script adds ``next``: the page it runs on)."""
    response = jsonify({"error": "signed_out", "login": url_for("auth.login")})
    response.status_code = 401
    return response


def _way_back() -> str:
    """Where to land after signing in: this page, or for a form sent to a case its page.

    A POST cannot be repeated by a redirect after sign-in, so a case action leads back to
    the case (the browser kept the typed draft, see static/staff.js).
    """
    reference = (request.view_args or {}).get("reference")
    if request.method != "GET" and reference:
        return url_for("dashboard.case_page", reference=reference)
    return request.full_path.rstrip("?")
