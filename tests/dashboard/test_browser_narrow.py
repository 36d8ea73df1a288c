"""The not-safe parts of the case page on a 375 px phone screen, in Chromium.

A web case whose caller said it is not safe to contact them, with a long unbroken alias:
the page must not scroll sideways (the alias wraps inside "What the caller told us"), and
the "I confirm …" checkboxes of the callback forms sit beside their labels, not as a
full-width box above them.
"""

from __future__ import annotations

from tests.conftest import login_as
from tests.web_helpers import reference_and_receipt, send_contact

PHONE_WIDTH = 375
LONG_ALIAS = "Саша" + "оченьдлинноеимя" * 4


def test_not_safe_case_page_fits_a_phone_screen(app, chromium, live_server, staff):
    sent = send_contact(app.test_client(), "ru", language="ru", name=LONG_ALIAS,
                        message="Не звоните мне, отвечайте здесь.", contact="+7 916 555 12 34",
                        region="Белгородская область", contact_ok="no")
    reference, _ = reference_and_receipt(sent.get_data(as_text=True))
    client = app.test_client()
    login_as(client, staff)
    cookie = client.get_cookie(app.config.get("SESSION_COOKIE_NAME", "session"))
    context = chromium.new_context(viewport={"width": PHONE_WIDTH, "height": 800})
    context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": live_server}])
    try:
        page = context.new_page()
        page.goto(f"{live_server}/dashboard/cases/{reference}")
        assert page.evaluate("document.documentElement.scrollWidth") == PHONE_WIDTH
        told = page.locator(".told-us").bounding_box()
        assert told is not None and told["x"] + told["width"] <= PHONE_WIDTH
        assert page.locator("#contact-safety").inner_text() == "Not safe to contact"
        assert LONG_ALIAS in page.locator(".told-name").inner_text().replace("\n", "")
        boxes = page.locator(".check input[type=checkbox]")
        assert boxes.count() >= 1
        for box in boxes.all():
            check = box.bounding_box()
            label = page.locator(f"label[for='{box.get_attribute('id')}']").bounding_box()
            assert check is not None and label is not None
            assert check["width"] < 40  # a checkbox, not a stretched input
            assert check["x"] + check["width"] <= label["x"]  # beside the label
            assert check["y"] < label["y"] + label["height"] and label["y"] < check["y"] + 40
    finally:
        context.close()
