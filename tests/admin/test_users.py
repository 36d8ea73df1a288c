"""Admin user management: roles, create with a one-time password, deactivate, resets."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from hotline.auth import accounts
from hotline.auth.accounts import AccountError
from hotline.auth.passwords import verify_password
from hotline.extensions import db
from hotline.models import AuditEvent, User
from tests.auth_flow import password_step, submit
from tests.conftest import DEFAULT_PASSWORD, csrf_token, login_as

ADMIN_PAGES = ["/admin/users", "/admin/roster", "/admin/tokens", "/admin/users/1"]


def _user(app, user_id: int) -> User:
    with app.app_context():
        user = db.session.get(User, user_id)
        db.session.expunge(user)
        return user


def _audit(app) -> list[tuple[str, dict]]:
    with app.app_context():
        return [(e.action, e.detail) for e in
                db.session.execute(select(AuditEvent).order_by(AuditEvent.id)).scalars()]


@pytest.fixture
def admin_client(app, admin):
    client = app.test_client()
    login_as(client, admin)
    return client


@pytest.mark.parametrize("role", ["staff", "supervisor"])
def test_other_roles_get_403_on_every_admin_page_and_action(app, make_user, role):
    user = make_user(role)
    target = make_user("staff")
    client = app.test_client()
    login_as(client, user)
    for page in ADMIN_PAGES:
        assert client.get(page).status_code == 403, page
    token = csrf_token(client.get("/account/password").get_data(as_text=True))
    for action in (f"/admin/users/{target.id}/deactivate", f"/admin/users/{target.id}/reset-2fa",
                   "/admin/users", "/admin/tokens", f"/admin/users/{target.id}/role"):
        response = client.post(action, data={"csrf_token": token, "role": "admin",
                                             "email": "x@hotline.test", "display_name": "X",
                                             "name": "t"})
        assert response.status_code == 403, action
    assert _user(app, target.id).active and _user(app, target.id).role == "staff"


def test_anonymous_visitors_are_sent_to_login(client):
    for page in ADMIN_PAGES:
        response = client.get(page)
        assert response.status_code == 302 and response.location.startswith("/login?next="), page


def test_user_list_shows_accounts(admin_client, make_user):
    make_user("staff", display_name="Sam Staff", email="sam@hotline.test")
    html = admin_client.get("/admin/users").get_data(as_text=True)
    assert "Sam Staff" in html and "sam@hotline.test" in html and "Ada Admin" in html


def test_create_user_shows_a_one_time_password_once(app, admin_client, admin):
    response = submit(admin_client, "/admin/users", "/admin/users", {
        "email": "New.Person@Hotline.test", "display_name": "New Person", "role": "supervisor"})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    password = re.search(r'id="one-time-password">([^<]+)<', html).group(1)
    assert "shown only this once" in html
    with app.app_context():
        user = db.session.execute(select(User).where(User.email == "new.person@hotline.test")
                                  ).scalar_one()
        assert user.role == "supervisor" and user.must_change_password
        assert not user.totp_confirmed
        assert verify_password(user.password_hash, password)
    assert password not in admin_client.get("/admin/users").get_data(as_text=True)
    action, detail = _audit(app)[-1]
    assert action == "admin.user_create" and detail["role"] == "supervisor"
    # The new account signs in with it (then must enrol and choose a password).
    fresh = app.test_client()
    assert password_step(fresh, "new.person@hotline.test", password).status_code == 302


def test_create_user_refuses_duplicates_and_bad_input(app, admin_client, make_user):
    make_user("staff", email="taken@hotline.test")
    duplicate = submit(admin_client, "/admin/users", "/admin/users", {
        "email": "TAKEN@hotline.test", "display_name": "Again", "role": "staff"})
    assert duplicate.status_code == 400 and "exists already" in duplicate.get_data(as_text=True)
    bad_role = submit(admin_client, "/admin/users", "/admin/users", {
        "email": "x@hotline.test", "display_name": "X", "role": "root"})
    bad_email = submit(admin_client, "/admin/users", "/admin/users", {
        "email": "not-an-email", "display_name": "X", "role": "staff"})
    assert bad_role.status_code == bad_email.status_code == 400
    with app.app_context():
        assert db.session.execute(select(db.func.count()).select_from(User)).scalar_one() == 2


def test_create_user_without_csrf_is_refused(app, admin_client):
    response = admin_client.post("/admin/users", data={
        "email": "csrf@hotline.test", "display_name": "C", "role": "admin"})
    assert response.status_code == 400
    with app.app_context():
        assert db.session.execute(select(User).where(User.email == "csrf@hotline.test")
                                  ).first() is None


def _post_action(client, user_id: int, action: str, **data):
    page = f"/admin/users/{user_id}"
    return submit(client, page, f"{page}/{action}", data)


def test_deactivate_ends_sessions_and_sign_in_then_reactivate(app, admin_client, make_user):
    user = make_user("staff", on_duty=True, phone="+442079460958")
    their_client = app.test_client()
    login_as(their_client, user)
    assert their_client.get("/account/password").status_code == 200

    assert _post_action(admin_client, user.id, "deactivate").status_code == 302
    stored = _user(app, user.id)
    assert not stored.active and not stored.on_duty
    assert their_client.get("/account/password").status_code == 302
    assert password_step(app.test_client(), user.email).status_code == 401

    assert _post_action(admin_client, user.id, "reactivate").status_code == 302
    assert _user(app, user.id).active
    assert password_step(app.test_client(), user.email).status_code == 302
    actions = [a for a, _ in _audit(app)]
    assert "admin.user_deactivate" in actions and "admin.user_reactivate" in actions


def test_deactivate_without_csrf_is_refused(app, admin_client, make_user):
    user = make_user("staff")
    assert admin_client.post(f"/admin/users/{user.id}/deactivate").status_code == 400
    assert _user(app, user.id).active


def test_change_role_is_audited_and_ends_sessions(app, admin_client, make_user):
    user = make_user("staff")
    their_client = app.test_client()
    login_as(their_client, user)
    response = _post_action(admin_client, user.id, "role", role="supervisor")
    assert response.status_code == 302
    assert _user(app, user.id).role == "supervisor"
    assert their_client.get("/account/password").status_code == 302
    action, detail = _audit(app)[-1]
    assert action == "admin.user_role" and detail == {"user_id": user.id, "from": "staff",
                                                      "to": "supervisor"}


def test_admin_cannot_demote_or_deactivate_themselves(app, admin_client, admin):
    assert _post_action(admin_client, admin.id, "role", role="staff").status_code == 400
    assert _post_action(admin_client, admin.id, "deactivate").status_code == 400
    stored = _user(app, admin.id)
    assert stored.role == "admin" and stored.active


def test_last_active_admin_cannot_be_removed(app, admin, make_user):
    other = make_user("staff")
    with app.app_context():
        only = db.session.get(User, admin.id)
        actor = db.session.get(User, other.id)
        with pytest.raises(AccountError, match="last active admin"):
            accounts.set_role(only, "staff", actor=actor)
        with pytest.raises(AccountError, match="last active admin"):
            accounts.set_active(only, False, actor=actor)


def test_reset_two_factor_makes_the_user_enrol_again(app, admin_client, make_user):
    user = make_user("staff", totp_secret="JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP",
                     totp_confirmed=True, totp_last_counter=5)
    assert _post_action(admin_client, user.id, "reset-2fa").status_code == 302
    stored = _user(app, user.id)
    assert stored.totp_secret is None and not stored.totp_confirmed
    assert stored.totp_last_counter is None
    fresh = app.test_client()
    password_step(fresh, user.email)
    assert "Set up two-factor sign-in" in fresh.get("/login/two-factor").get_data(as_text=True)
    assert _audit(app)[-1][0] == "admin.totp_reset"


def test_reset_password_gives_a_one_time_password(app, admin_client, make_user):
    user = make_user("staff")
    response = _post_action(admin_client, user.id, "reset-password")
    html = response.get_data(as_text=True)
    password = re.search(r'id="one-time-password">([^<]+)<', html).group(1)
    stored = _user(app, user.id)
    assert stored.must_change_password and stored.session_token != user.session_token
    with app.app_context():
        assert verify_password(stored.password_hash, password)
        assert not verify_password(stored.password_hash, DEFAULT_PASSWORD)
    assert _audit(app)[-1][0] == "admin.password_reset"


def test_unknown_user_is_404(admin_client):
    assert admin_client.get("/admin/users/9999").status_code == 404
    token = csrf_token(admin_client.get("/admin/users").get_data(as_text=True))
    assert admin_client.post("/admin/users/9999/deactivate",
                             data={"csrf_token": token}).status_code == 404
