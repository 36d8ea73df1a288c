"""A whole shift through the real pages in headless Chromium (issue 5).

A staff member signs in at ``/login`` with password and TOTP, finds a case that arrived
by a signed SMS webhook posted to the running server, opens it, claims, classifies,
replies (sent by one outbox pass through a fake Twilio) and closes it. A supervisor who
enrolled an authenticator in another browser context, and loaded the case page before
the close, is refused with the name of who changed the case; the database shows nothing
of theirs was written. Every request any page makes must go to the test server.
"""

from __future__ import annotations

import urllib.request
from urllib.parse import urlencode, urlsplit

import pyotp
import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select

from hotline.extensions import db
from hotline.messaging import outbox
from hotline.models import AuditEvent, Case, Interaction
from tests.auth_flow import enrolled
from tests.browser import SCREENSHOTS, UPDATE_SCREENSHOTS_ENV, screenshot_dir
from tests.conftest import DEFAULT_PASSWORD, PUBLIC_BASE_URL, sign
from tests.twilio_fakes import TEST_ACCOUNT_SID, FakeTwilioHttp, post_signed

pytestmark = pytest.mark.browser

CALLER = "+79161234545"
HOTLINE_NUMBER = "+15005550006"
MESSAGE = ("Я военнослужащий, хочу сдаться. Нахожусь под Курском. "
           "<script>document.title='pwned'</script>")
REPLY = "Мы получили ваше сообщение. Оставайтесь на связи, мы скоро ответим."
NOTE_FIELD = "Internal note (never sent to the caller)"


@pytest.fixture
def fake() -> FakeTwilioHttp:
    return FakeTwilioHttp()


@pytest.fixture
def app(make_app, fake):
    return make_app(TWILIO_ACCOUNT_SID=TEST_ACCOUNT_SID, TWILIO_MESSAGING_FROM=HOTLINE_NUMBER,
                    TWILIO_HTTP_CLIENT=fake)


def _local_only(context) -> list[str]:
    """Record every request of ``context``; let those to 127.0.0.1 through, abort others."""
    seen: list[str] = []

    def route(route, request) -> None:
        seen.append(request.url)
        if urlsplit(request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            route.abort()

    context.route("**/*", route)
    return seen


def _post_sms(base_url: str, params: dict) -> tuple[int, str]:
    """POST a webhook to the running server, signed as Twilio signs for PUBLIC_BASE_URL."""
    request = urllib.request.Request(  # noqa: S310 - the local test server
        base_url + "/twilio/sms", data=urlencode(params).encode(), method="POST",
        headers={"X-Twilio-Signature": sign(PUBLIC_BASE_URL + "/twilio/sms", params),
                 "Content-Type": "application/x-www-form-urlencoded"})
    with urllib.request.urlopen(request) as response:  # noqa: S310 - the local test server
        return response.status, response.read().decode()


def _password_step(page, base_url: str, email: str) -> None:
    page.goto(f"{base_url}/dashboard/")
    assert urlsplit(page.url).path == "/login"  # no access without signing in
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/login/two-factor")


def _sign_in_enrolled(page, base_url: str, email: str, secret: str) -> None:
    """Password, then the current code of an authenticator enrolled earlier."""
    _password_step(page, base_url, email)
    page.get_by_label("Six-digit code").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Verify").click()
    page.wait_for_url("**/dashboard/")


def _sign_in_enrolling(page, base_url: str, email: str) -> None:
    """Password, then enrol the authenticator shown on the page (first sign-in)."""
    _password_step(page, base_url, email)
    secret = page.locator("#totp-secret").inner_text().replace(" ", "")
    page.get_by_label("Six-digit code").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Confirm and continue").click()
    page.wait_for_url("**/dashboard/")


def _count(app, model, *where) -> int:
    with app.app_context():
        return db.session.execute(select(func.count()).select_from(model).where(*where)
                                  ).scalar_one()


def test_a_shift_from_sign_in_to_close(app, fake, chromium, live_server, make_user):
    staff, secret = enrolled(make_user, "staff", display_name="Olena K.",
                             email="olena@hotline.test", languages="ru,uk")
    supervisor = make_user("supervisor", display_name="Min-jun P.",
                           email="minjun@hotline.test", languages="ko,en")

    status, twiml = _post_sms(live_server, {
        "From": CALLER, "To": HOTLINE_NUMBER, "Body": MESSAGE, "NumMedia": "0",
        "MessageSid": "SM" + "e" * 32})
    assert status == 200 and "<Response>" in twiml
    with app.app_context():
        case = db.session.execute(select(Case)).scalar_one()
        case_id, reference = case.id, case.display_reference

    mine = chromium.new_context(viewport={"width": 1280, "height": 900})
    theirs = chromium.new_context(viewport={"width": 1280, "height": 900})
    requests = [_local_only(mine), _local_only(theirs)]
    dialogs: list[str] = []
    try:
        page = mine.new_page()
        page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        _sign_in_enrolled(page, live_server, staff.email, secret)

        # The queue shows the new case; open it.
        assert page.title().startswith("(1)")
        row = page.locator("tr", has_text=reference)
        assert row.count() == 1 and "SMS" in row.inner_text()
        page.get_by_role("link", name=reference).click()
        page.wait_for_url(f"**/dashboard/cases/{reference}")

        # The caller's <script> is text on the page, never markup.
        assert MESSAGE in page.locator(".timeline").inner_text()
        assert page.locator(".timeline script").count() == 0
        assert "&lt;script&gt;document.title" in page.content()
        assert "pwned" not in page.title() and dialogs == []
        assert "+7 *** *** ** 45" in page.locator("#case-facts").inner_text()

        page.get_by_role("button", name="Claim this case").click()
        expect(page.get_by_text("You took the case.")).to_be_visible()

        page.get_by_label("Category", exact=True).select_option("surrender")
        page.get_by_label("Caller type").select_option("serviceman")
        page.get_by_label("Affiliation").select_option("russia")
        page.get_by_label("Urgency").select_option("high")
        page.get_by_role("button", name="Save classification").click()
        expect(page.get_by_text("Classification saved.")).to_be_visible()

        page.get_by_label("Reply to the caller").fill(REPLY)
        page.get_by_role("button", name="Send reply by SMS").click()
        expect(page.get_by_text("Reply queued.")).to_be_visible()
        reply_item = page.locator(".timeline li.message_out")
        assert REPLY in reply_item.inner_text()
        assert reply_item.locator(".badge").inner_text() == "queued"
        assert fake.sent == []  # nothing leaves inside the request

        # One outbox pass sends it through the fake Twilio; the page shows it accepted.
        with app.app_context():
            assert outbox.work_once().sent == 1
        assert [(r["data"]["To"], r["data"]["Body"]) for r in fake.sent] == [(CALLER, REPLY)]
        page.reload()
        assert page.locator(".timeline li.message_out .badge").inner_text() == "accepted"
        with app.app_context():
            assert db.session.get(Case, case_id).first_response_at is None  # not left yet
        # Twilio reports it delivered: only now does the case count as answered.
        sid = fake.messages[0]["sid"]
        assert post_signed(app.test_client(), "/twilio/sms/status",
                           {"MessageSid": sid, "MessageStatus": "delivered"}).status_code == 204

        # A supervisor signs in elsewhere (enrolling an authenticator) and opens the case.
        other = theirs.new_page()
        _sign_in_enrolling(other, live_server, supervisor.email)
        other.goto(f"{live_server}/dashboard/cases/{reference}")
        assert "Olena K." in other.locator("#case-facts").inner_text()

        page.get_by_label("New status").select_option("closed")
        page.get_by_label("Resolution (required to close)").select_option("handed_over")
        page.get_by_role("button", name="Change status").click()
        expect(page.get_by_text("Status changed.")).to_be_visible()
        assert "closed" in page.locator("h1").inner_text()
        assert "handed over" in page.locator("#case-facts").inner_text()

        # The supervisor acts on the page loaded before the close: a status change there
        # conflicts (the status changed under them), so it is refused, by name.
        audit_before = _count(app, AuditEvent)
        other.get_by_label("New status").select_option("waiting")
        with other.expect_response(lambda r: r.request.method == "POST") as refused:
            other.get_by_role("button", name="Change status").click()
        assert refused.value.status == 409
        alert = other.locator("#action-error")
        expect(alert).to_be_visible()
        assert "This case was changed by Olena K. after you opened it" in alert.inner_text()
        assert "nothing was saved" in alert.inner_text()
        assert "closed" in other.locator("h1").inner_text()  # the case as it is now

        # A note never conflicts (issue 13): Olena adds one, the supervisor's page is stale
        # again, and the supervisor's note is taken all the same.
        page.get_by_label(NOTE_FIELD).fill("Handed over to the partner team at 18:05.")
        page.get_by_role("button", name="Add note").click()
        expect(page.get_by_text("Note added.")).to_be_visible()
        other.get_by_label(NOTE_FIELD).fill("Late note from a stale page")
        other.get_by_role("button", name="Add note").click()
        expect(other.get_by_text("Note added.")).to_be_visible()
        with app.app_context():
            actions = db.session.execute(
                select(AuditEvent.action).order_by(AuditEvent.id).offset(audit_before)
            ).scalars().all()
        assert "case.status" not in actions and actions.count("case.note") == 2
    finally:
        mine.close()
        theirs.close()

    with app.app_context():
        row = db.session.get(Case, case_id)
        assert (row.status, row.resolution, row.category, row.caller_type, row.affiliation,
                row.urgency) == ("closed", "handed_over", "surrender", "serviceman", "russia",
                                 "high")
        assert row.assigned_to_id == staff.id
        assert row.updated_by_id == supervisor.id  # the late note was the last work
        assert row.first_response_at is not None and row.closed_at is not None
        notes = db.session.execute(select(Interaction).where(
            Interaction.case_id == case_id, Interaction.kind == "note")).scalars().all()
        assert [(n.body, n.author_id) for n in notes] == [
            ("Handed over to the partner team at 18:05.", staff.id),
            ("Late note from a stale page", supervisor.id)]
        changes = db.session.execute(select(Interaction).where(
            Interaction.case_id == case_id,
            Interaction.kind.in_(("classification_change", "status_change")),
            # The keyword rules' entry at intake and the status following the work are the
            # system's (cases.keywords, cases.workflow.STATUS_ON_WORK).
            Interaction.meta["reason"].as_string().is_(None)
            | Interaction.meta["reason"].as_string().notin_(("keyword", "work")))
        ).scalars().all()
        assert {c.author_id for c in changes} == {staff.id}
    assert _count(app, Interaction, Interaction.author_id == supervisor.id) == 1  # the note
    urls = [url for seen in requests for url in seen]
    assert any(url.endswith(".css") for url in urls) and any(url.endswith(".js") for url in urls)
    assert [url for url in urls if urlsplit(url).hostname != "127.0.0.1"] == []
    assert dialogs == []


def test_screenshots_stay_out_of_the_tree_unless_asked(tmp_path, monkeypatch):
    monkeypatch.delenv(UPDATE_SCREENSHOTS_ENV, raising=False)
    assert screenshot_dir(tmp_path) == tmp_path / "screenshots"
    monkeypatch.setenv(UPDATE_SCREENSHOTS_ENV, "0")
    assert screenshot_dir(tmp_path) == tmp_path / "screenshots"
    monkeypatch.setenv(UPDATE_SCREENSHOTS_ENV, "1")
    assert screenshot_dir(tmp_path) == SCREENSHOTS
