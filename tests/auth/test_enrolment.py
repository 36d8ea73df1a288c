"""First sign-in: enrolling the authenticator (QR code + typed key) and choosing a password."""

from __future__ import annotations

import re

import pyotp
import pytest
from sqlalchemy import select

from hotline.auth.guards import MFA_SESSION_KEY
from hotline.auth.passwords import MIN_PASSWORD_LENGTH, verify_password
from hotline.extensions import db
from hotline.models import AuditEvent, User
from tests.auth_flow import (
    NEW_PASSWORD,
    FakeClock,
    code_at,
    code_step,
    password_step,
    secret_from,
    submit,
)
from tests.conftest import DEFAULT_PASSWORD

SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def app(make_app, clock):
    return make_app(AUTH_CLOCK=clock)


def _user(app, user_id: int) -> User:
    with app.app_context():
        user = db.session.get(User, user_id)
        db.session.expunge(user)
        return user


def test_first_sign_in_enrols_with_a_server_drawn_qr_code(app, client, make_user, clock):
    user = make_user("staff")
    assert password_step(client, user.email).location.endswith("/login/two-factor")
    page = client.get("/login/two-factor")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "<svg" in html and "<script" not in html and 'style="' not in html
    secret = secret_from(html)
    assert _user(app, user.id).totp_secret == secret
    assert not _user(app, user.id).totp_confirmed
    # Reloading shows the same secret (the app may have scanned it already).
    assert secret_from(client.get("/login/two-factor").get_data(as_text=True)) == secret
    # The secret is encrypted at rest.
    with app.app_context():
        raw = db.session.execute(db.text("SELECT totp_secret FROM users WHERE id = :id"),
                                 {"id": user.id}).scalar_one()
    assert secret not in raw

    assert code_step(client, "123456").status_code == 400
    done = code_step(client, code_at(secret, clock.now))
    assert done.status_code == 302 and done.location.endswith("/dashboard/")
    stored = _user(app, user.id)
    assert stored.totp_confirmed and stored.totp_last_counter is not None
    with app.app_context():
        actions = db.session.execute(select(AuditEvent.action)).scalars().all()
    assert "auth.totp_enrolled" in actions and "auth.login" in actions


def test_uri_in_qr_names_the_issuer_and_account(app, make_user):
    from hotline.auth import totp

    user = make_user("staff", email="ana@hotline.test")
    uri = totp.provisioning_uri(user, SECRET)
    assert uri.startswith("otpauth://totp/Hotline:ana%40hotline.test?")
    assert pyotp.parse_uri(uri).secret == SECRET


def test_one_time_password_forces_a_new_password_after_two_factor(app, client, make_user,
                                                                   clock):
    user = make_user("admin", must_change_password=True)
    password_step(client, user.email)
    secret = secret_from(client.get("/login/two-factor").get_data(as_text=True))
    step = code_step(client, code_at(secret, clock.now))
    assert step.status_code == 302 and step.location.endswith("/login/new-password")
    with client.session_transaction() as sess:
        assert not sess.get(MFA_SESSION_KEY) and "_user_id" not in sess
    # Not signed in yet: staff pages still redirect to the login page.
    assert client.get("/admin/users").status_code == 302

    too_short = submit(client, "/login/new-password", "/login/new-password",
                       {"password": "short", "confirm": "short"})
    assert too_short.status_code == 400
    assert f"at least {MIN_PASSWORD_LENGTH}" in too_short.get_data(as_text=True)
    same = submit(client, "/login/new-password", "/login/new-password",
                  {"password": DEFAULT_PASSWORD, "confirm": DEFAULT_PASSWORD})
    assert same.status_code == 400 and "different" in same.get_data(as_text=True)
    mismatch = submit(client, "/login/new-password", "/login/new-password",
                      {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD + "x"})
    assert mismatch.status_code == 400

    done = submit(client, "/login/new-password", "/login/new-password",
                  {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert done.status_code == 302 and done.location.endswith("/dashboard/")
    stored = _user(app, user.id)
    assert not stored.must_change_password
    with app.app_context():
        assert verify_password(stored.password_hash, NEW_PASSWORD)
    assert client.get("/admin/users").status_code == 200


def test_new_password_page_needs_the_second_factor_first(client, make_user):
    user = make_user("staff", must_change_password=True)
    password_step(client, user.email)
    response = client.get("/login/new-password")
    assert response.status_code == 302 and response.location.endswith("/login")


def test_two_factor_page_without_password_step_restarts(client):
    response = client.get("/login/two-factor")
    assert response.status_code == 302 and response.location.endswith("/login")


def test_first_admin_from_the_cli_signs_in_with_the_one_time_password(app, client, clock):
    result = app.test_cli_runner().invoke(args=["users", "ensure-admin",
                                                "--email", "first@hotline.test"])
    assert result.exit_code == 0, result.output
    password = re.search(r"one-time password:\s+(\S+)", result.output).group(1)
    assert password_step(client, "first@hotline.test", password).status_code == 302
    secret = secret_from(client.get("/login/two-factor").get_data(as_text=True))
    assert code_step(client, code_at(secret, clock.now)).location.endswith("/login/new-password")
    done = submit(client, "/login/new-password", "/login/new-password",
                  {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert done.status_code == 302
    assert client.get("/admin/users").status_code == 200
