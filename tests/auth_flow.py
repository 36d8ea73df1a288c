"""Helpers for the sign-in and admin tests: CSRF tokens from rendered forms, a settable
clock, and the password → code → landing walk through the real pages."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pyotp
from flask.testing import FlaskClient

from tests.conftest import DEFAULT_PASSWORD, csrf_token

# A new password the tests choose on the change-password page.
NEW_PASSWORD = "a brand new passphrase 42"


class FakeClock:
    """A settable clock for ``AUTH_CLOCK``: ``clock.advance(minutes=5)``."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2030, 1, 6, 12, 0, 10, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def submit(client: FlaskClient, page: str, action: str, data: dict, prefix: str = ""):
    """GET ``page``, take the CSRF token of its form, POST ``data`` to ``action``."""
    html = client.get(page).get_data(as_text=True)
    token = csrf_token(html)
    return client.post(action, data={f"{prefix}csrf_token": token, **data})


def password_step(client: FlaskClient, email: str, password: str = DEFAULT_PASSWORD,
                  next_url: str | None = None):
    """Post the login form as a browser would (next taken from the query string)."""
    page = "/login" + (f"?next={next_url}" if next_url else "")
    html = client.get(page).get_data(as_text=True)
    hidden_next = re.search(r'name="next" type="hidden" value="([^"]*)"', html)
    return client.post("/login", data={
        "csrf_token": csrf_token(html), "email": email, "password": password,
        "next": hidden_next.group(1) if hidden_next else "",
    })


def code_step(client: FlaskClient, code: str):
    """Post a code on the second-factor page."""
    return submit(client, "/login/two-factor", "/login/two-factor", {"code": code})


def code_at(secret: str, at: datetime) -> str:
    """The TOTP code an authenticator shows at ``at``."""
    return pyotp.TOTP(secret).at(at)


def enrolled(make_user, role: str = "staff", **fields):
    """A user with a confirmed authenticator; returns (user, secret)."""
    secret = pyotp.random_base32()
    user = make_user(role, totp_secret=secret, totp_confirmed=True, **fields)
    return user, secret


def sign_in(client: FlaskClient, user, secret: str, at: datetime,
            password: str = DEFAULT_PASSWORD, next_url: str | None = None):
    """Both steps through the real pages; returns the response of the code step."""
    first = password_step(client, user.email, password, next_url)
    assert first.status_code == 302, first.get_data(as_text=True)
    return code_step(client, code_at(secret, at))


def secret_from(html: str) -> str:
    """The TOTP key the enrolment page shows in text."""
    match = re.search(r'<code class="secret" id="totp-secret">([A-Z2-7 ]+)</code>', html)
    assert match, "the enrolment page shows the key in text"
    return match.group(1).replace(" ", "")
