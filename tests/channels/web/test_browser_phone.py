"""In Chromium at phone widths (320 and 375 px), in all four languages: no sideways
scrolling, the form one tap away, the receipt visible and whole, a reload that shows the
receipt again, and an error that opens at its summary without JavaScript."""

from __future__ import annotations

import pytest

from tests.channels.web.test_browser import _guard_requests

pytestmark = pytest.mark.browser

WIDTHS = (320, 375)
MESSAGES = {"en": "I want to surrender. How can I do it safely?",
            "ko": "저는 군인입니다. 안전하게 투항하고 싶습니다.",
            "ru": "Хочу сдаться. Как это сделать безопасно?",
            "uk": "Мій брат хоче здатися. Що йому робити?"}
RECEIVED = {"en": "Your message has been received", "ko": "글을 받았습니다",
            "ru": "Ваше сообщение получено", "uk": "Ваше повідомлення отримано"}


def _no_sideways_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def _in_view(page, selector: str) -> bool:
    """The element's top is on screen and it is not wider than the screen."""
    return page.evaluate("""(selector) => {
        const box = document.querySelector(selector).getBoundingClientRect();
        return box.top >= -1 && box.top < window.innerHeight && box.left >= 0
            && box.right <= window.innerWidth;
    }""", selector)


def _fits_its_box(page, selector: str) -> bool:
    """No part of the element's text sticks out of it."""
    return page.evaluate("""(selector) => {
        const el = document.querySelector(selector);
        const box = el.getBoundingClientRect(), parent = el.closest('dl').getBoundingClientRect();
        return el.scrollWidth <= el.clientWidth + 1 && box.right <= parent.right + 0.5;
    }""", selector)


@pytest.mark.parametrize("lang", list(MESSAGES))
@pytest.mark.parametrize("width", WIDTHS)
def test_phone_form_and_receipt(chromium, live_server, lang, width):
    context = chromium.new_context(viewport={"width": width, "height": 640})
    try:
        page = context.new_page()
        foreign = _guard_requests(page, live_server)
        page.goto(f"{live_server}/{lang}/")
        assert _no_sideways_scroll(page)
        # "Write to us" is on the first screen and leads to the form.
        assert _in_view(page, "p.jump a")
        page.click("p.jump a")
        page.wait_for_function("location.hash === '#write'")
        assert _in_view(page, "#write") and _no_sideways_scroll(page)

        page.fill("#message", MESSAGES[lang])
        page.click("form.card button[type=submit]")
        page.wait_for_selector("#receipt")
        assert page.url.endswith(f"/{lang}/received#main")
        assert page.inner_text("h1") == RECEIVED[lang]
        receipt = page.inner_text("#receipt").split()
        assert len("".join(receipt)) == 16
        assert _no_sideways_scroll(page) and _in_view(page, "#receipt")
        assert _fits_its_box(page, "#receipt") and _fits_its_box(page, "#reference")

        page.reload()  # within ten minutes, in the same browser: the same receipt again
        page.wait_for_selector("#receipt")
        assert page.inner_text("#receipt").split() == receipt
        assert foreign == []
    finally:
        context.close()


@pytest.mark.parametrize("lang", ["ko", "uk"])
def test_an_error_opens_at_the_summary_without_javascript(chromium, live_server, lang):
    context = chromium.new_context(java_script_enabled=False,
                                   viewport={"width": 320, "height": 640})
    try:
        page = context.new_page()
        page.goto(f"{live_server}/{lang}/")
        page.click("form.card button[type=submit]")  # nothing written
        page.wait_for_selector("#error-summary")
        assert page.evaluate("window.scrollY") > 300  # the form is screens down the page
        assert _in_view(page, "#error-summary") and _no_sideways_scroll(page)
        page.click("#error-summary a[href='#message-field']")
        assert page.url.endswith("#message-field") and _in_view(page, "#message-field")
        page.fill("#message", MESSAGES[lang])
        page.click("form.card button[type=submit]")
        page.wait_for_selector("#receipt")
        assert page.inner_text("h1") == RECEIVED[lang]
    finally:
        context.close()
