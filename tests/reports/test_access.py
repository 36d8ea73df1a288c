"""Who may see the reports: supervisors and admins only, fully signed in."""

from __future__ import annotations

import pytest

from hotline.security_headers import CONTENT_SECURITY_POLICY
from tests.conftest import login_as

PATHS = ("/reports/", "/reports/export.csv")


@pytest.mark.parametrize("path", PATHS)
def test_anonymous_visitors_are_sent_to_login(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")
    assert "reports" in response.headers["Location"]


@pytest.mark.parametrize("path", PATHS)
def test_staff_are_refused(client, make_user, path):
    login_as(client, make_user("staff"))
    assert client.get(path).status_code == 403


@pytest.mark.parametrize("path", PATHS)
def test_password_without_second_factor_is_not_enough(client, make_user, path):
    user = make_user("supervisor")
    with client.session_transaction() as sess:
        sess["_user_id"] = user.get_id()
    assert client.get(path).status_code == 302


@pytest.mark.parametrize("role", ["supervisor", "admin"])
def test_supervisors_and_admins_see_the_page(client, make_user, role):
    login_as(client, make_user(role))
    response = client.get("/reports/")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert "0</span> cases opened" in response.get_data(as_text=True)
    assert client.get("/reports/export.csv").status_code == 200
