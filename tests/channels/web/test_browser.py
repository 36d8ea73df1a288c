"""In a real browser: write in Korean, get a receipt, come back through /followup.

Headless Debian Chromium through Playwright. Every request the pages make is recorded,
and anything not addressed to the test server is blocked and fails the test.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from hotline.extensions import db
from hotline.models import Case, Interaction

pytestmark = pytest.mark.browser

KOREAN_MESSAGE = "저는 군인입니다. 투항하고 싶습니다. 안전하게 연락할 방법을 알려 주십시오."
STAFF_REPLY = "글을 잘 받았습니다. 지금 있는 곳에서 안전하게 기다리십시오. 곧 다시 답하겠습니다."


@pytest.fixture
def app(make_app):
    return make_app(HOTLINE_PHONE_DISPLAY="+1 555 010 0199",
                    HOTLINE_WHATSAPP_DISPLAY="+1 555 010 0200")


def _guard_requests(page, base_url: str) -> list[str]:
    """Record every request; abort and remember those to any other host."""
    own = urlsplit(base_url).netloc
    foreign: list[str] = []

    def route(route, request) -> None:
        if urlsplit(request.url).netloc == own or request.url.startswith("data:"):
            route.continue_()
        else:
            foreign.append(request.url)
            route.abort()

    page.route("**/*", route)
    return foreign


def _fits(page, width: int) -> bool:
    page.set_viewport_size({"width": width, "height": 800})
    return page.evaluate("document.documentElement.scrollWidth") <= width


def test_korean_form_then_followup(app, page, live_server, screenshot):
    foreign = _guard_requests(page, live_server)

    page.goto(f"{live_server}/ko/")
    assert page.get_attribute("html", "lang") == "ko"
    assert _fits(page, 320)
    page.set_viewport_size({"width": 390, "height": 844})
    box = page.locator("#website").bounding_box()  # the honeypot is out of sight
    assert box is None or box["x"] + box["width"] <= 0
    screenshot(page, "public-form-ko.png")

    page.fill("#message", KOREAN_MESSAGE)
    page.fill("#name", "철수")
    page.select_option("#language", "ko")
    page.click("button[type=submit]")
    page.wait_for_selector("#receipt")
    assert page.inner_text("h1") == "글을 받았습니다"
    reference = page.inner_text("#reference").strip()
    receipt = page.inner_text("#receipt").strip()
    assert len(receipt.replace(" ", "")) == 16
    assert receipt.replace(" ", "") not in page.url

    with app.app_context():
        case = db.session.execute(select(Case)).scalar_one()
        assert case.display_reference == reference and case.channel == "web"
        assert case.interactions[0].body == KOREAN_MESSAGE
        db.session.add(Interaction(case_id=case.id, kind="message_out", channel="web",
                                   body=STAFF_REPLY, delivery_status="published"))
        db.session.commit()
        case_id = case.id

    page.click("a.button")  # "답 읽기"
    assert urlsplit(page.url).path == "/followup"
    assert page.get_attribute("html", "lang") == "ko"
    page.fill("#reference", reference.lower())
    page.fill("#receipt", receipt)
    page.click("button[type=submit]")
    page.wait_for_selector("ol.thread")
    assert receipt.replace(" ", "") not in page.url
    thread = page.inner_text("ol.thread")
    assert KOREAN_MESSAGE in thread and STAFF_REPLY in thread

    page.fill("#message", "감사합니다. 기다리겠습니다.")
    page.click("form.card button[type=submit]")
    page.wait_for_selector("p.notice.ok")
    assert "감사합니다. 기다리겠습니다." in page.inner_text("ol.thread")
    assert _fits(page, 320)
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, "followup.png")

    with app.app_context():
        bodies = db.session.execute(
            select(Interaction.body).where(Interaction.case_id == case_id,
                                           Interaction.kind == "message_in")
            .order_by(Interaction.id)).scalars().all()
        assert bodies == [KOREAN_MESSAGE, "감사합니다. 기다리겠습니다."]
    assert foreign == []


def test_works_without_javascript_on_a_320px_screen(app, chromium, live_server):
    context = chromium.new_context(java_script_enabled=False,
                                   viewport={"width": 320, "height": 640})
    try:
        page = context.new_page()
        foreign = _guard_requests(page, live_server)
        page.goto(f"{live_server}/ru/")
        page.click("button[type=submit]")  # empty message: errors in Russian
        assert "Пожалуйста, напишите сообщение." in page.inner_text("#message-error")
        page.fill("#message", "Хочу сдаться. Как это сделать безопасно?")
        page.click("button[type=submit]")
        assert page.inner_text("h1") == "Ваше сообщение получено"
        assert page.inner_text("#receipt").strip()
        assert foreign == []
    finally:
        context.close()
