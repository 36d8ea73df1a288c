"""The first sign-in's steps are named in the order the pages really ask for them."""

from __future__ import annotations

import re

import pytest

from hotline.auth.steps import FIRST_SIGN_IN_STEPS, pending_steps, step_texts
from tests.auth_flow import (
    NEW_PASSWORD,
    FakeClock,
    code_at,
    code_step,
    password_step,
    secret_from,
    submit,
)
from tests.conftest import login_as

# The page each step key is asked on.
STEP_PAGES = {"enrol": "/login/two-factor", "new_password": "/login/new-password"}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def app(make_app, clock):
    return make_app(AUTH_CLOCK=clock)


def _first_admin(app) -> tuple[str, str]:
    result = app.test_cli_runner().invoke(args=["users", "ensure-admin",
                                                "--email", "first@hotline.test"])
    assert result.exit_code == 0, result.output
    return result.output, re.search(r"one-time password:\s+(\S+)", result.output).group(1)


def test_the_pages_follow_the_declared_order(app, client, clock):
    output, password = _first_admin(app)
    visited = [password_step(client, "first@hotline.test", password).location]
    enrol_page = client.get("/login/two-factor").get_data(as_text=True)
    assert 'id="next-step"' in enrol_page  # the enrolment page says what comes after it
    visited.append(code_step(client, code_at(secret_from(enrol_page), clock.now)).location)
    done = submit(client, "/login/new-password", "/login/new-password",
                  {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert done.location.endswith("/dashboard/")
    walked = [path.rsplit("localhost", 1)[-1] for path in visited]
    assert walked == [STEP_PAGES[key] for key in FIRST_SIGN_IN_STEPS]


def test_ensure_admin_names_the_steps_in_that_order(app):
    output, _ = _first_admin(app)
    line = next(line for line in output.splitlines() if line.startswith("sign in with it"))
    positions = [line.index(str(text)) for text in FIRST_SIGN_IN_STEPS.values()]
    assert positions == sorted(positions) and "1)" in line and "2)" in line
    assert list(FIRST_SIGN_IN_STEPS) == ["enrol", "new_password"]


def test_admin_pages_list_the_steps_in_order(app, client, make_user, clock):
    admin = make_user("admin")
    login_as(client, admin, at=clock.now)
    listing = client.get("/admin/users").get_data(as_text=True)
    block = listing.split('id="sign-in-steps"', 1)[1].split("</ol>", 1)[0]
    with app.test_request_context():
        texts = step_texts()
    assert [block.index(text) for text in texts] == sorted(block.index(t) for t in texts)


def test_pending_steps_leave_out_what_is_done(make_user, app):
    class Account:
        totp_confirmed = True
        must_change_password = True

    assert pending_steps(Account()) == ["new_password"]
    Account.must_change_password = False
    assert pending_steps(Account()) == []
    assert pending_steps(None) == ["enrol", "new_password"]
