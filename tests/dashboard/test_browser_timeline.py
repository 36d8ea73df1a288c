"""The case page in Chromium for a web case marked not safe, a voice case and an MMS case,
each made through the real front doors. Takes the README screenshots ``case-web-unsafe.png``,
``case-voice.png`` and ``case-mms.png`` (see ``screenshot`` in tests/browser.py)."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from hotline.extensions import db
from hotline.models import Case
from tests.browser import png
from tests.conftest import login_as
from tests.twilio_fakes import TEST_ACCOUNT_SID, FakeTwilioHttp, parse_twiml, post_signed
from tests.web_helpers import reference_and_receipt, send_contact

HOTLINE = "+15005550006"
MEDIA = (f"https://api.twilio.com/2010-04-01/Accounts/{TEST_ACCOUNT_SID}/Messages/MM{'6' * 32}"
         f"/Media/ME{'7' * 32}")


PNG = png()


@pytest.fixture
def fake() -> FakeTwilioHttp:
    fake = FakeTwilioHttp()
    fake.media[MEDIA] = (200, PNG, {"Content-Type": "image/png"})
    return fake


@pytest.fixture
def app(make_app, fake):
    return make_app(TWILIO_ACCOUNT_SID=TEST_ACCOUNT_SID, TWILIO_HTTP_CLIENT=fake,
                    TWILIO_MESSAGING_FROM=HOTLINE)


def _signed_in(chromium, app, user, base_url: str, width: int):
    client = app.test_client()
    login_as(client, user)
    cookie = client.get_cookie(app.config.get("SESSION_COOKIE_NAME", "session"))
    context = chromium.new_context(viewport={"width": width, "height": 900})
    context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": base_url}])
    return context


def _newest(app) -> str:
    with app.app_context():
        return db.session.execute(select(Case).order_by(Case.id.desc())).scalars().first(
        ).display_reference


def _voice_case(client, staff_id: int) -> None:
    call = {"CallSid": "CA" + "8" * 32, "From": "+79161230099", "To": HOTLINE,
            "CallStatus": "ringing"}
    post_signed(client, "/twilio/voice", call)
    dial = parse_twiml(post_signed(client, "/twilio/voice/language",
                                   {**call, "Digits": "2"}).text)
    screen = urlsplit(next(dial.iter("Number")).get("url"))
    post_signed(client, screen.path, {"CallSid": "CA" + "9" * 32, "ParentCallSid": call["CallSid"],
                                      "Digits": "1"}, screen.query)
    post_signed(client, "/twilio/voice/dial-result", {**call, "DialCallStatus": "completed"},
                "lang=ru")
    post_signed(client, "/twilio/voice/status", {**call, "CallStatus": "completed",
                                                 "CallDuration": "312"})


def test_case_pages_read_right_in_the_browser(app, chromium, live_server, make_user,
                                              screenshot):
    staff = make_user("staff", display_name="Olena K.", languages="ru,uk,en",
                      phone="+380501112233", on_duty=True)
    twilio = app.test_client()
    sent = send_contact(app.test_client(), "ru", language="ru", name="Саша",
                        message="Телефон проверяют. Не звоните мне, отвечайте здесь.",
                        contact="+7 916 555 12 34", region="Белгород", contact_ok="no")
    web_ref, _ = reference_and_receipt(sent.get_data(as_text=True))
    _voice_case(twilio, staff.id)
    voice_ref = _newest(app)
    post_signed(twilio, "/twilio/sms", {
        "MessageSid": "MM" + "6" * 32, "From": "+79161230011", "To": HOTLINE, "NumMedia": "1",
        "Body": "Вот мой военный билет", "MediaUrl0": MEDIA, "MediaContentType0": "image/png"})
    mms_ref = _newest(app)

    for width in (1280, 375):
        context = _signed_in(chromium, app, staff, live_server, width)
        try:
            page = context.new_page()
            outside: list[str] = []
            page.on("request", lambda r, seen=outside: seen.append(r.url)
                    if not r.url.startswith(live_server) else None)
            page.goto(f"{live_server}/dashboard/cases/{web_ref}")
            safety = page.locator("#contact-safety")
            assert safety.inner_text() == "Not safe to contact"
            assert safety.evaluate("e => getComputedStyle(e).backgroundColor") == \
                "rgb(207, 34, 46)"
            assert "Белгород" in page.locator(".told-us").inner_text()
            assert "555 12 34" not in page.content()
            assert page.locator("#reply-unsafe").is_visible()
            if width == 1280:
                screenshot(page, "case-web-unsafe.png")

            page.goto(f"{live_server}/dashboard/cases/{voice_ref}")
            assert "answered by Olena K. (call lasted 5 min 12 s)" in \
                page.locator(".timeline").inner_text()
            assert page.locator("#contact-safety").inner_text() == "Not asked"
            if width == 1280:
                screenshot(page, "case-voice.png")

            page.goto(f"{live_server}/dashboard/cases/{mms_ref}")
            image = page.locator(".attachments img")
            image.wait_for()
            page.wait_for_function("() => document.querySelector('.attachments img').complete")
            assert image.evaluate("e => e.naturalWidth") == 2  # streamed by the app
            box = image.bounding_box()
            assert box is not None and box["x"] + box["width"] <= width
            if width == 1280:
                screenshot(page, "case-mms.png")
            assert outside == []
        finally:
            context.close()
