"""Session lifetime: idle timeout, absolute lifetime, logout everywhere on password change."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from hotline.auth.lifetime import BACKGROUND_HEADER, EXPIRED_MESSAGE
from hotline.auth.passwords import verify_password
from hotline.extensions import db
from hotline.models import AuditEvent, User
from tests.auth_flow import FakeClock, enrolled, sign_in, submit
from tests.conftest import DEFAULT_PASSWORD, ROOT, login_as

IDLE_MINUTES = 20
MAX_HOURS = 2
NEW_PASSWORD = "another long passphrase 7"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def app(make_app, clock):
    return make_app(AUTH_CLOCK=clock, SESSION_IDLE_MINUTES=IDLE_MINUTES,
                    SESSION_MAX_HOURS=MAX_HOURS)


PAGE = "/account/password"


def _expired(response) -> bool:
    return response.status_code == 302 and response.location.startswith("/login")


def test_idle_timeout_ends_the_session(client, make_user, clock):
    user = make_user("staff")
    login_as(client, user, at=clock.now)
    clock.advance(minutes=IDLE_MINUTES - 1)
    assert client.get(PAGE).status_code == 200
    clock.advance(minutes=IDLE_MINUTES - 1)  # activity above restarted the idle clock
    assert client.get(PAGE).status_code == 200
    clock.advance(minutes=IDLE_MINUTES, seconds=1)
    response = client.get(PAGE)
    assert _expired(response)
    login_page = client.get(response.location).get_data(as_text=True)
    assert EXPIRED_MESSAGE in login_page
    with client.session_transaction() as sess:
        assert "_user_id" not in sess
    # Gone for good: going back in time does not revive it.
    clock.advance(minutes=-IDLE_MINUTES)
    assert _expired(client.get(PAGE))


def test_background_refresh_does_not_count_as_activity(client, make_user, clock):
    user = make_user("staff")
    login_as(client, user, at=clock.now)
    for _ in range(3):
        clock.advance(minutes=IDLE_MINUTES // 2)
        client.get(PAGE, headers={BACKGROUND_HEADER: "1"})
    assert _expired(client.get(PAGE))


def test_absolute_lifetime_ends_even_an_active_session(client, make_user, clock):
    user = make_user("staff")
    login_as(client, user, at=clock.now)
    for _ in range(MAX_HOURS * 60 // (IDLE_MINUTES - 5)):
        clock.advance(minutes=IDLE_MINUTES - 5)
        assert client.get(PAGE).status_code == 200
    clock.advance(minutes=IDLE_MINUTES - 5)
    assert _expired(client.get(PAGE))


def test_session_without_timestamps_is_refused(client, make_user):
    user = make_user("staff")
    with client.session_transaction() as sess:
        sess["_user_id"] = user.get_id()
        sess["mfa_ok"] = True
    assert _expired(client.get(PAGE))


def test_password_change_signs_out_every_other_session(app, make_user, clock):
    user, secret = enrolled(make_user)
    laptop, phone = app.test_client(), app.test_client()
    sign_in(laptop, user, secret, clock.now)
    clock.advance(seconds=30)
    sign_in(phone, user, secret, clock.now)
    assert phone.get(PAGE).status_code == 200
    with phone.session_transaction() as sess:
        old_phone_cookie = dict(sess)

    changed = submit(laptop, PAGE, PAGE, {"current": DEFAULT_PASSWORD,
                                          "password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert changed.status_code == 302
    # The browser that changed it keeps working; the other one is out.
    assert laptop.get(PAGE).status_code == 200
    assert _expired(phone.get(PAGE))
    # Replaying the old cookie does not help either.
    with phone.session_transaction() as sess:
        sess.update(old_phone_cookie)
    assert _expired(phone.get(PAGE))
    with app.app_context():
        actions = db.session.execute(select(AuditEvent.action)).scalars().all()
    assert "auth.password_changed" in actions


def test_password_change_needs_the_current_password_and_csrf(app, client, make_user, clock):
    user = make_user("staff")
    login_as(client, user, at=clock.now)
    wrong = submit(client, PAGE, PAGE, {"current": "not my password!",
                                         "password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert wrong.status_code == 400 and "current password is wrong" in wrong.get_data(
        as_text=True)
    no_csrf = client.post(PAGE, data={"current": DEFAULT_PASSWORD, "password": NEW_PASSWORD,
                                      "confirm": NEW_PASSWORD})
    assert no_csrf.status_code == 400
    assert client.get(PAGE).status_code == 200  # still signed in: nothing changed
    with app.app_context():
        stored = db.session.get(User, user.id)
        assert verify_password(stored.password_hash, DEFAULT_PASSWORD)
        assert stored.session_token == user.session_token


def test_expired_session_is_refused_on_admin_pages_too(client, make_user, clock):
    admin = make_user("admin")
    login_as(client, admin, at=clock.now)
    assert client.get("/admin/users").status_code == 200
    clock.advance(minutes=IDLE_MINUTES + 1)
    response = client.get("/admin/users")
    assert _expired(response) and "next=" in response.location


def test_queue_polling_lets_an_unattended_dashboard_time_out(client, make_user, clock):
    """queue.js polls with the background header, so an open queue still reaches the timeout."""
    script = ROOT / "hotline" / "static" / "queue.js"
    assert f'"{BACKGROUND_HEADER}": "1"' in script.read_text()
    user = make_user("staff")
    login_as(client, user, at=clock.now)
    for _ in range(3):  # polls within the idle window are answered...
        clock.advance(minutes=IDLE_MINUTES // 3)
        poll = client.get("/dashboard/queue/poll?since=0", headers={BACKGROUND_HEADER: "1"})
        assert poll.status_code == 200 and poll.is_json
    clock.advance(minutes=IDLE_MINUTES // 3)  # ...but did not keep the session alive
    assert _expired(client.get("/dashboard/"))
