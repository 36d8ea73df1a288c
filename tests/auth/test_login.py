"""Sign-in: password + TOTP, generic failures, lockout, reused codes, rehash, redirects."""

from __future__ import annotations

from datetime import timedelta

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select

from hotline.auth.guards import MFA_SESSION_KEY
from hotline.auth.login import GENERIC_FAILURE, LOCKOUT_MINUTES, MAX_FAILED_LOGINS
from hotline.extensions import db
from hotline.models import AuditEvent, User
from tests.auth_flow import (
    FakeClock,
    code_at,
    code_step,
    enrolled,
    password_step,
    sign_in,
)
from tests.conftest import CSRF_FIELD


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def app(make_app, clock):
    return make_app(AUTH_CLOCK=clock)


def _actions(app) -> list[str]:
    with app.app_context():
        return list(db.session.execute(select(AuditEvent.action).order_by(AuditEvent.id))
                    .scalars())


def _reload(app, user) -> User:
    with app.app_context():
        fresh = db.session.get(User, user.id)
        db.session.expunge(fresh)
        return fresh


def test_password_and_code_sign_in_and_land_on_the_dashboard(app, client, make_user, clock):
    user, secret = enrolled(make_user)
    first = password_step(client, user.email)
    assert first.status_code == 302 and first.location.endswith("/login/two-factor")
    with client.session_transaction() as sess:
        assert "_user_id" not in sess and not sess.get(MFA_SESSION_KEY)
    done = code_step(client, code_at(secret, clock.now))
    assert done.status_code == 302 and done.location.endswith("/dashboard/")
    with client.session_transaction() as sess:
        assert sess["_user_id"] == user.get_id() and sess[MFA_SESSION_KEY] is True
    assert client.get("/account/password").status_code == 200
    assert _actions(app)[-1] == "auth.login"
    assert _reload(app, user).last_login_at is not None


def test_password_alone_gives_no_access(client, make_user):
    user, _ = enrolled(make_user)
    password_step(client, user.email)
    response = client.get("/account/password")
    assert response.status_code == 302 and "/login" in response.location


def test_wrong_password_and_unknown_email_get_the_same_generic_message(app, client, make_user):
    user, _ = enrolled(make_user)
    wrong = password_step(client, user.email, "not the password at all")
    unknown = password_step(client, "nobody@hotline.test", "not the password at all")
    assert wrong.status_code == unknown.status_code == 401
    bodies = [CSRF_FIELD.sub("", r.get_data(as_text=True).replace(email, "EMAIL"))
              for r, email in ((wrong, user.email), (unknown, "nobody@hotline.test"))]
    assert GENERIC_FAILURE in bodies[0] and bodies[0] == bodies[1]
    assert _reload(app, user).failed_logins == 1
    assert _actions(app).count("auth.login_failed") == 2


def test_lockout_after_max_failures_then_unlock_after_lockout_minutes(app, client, make_user,
                                                                      clock):
    user, secret = enrolled(make_user)
    for _ in range(MAX_FAILED_LOGINS):
        assert password_step(client, user.email, "wrong password!!").status_code == 401
    locked = _reload(app, user)
    assert locked.locked_until is not None
    assert "auth.lockout" in _actions(app)
    # The right password is refused while locked, with the same generic message.
    refused = password_step(client, user.email)
    assert refused.status_code == 401 and GENERIC_FAILURE in refused.get_data(as_text=True)
    clock.advance(minutes=LOCKOUT_MINUTES - 1)
    assert password_step(client, user.email).status_code == 401
    clock.advance(minutes=1, seconds=1)
    done = sign_in(client, user, secret, clock.now)
    assert done.status_code == 302 and done.location.endswith("/dashboard/")
    after = _reload(app, user)
    assert after.failed_logins == 0 and after.locked_until is None


def test_wrong_codes_count_towards_the_lockout(app, client, make_user, clock):
    user, secret = enrolled(make_user)
    password_step(client, user.email)
    for _ in range(MAX_FAILED_LOGINS):
        assert code_step(client, "000000").status_code == 400
    assert _reload(app, user).locked_until is not None
    # Even the right code is refused now.
    assert code_step(client, code_at(secret, clock.now)).status_code == 400
    with client.session_transaction() as sess:
        assert "_user_id" not in sess


def test_a_reused_code_is_refused(app, client, make_user, clock):
    user, secret = enrolled(make_user)
    code = code_at(secret, clock.now)
    assert sign_in(client, user, secret, clock.now).status_code == 302
    other = app.test_client()
    password_step(other, user.email)
    refused = code_step(other, code)
    assert refused.status_code == 400
    assert "each code works only once" in refused.get_data(as_text=True)
    # An older code (previous step, inside the window) is refused too.
    assert code_step(other, code_at(secret, clock.now - timedelta(seconds=30))
                     ).status_code == 400
    # The next time step's code works.
    clock.advance(seconds=30)
    assert code_step(other, code_at(secret, clock.now)).status_code == 302


def test_session_is_regenerated_at_sign_in(client, make_user, clock):
    user, secret = enrolled(make_user)
    with client.session_transaction() as sess:
        sess["planted"] = "by an attacker"
        sess["_user_id"] = "999:forged"
    password_step(client, user.email)
    with client.session_transaction() as sess:
        assert "planted" not in sess
    code_step(client, code_at(secret, clock.now))
    with client.session_transaction() as sess:
        assert "planted" not in sess
        assert sess["_user_id"] == user.get_id()
        assert set(sess) >= {"_user_id", MFA_SESSION_KEY, "auth_at", "seen_at"}
        assert "pending_user" not in sess


@pytest.mark.parametrize("target", [
    "https://evil.example/", "//evil.example/x", "/\\evil.example", "\\\\evil.example",
    "javascript:alert(1)", "http:/evil.example", "/%0d%0aLocation:x",
])
def test_open_redirect_is_refused(client, make_user, clock, target):
    user, secret = enrolled(make_user)
    done = sign_in(client, user, secret, clock.now, next_url=target)
    assert done.status_code == 302
    assert done.location == "/dashboard/"


def test_next_inside_the_site_is_followed(client, make_user, clock):
    user, secret = enrolled(make_user, role="admin")
    done = sign_in(client, user, secret, clock.now, next_url="/admin/tokens")
    assert done.location == "/admin/tokens"


def test_staff_page_without_sign_in_redirects_to_login_with_next(client):
    response = client.get("/admin/users")
    assert response.status_code == 302
    assert response.location.startswith("/login?next=")
    assert "admin/users" in response.location


def test_login_without_csrf_token_is_refused(app, client, make_user):
    user, _ = enrolled(make_user)
    response = client.post("/login", data={"email": user.email, "password": "x" * 20})
    assert response.status_code == 400
    assert "form expired" in response.get_data(as_text=True)
    assert _reload(app, user).failed_logins == 0


def test_logout_needs_csrf_and_ends_the_session(app, client, make_user, clock):
    user, secret = enrolled(make_user)
    sign_in(client, user, secret, clock.now)
    assert client.post("/logout").status_code == 400
    assert client.get("/account/password").status_code == 200
    page = client.get("/account/password").get_data(as_text=True)
    from tests.conftest import csrf_token

    out = client.post("/logout", data={"csrf_token": csrf_token(page)})
    assert out.status_code == 302 and out.location.endswith("/login")
    assert client.get("/account/password").status_code == 302
    assert "auth.logout" in _actions(app)


def test_password_is_rehashed_when_parameters_change(app, client, make_user, clock):
    user, secret = enrolled(make_user)
    old_hash = _reload(app, user).password_hash
    stronger = {"ARGON2_TIME_COST": 2}
    app.config.update(stronger)
    assert sign_in(client, user, secret, clock.now).status_code == 302
    new_hash = _reload(app, user).password_hash
    assert new_hash != old_hash
    assert not PasswordHasher(time_cost=2, memory_cost=8, parallelism=1).check_needs_rehash(
        new_hash) and "t=2" in new_hash
    assert "auth.password_rehashed" in _actions(app)


def test_unchanged_parameters_keep_the_hash(app, client, make_user, clock):
    user, secret = enrolled(make_user)
    old_hash = _reload(app, user).password_hash
    sign_in(client, user, secret, clock.now)
    assert _reload(app, user).password_hash == old_hash


def test_deactivated_account_cannot_sign_in(app, client, make_user):
    user, _ = enrolled(make_user, active=False)
    response = password_step(client, user.email)
    assert response.status_code == 401
    assert GENERIC_FAILURE in response.get_data(as_text=True)


def test_password_step_expires_when_the_code_comes_too_late(client, make_user, clock):
    from hotline.auth.lifetime import PENDING_MINUTES

    user, secret = enrolled(make_user)
    password_step(client, user.email)
    clock.advance(minutes=PENDING_MINUTES, seconds=1)
    response = code_step_without_page(client, code_at(secret, clock.now))
    assert response.status_code == 302 and response.location.endswith("/login")


def code_step_without_page(client, code):
    """Post a code with a token from the login page (the code page itself redirects)."""
    from tests.conftest import csrf_token

    token = csrf_token(client.get("/login").get_data(as_text=True))
    return client.post("/login/two-factor", data={"csrf_token": token, "code": code})


def test_login_is_rate_limited_per_address(make_app, make_user):
    app = make_app(LOGIN_RATE_LIMIT="3 per minute")
    client = app.test_client()
    user, _ = enrolled(make_user)
    statuses = [password_step(client, user.email, "wrong password!!").status_code
                for _ in range(4)]
    assert statuses == [401, 401, 401, 429]
