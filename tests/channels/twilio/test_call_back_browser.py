"""A call-back in Chromium: the staff member presses *Call back* on a voicemail case, the
fake Twilio gets the calls, the signed webhooks play the call, and the case page shows
the attempt and its outcome at 1280 and 375 px (README screenshot ``case-call-back.png``,
see ``screenshot`` in tests/browser.py)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from hotline.channels.twilio import dialer
from hotline.extensions import db
from hotline.models import CallLeg
from tests.channels.twilio.test_call_back import (
    CALLER,
    STAFF_PHONE,
    VOICE_FROM,
    leave_voicemail,
    leg_status,
)
from tests.conftest import login_as
from tests.twilio_fakes import TEST_ACCOUNT_SID, FakeTwilioHttp, post_signed


@pytest.fixture
def fake() -> FakeTwilioHttp:
    return FakeTwilioHttp()


@pytest.fixture
def app(make_app, fake):
    return make_app(TWILIO_ACCOUNT_SID=TEST_ACCOUNT_SID, TWILIO_VOICE_FROM=VOICE_FROM,
                    TWILIO_HTTP_CLIENT=fake)


def _legs(app) -> dict[str, CallLeg]:
    with app.app_context():
        legs = db.session.execute(select(CallLeg).order_by(CallLeg.id)).scalars().all()
        for leg in legs:
            db.session.expunge(leg)
        return {leg.role: leg for leg in legs}


def test_call_back_from_the_case_page(app, fake, chromium, live_server, make_user,
                                      screenshot):
    olena = make_user("staff", display_name="Olena K.", phone=STAFF_PHONE, languages="ru")
    hooks = app.test_client()
    reference = leave_voicemail(hooks)
    signed_in = app.test_client()
    login_as(signed_in, olena)
    cookie = signed_in.get_cookie(app.config.get("SESSION_COOKIE_NAME", "session"))
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": live_server}])
    page = context.new_page()
    outside: list[str] = []
    page.on("request", lambda r: outside.append(r.url)
            if not r.url.startswith(live_server) else None)
    page.goto(f"{live_server}/dashboard/?view=callbacks")
    assert page.get_by_role("button", name=f"Call back {reference} through the line").is_visible()
    page.goto(f"{live_server}/dashboard/cases/{reference}")
    page.get_by_role("button", name="Call back").click()
    page.wait_for_load_state()
    assert "The line is ringing your phone" in page.inner_text("body")

    with app.app_context():
        assert dialer.work_once() == 1
    staff = _legs(app)["staff"]
    leg_status(hooks, staff.id, staff.call_sid, "in-progress")
    post_signed(hooks, "/twilio/voice/screen", {"CallSid": staff.call_sid, "Digits": "1"},
                query=f"leg={staff.id}")
    with app.app_context():
        assert dialer.work_once() == 1
    caller = _legs(app)["caller"]
    leg_status(hooks, caller.id, caller.call_sid, "in-progress")
    page.reload()
    assert "On a call with Olena K." in page.inner_text("#call-back")
    leg_status(hooks, caller.id, caller.call_sid, "completed", CallDuration="125")
    leg_status(hooks, staff.id, staff.call_sid, "completed", CallDuration="131")
    page.reload()
    entry = page.locator("li.callback").inner_text()
    assert "Call back through the line by Olena K." in entry
    assert "the caller answered" in entry and "2 min 5 s" in entry
    assert "callback needed" not in page.inner_text("h1")
    body = page.inner_text("body")
    assert CALLER not in body and STAFF_PHONE not in body
    assert outside == []
    screenshot(page, "case-call-back.png")
    page.set_viewport_size({"width": 375, "height": 800})
    page.reload()
    assert page.locator("#call-back button").is_visible()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375 + 1, f"the page scrolls sideways at 375 px ({width} px)"
    context.close()
