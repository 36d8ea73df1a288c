"""Security review, finding 14: one-time passwords expire and are never the new password.

Driven through the real pages: an admin resets the password (``/admin/users/<id>``), the
user signs in with the one-time password, then must choose their own.
"""

from __future__ import annotations

import re

import pytest

from hotline.auth.accounts import ONE_TIME_PASSWORD_HOURS
from tests.auth_flow import FakeClock, code_at, code_step, enrolled, password_step, submit
from tests.conftest import login_as

NEW_PASSWORD = "my own long passphrase 42"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def app(make_app, clock):
    return make_app(AUTH_CLOCK=clock, SESSION_MAX_HOURS=24 * 30, SESSION_IDLE_MINUTES=60 * 24 * 30)


def _reset(app, admin, user_id: int, clock) -> str:
    client = app.test_client()
    login_as(client, admin, at=clock.now)
    page = f"/admin/users/{user_id}"
    html = submit(client, page, f"{page}/reset-password", {}).get_data(as_text=True)
    return re.search(r'id="one-time-password">([^<]+)<', html).group(1)


def _to_new_password_step(app, user, secret: str, password: str, clock):
    client = app.test_client()
    assert password_step(client, user.email, password).status_code == 302
    assert code_step(client, code_at(secret, clock.now)).status_code == 302
    return client


def _choose(client, password: str):
    return submit(client, "/login/new-password", "/login/new-password",
                  {"password": password, "confirm": password})


def test_a_one_time_password_expires(app, make_user, clock):
    admin = make_user("admin")
    user, secret = enrolled(make_user)
    one_time = _reset(app, admin, user.id, clock)
    clock.advance(hours=ONE_TIME_PASSWORD_HOURS, seconds=1)
    assert password_step(app.test_client(), user.email, one_time).status_code == 401


def test_a_fresh_one_time_password_works_and_the_new_one_replaces_it(app, make_user, clock):
    admin = make_user("admin")
    user, secret = enrolled(make_user)
    one_time = _reset(app, admin, user.id, clock)
    clock.advance(hours=ONE_TIME_PASSWORD_HOURS - 1)
    client = _to_new_password_step(app, user, secret, one_time, clock)
    assert _choose(client, NEW_PASSWORD).status_code == 302
    clock.advance(hours=2)  # the chosen password does not expire
    assert password_step(app.test_client(), user.email, NEW_PASSWORD).status_code == 302


def test_an_earlier_one_time_password_is_refused_as_the_new_password(app, make_user, clock):
    admin = make_user("admin")
    user, secret = enrolled(make_user)
    first = _reset(app, admin, user.id, clock)
    clock.advance(seconds=30)
    second = _reset(app, admin, user.id, clock)
    clock.advance(seconds=30)
    client = _to_new_password_step(app, user, secret, second, clock)
    for reused in (first, second):
        answer = _choose(client, reused)
        assert answer.status_code == 400
        assert "Choose a password" in answer.get_data(as_text=True)
    assert _choose(client, NEW_PASSWORD).status_code == 302
