"""In Chromium: first sign-in with password, authenticator enrolment and a TOTP code."""

from __future__ import annotations

import pyotp
import pytest

from tests.conftest import DEFAULT_PASSWORD

pytestmark = pytest.mark.browser


def test_sign_in_with_totp_enrolment_lands_on_admin_users(live_server, page, make_user,
                                                          screenshot):
    admin = make_user("admin", display_name="Ada Admin", email="ada@hotline.test")
    make_user("staff", display_name="Olena Kovalenko", email="olena@hotline.test",
              languages="ru,uk", on_duty=True, phone="+380441234567", totp_confirmed=True,
              totp_secret=pyotp.random_base32())
    make_user("supervisor", display_name="Min-jun Park", email="minjun@hotline.test",
              languages="ko,en", totp_confirmed=True, totp_secret=pyotp.random_base32())

    page.goto(f"{live_server}/admin/users")
    assert "/login?next=" in page.url
    page.get_by_label("Email address").fill(admin.email)
    page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Sign in").click()

    page.wait_for_url("**/login/two-factor")
    assert page.locator("svg").count() == 1
    secret = page.locator("#totp-secret").inner_text().replace(" ", "")
    screenshot(page, "enrol-2fa.png")

    page.get_by_label("Six-digit code").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Confirm and continue").click()

    page.wait_for_url("**/admin/users")
    assert page.get_by_role("heading", name="Users").is_visible()
    assert page.get_by_text("Olena Kovalenko").is_visible()
    assert page.get_by_role("button", name="Sign out").is_visible()
    screenshot(page, "admin-users.png")

    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/login")
    page.goto(f"{live_server}/admin/users")
    assert "/login?next=" in page.url
