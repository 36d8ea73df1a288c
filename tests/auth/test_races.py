"""Security review, findings 3, 4 and 7: counters and one-time codes under attack.

Races are parallel requests: each thread has its own test client (its own cookie, its
own database session and connection) and waits at a barrier so the requests overlap.
On PostgreSQL (``HOTLINE_TEST_DATABASE_URL``) they really run side by side; SQLite
serialises writers (``BEGIN IMMEDIATE``), where the same tests check the outcome.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import select

from hotline.auth.login import MAX_FAILED_LOGINS
from hotline.extensions import db
from hotline.models import AuditEvent, User
from tests.auth_flow import FakeClock, code_at, enrolled, password_step, submit
from tests.conftest import DEFAULT_PASSWORD, csrf_token, in_parallel, login_as

PARALLEL_FAILURES = 8


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def app(make_app, clock):
    return make_app(AUTH_CLOCK=clock, LOGIN_RATE_LIMIT="1000 per minute")


def _stored(app, user_id: int) -> User:
    with app.app_context():
        user = db.session.get(User, user_id)
        db.session.expunge(user)
        return user


def _actions(app) -> list[tuple[str, dict]]:
    with app.app_context():
        return [(e.action, e.detail) for e in
                db.session.execute(select(AuditEvent).order_by(AuditEvent.id)).scalars()]


def _wrong_password_job(app, email: str) -> Callable[[], int]:
    client = app.test_client()
    token = csrf_token(client.get("/login").get_data(as_text=True))

    def job() -> int:
        return client.post("/login", data={"csrf_token": token, "email": email,
                                           "password": "wrong guess", "next": ""}).status_code

    return job


def test_parallel_wrong_passwords_all_count_and_lock_the_account(app, make_user):
    user = make_user("staff")
    jobs = [_wrong_password_job(app, user.email) for _ in range(PARALLEL_FAILURES)]
    assert in_parallel(jobs) == [401] * PARALLEL_FAILURES
    stored = _stored(app, user.id)
    assert stored.locked_until is not None
    actions = _actions(app)
    # Every attempt is audited; each one that reached the password check counted (those
    # that came after the lock are refused as locked), and exactly one locked.
    failed = [d for a, d in actions if a == "auth.login_failed"]
    assert len(failed) == PARALLEL_FAILURES
    counted = sorted(d["failures"] for d in failed if "failures" in d)
    assert max(counted) == MAX_FAILED_LOGINS and len(counted) >= MAX_FAILED_LOGINS
    assert [a for a, _ in actions].count("auth.lockout") == 1
    # Locked: even the right password is refused now.
    assert password_step(app.test_client(), user.email).status_code == 401


def test_one_totp_code_raced_by_two_requests_signs_in_only_once(app, make_user, clock):
    user, secret = enrolled(make_user)
    code = code_at(secret, clock.now)
    clients = [app.test_client() for _ in range(2)]
    jobs = []
    for client in clients:
        assert password_step(client, user.email).status_code == 302
        token = csrf_token(client.get("/login/two-factor").get_data(as_text=True))
        jobs.append(lambda c=client, t=token: c.post(
            "/login/two-factor", data={"csrf_token": t, "code": code}).status_code)
    results = in_parallel(jobs)
    assert sorted(results) == [302, 400]
    signed_in = [c for c in clients if c.get("/account/password").status_code == 200]
    assert len(signed_in) == 1
    assert [a for a, _ in _actions(app)].count("auth.login") == 1


def _change(client, current: str):
    return submit(client, "/account/password", "/account/password", {
        "current": current, "password": "a brand new passphrase 9",
        "confirm": "a brand new passphrase 9"})


def test_wrong_current_passwords_on_the_account_page_lock_and_are_audited(
        app, make_user, clock):
    user = make_user("staff")
    client = app.test_client()
    login_as(client, user, at=clock.now)
    for _ in range(MAX_FAILED_LOGINS - 1):
        answer = _change(client, "guess")
        assert answer.status_code == 400
        assert "The current password is wrong." in answer.get_data(as_text=True)
    assert _stored(app, user.id).failed_logins == MAX_FAILED_LOGINS - 1
    locked = _change(client, "guess")
    assert locked.status_code == 302 and locked.location.startswith("/login")
    assert _stored(app, user.id).locked_until is not None
    assert client.get("/account/password").status_code == 302  # that session ended
    failures = [d for a, d in _actions(app) if a == "auth.login_failed"]
    assert len(failures) == MAX_FAILED_LOGINS
    assert all(d["step"] == "password_change" for d in failures)
    # Locked like a sign-in lockout: the right password does not sign in either.
    assert password_step(app.test_client(), user.email, DEFAULT_PASSWORD).status_code == 401


def test_parallel_wrong_current_passwords_all_count(app, make_user, clock):
    user = make_user("staff")
    jobs = []
    for _ in range(MAX_FAILED_LOGINS):
        client = app.test_client()
        login_as(client, user, at=clock.now)
        token = csrf_token(client.get("/account/password").get_data(as_text=True))
        jobs.append(lambda c=client, t=token: c.post("/account/password", data={
            "csrf_token": t, "current": "guess", "password": "a brand new passphrase 9",
            "confirm": "a brand new passphrase 9"}).status_code)
    in_parallel(jobs)
    assert _stored(app, user.id).locked_until is not None


def test_password_change_guesses_are_rate_limited_per_address(make_app, make_user):
    app = make_app(LOGIN_RATE_LIMIT="3 per minute")
    user = make_user("staff", password=DEFAULT_PASSWORD)
    client = app.test_client()
    login_as(client, user)
    statuses = [_change(client, "guess").status_code for _ in range(4)]
    assert statuses[:3] == [400, 400, 400] and statuses[3] == 429
