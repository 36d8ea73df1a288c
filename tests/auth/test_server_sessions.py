"""Security review, finding 2: signing out ends that session on the server.

The attack: copy a signed-in cookie, let the owner sign out, replay the copy. Before the
fix the copy kept working until its absolute lifetime ran out (the cookie is signed, the
server had nothing to take back).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from hotline.extensions import db
from hotline.models import AuditEvent, ServerSession
from tests.auth_flow import FakeClock, enrolled, sign_in
from tests.conftest import csrf_token
from tests.web_helpers import followup_login, hidden_fields, reference_and_receipt, send_contact

PAGE = "/account/password"
IDLE_MINUTES = 20


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def app(make_app, clock):
    return make_app(AUTH_CLOCK=clock, SESSION_IDLE_MINUTES=IDLE_MINUTES, SESSION_MAX_HOURS=8)


def _copy_cookie(source, app):
    """A second client carrying exactly the cookie ``source`` holds now (a stolen copy)."""
    name = app.config["SESSION_COOKIE_NAME"]
    thief = app.test_client()
    thief.set_cookie(name, source.get_cookie(name).value)
    return thief


def _signed_in(response) -> bool:
    return response.status_code == 200


def _post(client, path: str, page: str = PAGE):
    token = csrf_token(client.get(page).get_data(as_text=True))
    return client.post(path, data={"csrf_token": token})


def test_a_copied_staff_cookie_is_worthless_after_sign_out(app, make_user, clock):
    user, secret = enrolled(make_user)
    owner = app.test_client()
    sign_in(owner, user, secret, clock.now)
    thief = _copy_cookie(owner, app)
    assert _signed_in(thief.get(PAGE))  # the copy works while the owner is signed in
    assert _post(owner, "/logout").status_code == 302
    answer = thief.get(PAGE)
    assert answer.status_code == 302 and answer.location.startswith("/login")
    assert thief.get("/dashboard/").status_code == 302


def test_signing_out_one_browser_keeps_the_others(app, make_user, clock):
    user, secret = enrolled(make_user)
    laptop, phone = app.test_client(), app.test_client()
    sign_in(laptop, user, secret, clock.now)
    clock.advance(seconds=30)
    sign_in(phone, user, secret, clock.now)
    _post(laptop, "/logout")
    assert _signed_in(phone.get(PAGE))
    assert laptop.get(PAGE).status_code == 302


def test_sign_out_everywhere_ends_every_browser_and_is_audited(app, make_user, clock):
    user, secret = enrolled(make_user)
    laptop, phone = app.test_client(), app.test_client()
    sign_in(laptop, user, secret, clock.now)
    clock.advance(seconds=30)
    sign_in(phone, user, secret, clock.now)
    stolen = _copy_cookie(phone, app)
    assert _post(laptop, "/logout/everywhere").status_code == 302
    for client in (laptop, phone, stolen):
        assert client.get(PAGE).status_code == 302
    with app.app_context():
        assert db.session.execute(select(func.count()).select_from(ServerSession)
                                  ).scalar_one() == 0
        assert "auth.logout_everywhere" in db.session.execute(
            select(AuditEvent.action)).scalars().all()


def test_the_server_ends_an_idle_session_even_if_the_cookie_is_kept_fresh(
        app, make_user, clock):
    user, secret = enrolled(make_user)
    owner = app.test_client()
    sign_in(owner, user, secret, clock.now)
    # A cookie saved from now on, replayed later: its own stamps are refreshed by each
    # request, but the server's record of the session ages on its own.
    clock.advance(minutes=IDLE_MINUTES - 1)
    assert _signed_in(owner.get(PAGE))
    with app.app_context():
        row = db.session.execute(select(ServerSession)).scalar_one()
        row.seen_at = clock.now - timedelta(minutes=IDLE_MINUTES + 1)
        db.session.commit()
    assert owner.get(PAGE).status_code == 302
    with app.app_context():
        assert db.session.execute(select(ServerSession)).scalar_one_or_none() is None


def test_a_copied_followup_cookie_is_worthless_after_leaving(app):
    visitor = app.test_client()
    reference, receipt = reference_and_receipt(send_contact(
        visitor, "en", message="My first message").get_data(as_text=True))
    followup_login(visitor, reference, receipt)
    thief = _copy_cookie(visitor, app)
    assert "My first message" in thief.get("/followup").get_data(as_text=True)
    hidden = hidden_fields(visitor.get("/followup").get_data(as_text=True))
    visitor.post("/followup/leave", data={"csrf_token": hidden["csrf_token"]})
    page = thief.get("/followup").get_data(as_text=True)
    assert "My first message" not in page
    answer = thief.post("/followup/message", data={
        **hidden, "csrf_token": hidden_fields(page)["csrf_token"], "message": "from the thief"})
    assert answer.status_code == 403
