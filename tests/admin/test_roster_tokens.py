"""Admin: the on-duty roster (numbers the voice line dials) and API tokens."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select, text

from hotline.extensions import db
from hotline.models import ApiToken, AuditEvent, User
from tests.auth_flow import submit
from tests.conftest import login_as


@pytest.fixture
def admin_client(app, make_user):
    client = app.test_client()
    login_as(client, make_user("admin"))
    return client


def _user(app, user_id: int) -> User:
    with app.app_context():
        user = db.session.get(User, user_id)
        db.session.expunge(user)
        return user


def _last_audit(app) -> AuditEvent:
    with app.app_context():
        event = db.session.execute(select(AuditEvent).order_by(AuditEvent.id.desc())
                                   .limit(1)).scalar_one()
        db.session.expunge(event)
        return event


def _roster(client, user_id: int, **fields):
    prefix = f"u{user_id}-"
    data = {}
    for key, value in fields.items():
        data[prefix + key] = value
    return submit(client, "/admin/roster", f"/admin/users/{user_id}/roster", data, prefix=prefix)


def test_roster_saves_e164_phone_languages_and_duty(app, admin_client, make_user):
    user = make_user("staff", display_name="Olena")
    response = _roster(admin_client, user.id, phone="+44 20 7946 0958",
                       languages=["uk", "ru"], on_duty="y")
    assert response.status_code == 302
    stored = _user(app, user.id)
    assert stored.phone == "+442079460958"
    assert stored.languages == "ru,uk" and stored.on_duty
    with app.app_context():
        raw = db.session.execute(text("SELECT phone FROM users WHERE id = :id"),
                                 {"id": user.id}).scalar_one()
    assert "2079460958" not in raw
    event = _last_audit(app)
    assert event.action == "admin.roster_update"
    assert event.detail["on_duty"] is True and "2079460958" not in str(event.detail)
    page = admin_client.get("/admin/roster").get_data(as_text=True)
    assert "Olena" in page and "+442079460958" in page


@pytest.mark.parametrize("fields, message", [
    ({"phone": "not a number", "on_duty": "y"}, "international form"),
    ({"phone": "+1 23", "on_duty": "y"}, "international form"),
    ({"phone": "", "on_duty": "y"}, "needs a phone number"),
    ({"phone": "+442079460958", "languages": ["de"]}, "not a valid choice"),
])
def test_roster_refuses_bad_input_and_keeps_the_old_entry(app, admin_client, make_user, fields,
                                                          message):
    user = make_user("staff", phone="+79161234567", languages="ru", on_duty=False)
    response = _roster(admin_client, user.id, **fields)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    stored = _user(app, user.id)
    assert (stored.phone, stored.languages, stored.on_duty) == ("+79161234567", "ru", False)


def test_taking_someone_off_duty(app, admin_client, make_user):
    user = make_user("staff", phone="+79161234567", languages="ru", on_duty=True)
    assert _roster(admin_client, user.id, phone="+79161234567",
                   languages=["ru"]).status_code == 302
    assert not _user(app, user.id).on_duty


def test_roster_needs_admin(app, make_user):
    staff = make_user("staff")
    client = app.test_client()
    login_as(client, staff)
    assert client.get("/admin/roster").status_code == 403


def _create_token(client, name: str, role: str) -> str:
    response = submit(client, "/admin/tokens", "/admin/tokens", {"name": name, "role": role})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "shown only this" in html
    return re.search(r'id="api-token">([^<]+)<', html).group(1)


def test_token_created_shown_once_works_then_revoked_gets_401(app, admin_client):
    clear = _create_token(admin_client, "weekly export", "stats")
    assert _last_audit(app).action == "admin.token_create"
    api = app.test_client()
    auth = {"Authorization": f"Bearer {clear}"}
    assert api.get("/api/v1/cases", headers=auth).status_code == 200
    listing = admin_client.get("/admin/tokens").get_data(as_text=True)
    assert "weekly export" in listing and clear not in listing

    with app.app_context():
        token_id = db.session.execute(select(ApiToken.id)).scalar_one()
    revoked = submit(admin_client, "/admin/tokens", f"/admin/tokens/{token_id}/revoke", {})
    assert revoked.status_code == 302
    assert api.get("/api/v1/cases", headers=auth).status_code == 401
    assert _last_audit(app).action == "admin.token_revoke"


def test_token_revoke_needs_csrf(app, admin_client):
    _create_token(admin_client, "ci", "staff")
    with app.app_context():
        token_id = db.session.execute(select(ApiToken.id)).scalar_one()
    assert admin_client.post(f"/admin/tokens/{token_id}/revoke").status_code == 400
    with app.app_context():
        assert db.session.get(ApiToken, token_id).revoked_at is None


def test_token_with_unknown_role_is_refused(app, admin_client):
    response = submit(admin_client, "/admin/tokens", "/admin/tokens",
                      {"name": "x", "role": "superuser"})
    assert response.status_code == 400
    with app.app_context():
        assert db.session.execute(select(ApiToken)).first() is None
