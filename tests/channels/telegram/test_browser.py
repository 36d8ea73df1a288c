"""A Telegram case worked end to end in Chromium: updates arrive through the real webhook,
staff find the case with the channel filter, read it, answer it; one outbox pass sends the
answer to the fake Bot API with the caller's chat id, and the timeline shows it sent.
Takes the README screenshot ``telegram-case.png`` (see ``screenshot`` in tests/browser.py)."""

from __future__ import annotations

import re

from sqlalchemy import select

from hotline.extensions import db
from hotline.messaging import outbox
from hotline.models import Case
from tests.browser import png
from tests.channels.telegram.conftest import (
    BOT_TOKEN,
    CHAT_ID,
    expect_send,
    message,
    post_update,
    sent_requests,
)
from tests.conftest import login_as

ANSWER = "Мы получили ваше сообщение. Удалите переписку, если телефон проверяют."


def test_a_telegram_case_worked_end_to_end_in_the_browser(tg_app, tg_client, tg_live_server,
                                                          chromium, make_user, fake_api,
                                                          screenshot):
    staff = make_user("staff", display_name="Olena K.", languages="ru,uk,en")
    post_update(tg_client, message(1, "/start", language_code="ru"))
    post_update(tg_client, message(2, "Я военнослужащий, хочу сдаться. <script>x()</script>"))
    photo = [{"file_id": "AgAD-photo", "file_unique_id": "p", "width": 800, "height": 600}]
    post_update(tg_client, message(3, None, caption="Это мой жетон", photo=photo))
    post_update(tg_client, message(4, "Я под Курском", message_id=3, key="edited_message",
                                   edit_date=1767226000))
    expect_send(fake_api)
    with tg_app.app_context():
        assert outbox.work_once().sent == 1  # the auto-reply
        reference = db.session.execute(select(Case)).scalar_one().display_reference

    client = tg_app.test_client()
    login_as(client, staff)
    cookie = client.get_cookie(tg_app.config.get("SESSION_COOKIE_NAME", "session"))
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": tg_live_server}])
    hosts: set[str] = set()
    try:
        page = context.new_page()
        page.on("request", lambda request: hosts.add(request.url.split("/")[2]))
        page.goto(f"{tg_live_server}/dashboard/")
        page.get_by_label("Channel").select_option("telegram")
        page.get_by_role("button", name="Apply filters").click()
        page.wait_for_url("**channel=telegram**")
        # The photo: the app asks getFile and streams the file to the page itself.
        fake_api.expect_request(f"/bot{BOT_TOKEN}/getFile", method="POST",
                                json={"file_id": "AgAD-photo"}).respond_with_json(
            {"ok": True, "result": {"file_id": "AgAD-photo", "file_path": "photos/file_3.jpg"}})
        fake_api.expect_request(f"/file/bot{BOT_TOKEN}/photos/file_3.jpg").respond_with_data(
            png(160, 90), content_type="image/jpeg")
        page.get_by_role("link", name=reference).click()
        page.wait_for_url(f"**/dashboard/cases/{reference}")
        image = page.locator(".attachments img")
        image.wait_for()
        page.wait_for_function("() => document.querySelector('.attachments img').complete")
        assert image.evaluate("e => e.naturalWidth") == 160

        facts = page.locator("#case-facts").inner_text()
        assert "Telegram chat" in facts and str(CHAT_ID) not in page.content()
        assert page.get_by_role("button", name=re.compile("Reveal")).count() == 0
        timeline = page.locator(".timeline").inner_text()
        assert timeline.count("<script>x()</script>") == 1
        assert "Это мой жетон" in timeline and "edited" in timeline
        assert "Я под Курском" in timeline

        page.get_by_role("button", name="Claim this case").click()
        page.get_by_label("Reply to the caller").fill(ANSWER)
        page.get_by_role("button", name="Send reply by Telegram").click()
        assert page.get_by_text("Reply queued.").is_visible()
        with tg_app.app_context():
            assert outbox.work_once().sent == 1
        page.reload()
        replies = page.locator(".timeline li.message_out")
        assert replies.count() == 2
        assert replies.nth(1).locator(".badge-delivery-sent").count() == 1
        assert ANSWER in replies.nth(1).inner_text()
        screenshot(page, "telegram-case.png")
        page.set_viewport_size({"width": 375, "height": 800})  # a phone: still answerable
        assert page.get_by_role("button", name="Send reply by Telegram").is_visible()
    finally:
        context.close()

    assert sent_requests(fake_api)[-1] == {
        "chat_id": CHAT_ID, "text": ANSWER, "link_preview_options": {"is_disabled": True}}
    assert hosts == {tg_live_server.split("/")[2]}  # the page loads nothing from elsewhere
