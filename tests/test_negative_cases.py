"""Negative cases of issue 5 that no other test file covered, each a real assertion."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from hotline.extensions import db
from hotline.models import User
from tests.auth_flow import csrf_token
from tests.conftest import login_as


def _user_count(app) -> int:  # noqa: ANN001
    with app.app_context():
        return db.session.execute(select(func.count()).select_from(User)).scalar_one()


@pytest.mark.parametrize("body", ['"\\ud800"', '"ab"', "[1]", "7", "null"])
def test_a_json_body_that_is_not_an_object_is_a_400(app, client, make_user, body):
    # A signed-in admin with a valid CSRF token (in the header) posts JSON: Flask-WTF
    # reads a JSON body as form data and crashed (500) on anything but an object.
    admin = make_user("admin", totp_confirmed=True)
    login_as(client, admin)
    token = csrf_token(client.get("/admin/users").get_data(as_text=True))
    before = _user_count(app)
    response = client.post("/admin/users", data=body, headers={
        "Content-Type": "application/json", "X-CSRFToken": token})
    assert response.status_code == 400
    assert _user_count(app) == before
