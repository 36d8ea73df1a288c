"""Alerts and drafts in a real browser (Chromium): the queue title updates in a background
tab, the session's end shows a banner, and a reply draft survives a refused action, an
expired session and a reload, and is forgotten once sent."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from hotline.extensions import db
from hotline.intake.service import receive
from hotline.models import Case
from tests.conftest import login_as

# Makes the page a background tab as far as scripts can tell (a tab behind another one).
HIDDEN_TAB = """
Object.defineProperty(document, "hidden", { get: () => true });
Object.defineProperty(document, "visibilityState", { get: () => "hidden" });
"""
REPLY_BOX = "Reply to the caller"


@pytest.fixture
def app(make_app):
    """The app polling every second, so the browser sees a poll without waiting 25 s."""
    return make_app(QUEUE_POLL_SECONDS=1)


def _sign_in(context, app, user, base_url: str) -> None:
    """Give ``context`` a fresh signed-in session (the cookie of a test client's sign-in)."""
    client = app.test_client()
    login_as(client, user)
    cookie = client.get_cookie(app.config.get("SESSION_COOKIE_NAME", "session"))
    context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": base_url}])


def _context(chromium, app, user, base_url: str):
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    _sign_in(context, app, user, base_url)
    return context


def test_the_title_updates_in_a_background_tab(app, chromium, live_server, make_user):
    staff = make_user("staff", display_name="Olena K.")
    context = _context(chromium, app, staff, live_server)
    context.add_init_script(HIDDEN_TAB)
    try:
        page = context.new_page()
        page.goto(f"{live_server}/dashboard/")
        assert page.evaluate("document.hidden") is True
        assert page.title() == "Queue — Hotline"
        with app.app_context():
            receive(channel="sms", address="+79160000002", body="I want to surrender now",
                    external_id="SM" + "4" * 32)
        page.wait_for_function("() => document.title.startsWith('(1) ')", timeout=15_000)
        assert page.title() == "(1) Queue — Hotline"
        assert page.locator("#favicon").get_attribute("data-count") == "1"
        assert page.locator("#favicon").get_attribute("href").startswith("data:image/png")
        notice = page.locator("#queue-notice")
        assert notice.inner_text() == "1 new case: show them"
    finally:
        context.close()


def test_the_session_end_shows_a_banner_not_the_sign_in_page(app, chromium, live_server,
                                                             make_user):
    staff = make_user("staff")
    context = _context(chromium, app, staff, live_server)
    try:
        page = context.new_page()
        page.goto(f"{live_server}/dashboard/")
        context.clear_cookies()  # the session is gone, as after the idle timeout
        banner = page.locator("#session-ended")
        banner.wait_for(state="visible", timeout=15_000)
        assert page.url == f"{live_server}/dashboard/"
        assert page.locator("#session-login").get_attribute("href") == \
            "/login?next=%2Fdashboard%2F"
        assert page.title().startswith("Signed out")
    finally:
        context.close()


def test_a_reply_draft_survives_a_refusal_an_expired_session_and_a_reload(
        app, chromium, live_server, make_user):
    staff = make_user("staff", display_name="Olena K.")
    with app.app_context():
        case_id = receive(channel="sms", address="+79160000003", body="Здравствуйте",
                          external_id="SM" + "5" * 32).case_id
        reference = db.session.get(Case, case_id).display_reference
    draft = "Мы получили ваше сообщение; оставайтесь на связи."
    context = _context(chromium, app, staff, live_server)
    try:
        page = context.new_page()
        page.goto(f"{live_server}/dashboard/cases/{reference}")
        page.get_by_label(REPLY_BOX).fill(draft)
        # A colleague classifies the case meanwhile: our classification is refused ...
        with app.app_context():
            db.session.get(Case, case_id).category = "relative"
            db.session.commit()
        page.get_by_label("Category", exact=True).select_option("surrender")
        page.get_by_role("button", name="Save classification").click()
        expect(page.locator("#action-error")).to_be_visible()
        # ... and the reply box still holds the draft, also after a reload.
        # (The draft is put back by staff.js once the page has loaded: wait for it.)
        expect(page.get_by_label(REPLY_BOX)).to_have_value(draft)
        page.goto(f"{live_server}/dashboard/cases/{reference}")
        expect(page.get_by_label(REPLY_BOX)).to_have_value(draft)

        # The session ends; sending is refused with the styled page and its way back.
        # (After the page's own requests: a poll answered after the cookies were cleared
        # would set the session cookie again.)
        page.wait_for_load_state("networkidle")
        context.clear_cookies()
        page.get_by_role("button", name="Send reply by SMS").click()
        expect(page.locator("#expired-form")).to_be_visible()
        back = page.locator("#expired-login").get_attribute("href")
        assert back == f"/login?next=/dashboard/cases/{reference}"
        # Signed in again in this tab, the sign-in page leads back to the case, draft and all.
        _sign_in(context, app, staff, live_server)
        page.goto(f"{live_server}{back}")
        page.wait_for_url(f"**/dashboard/cases/{reference}")
        expect(page.get_by_label(REPLY_BOX)).to_have_value(draft)
        expect(page.locator("#reply-draft-restored")).to_be_visible()

        page.get_by_role("button", name="Send reply by SMS").click()
        expect(page.get_by_text("Reply queued.")).to_be_visible()
        expect(page.get_by_label(REPLY_BOX)).to_have_value("")
        page.reload()
        expect(page.get_by_label(REPLY_BOX)).to_have_value("")
        kept = page.evaluate(
            "Object.keys(sessionStorage).filter(k => k.startsWith('hotline.draft:'))")
        assert kept == []
    finally:
        context.close()
