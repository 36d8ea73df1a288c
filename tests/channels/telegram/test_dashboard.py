"""A Telegram message becomes a case staff see and answer from the dashboard; the answer
reaches the (fake) Bot API with the right chat id; its status shows on the timeline. The
chat id never appears on a page, in the API or in a URL."""

from __future__ import annotations

import json

from sqlalchemy import select

from hotline.api.tokens import create_token
from hotline.extensions import db
from hotline.messaging import outbox
from hotline.models import AuditEvent, Case
from tests.channels.telegram.conftest import (
    BOT_TOKEN,
    CHAT_ID,
    expect_send,
    message,
    post_update,
    sent_requests,
)
from tests.conftest import login_as
from tests.dashboard_support import case_url, post_action


def test_staff_answer_a_telegram_case_from_the_dashboard(tg_app, tg_client, fake_api, staff):
    post_update(tg_client, message(42, "Я хочу сдаться. Что делать?", language_code="ru"))
    with tg_app.app_context():
        reference = db.session.execute(select(Case)).scalar_one().display_reference
    login_as(tg_client, staff)

    queue = tg_client.get("/dashboard/?channel=telegram").get_data(as_text=True)
    assert reference in queue
    assert reference not in tg_client.get("/dashboard/?channel=sms").get_data(as_text=True)

    page = tg_client.get(case_url(reference)).get_data(as_text=True)
    assert "Я хочу сдаться. Что делать?" in page and "Telegram chat" in page
    assert "Send reply by Telegram" in page and "Reveal number" not in page
    assert str(CHAT_ID) not in page

    expect_send(fake_api)
    answer = post_action(tg_client, reference, "reply", body="Мы здесь. Вы в безопасности?")
    assert answer.status_code == 303
    with tg_app.app_context():
        report = outbox.work_once()
    assert report.sent == 2  # the auto-reply and the staff answer
    sent = sent_requests(fake_api)
    assert [r["chat_id"] for r in sent] == [CHAT_ID, CHAT_ID]
    assert sent[1] == {"chat_id": CHAT_ID, "text": "Мы здесь. Вы в безопасности?",
                       "link_preview_options": {"is_disabled": True}}

    page = tg_client.get(case_url(reference)).get_data(as_text=True)
    assert page.count("badge-delivery-sent") == 2 and str(CHAT_ID) not in page


def test_a_failed_send_shows_telegrams_description_on_the_timeline(tg_app, tg_client,
                                                                  fake_api, staff):
    post_update(tg_client, message(43, "/stop"))
    with tg_app.app_context():
        case = db.session.execute(select(Case)).scalar_one()
        case.caller.opted_out = False  # staff write anyway; Telegram says the bot is blocked
        db.session.commit()
        reference = case.display_reference
    login_as(tg_client, staff)
    expect_send(fake_api, status=403, answer={
        "ok": False, "error_code": 403, "description": "Forbidden: bot was blocked by the user"})
    post_action(tg_client, reference, "reply", body="Вы на связи?")
    with tg_app.app_context():
        assert outbox.work_once().failed == 1
    page = tg_client.get(case_url(reference)).get_data(as_text=True)
    assert "badge-delivery-failed" in page
    assert "Forbidden: bot was blocked by the user" in page
    assert "opted out" in page


def test_the_api_never_shows_the_chat_id(tg_app, tg_client):
    post_update(tg_client, message(44, "Привет"))
    with tg_app.app_context():
        _row, token = create_token("api", "staff")
        db.session.commit()
        reference = db.session.execute(select(Case)).scalar_one().display_reference
    headers = {"Authorization": f"Bearer {token}"}
    detail = tg_client.get(f"/api/v1/cases/{reference}", headers=headers)
    assert detail.status_code == 200
    body = detail.get_data(as_text=True)
    assert str(CHAT_ID) not in body
    items = json.loads(body)["interactions"]
    assert items[0]["channel"] == "telegram" and items[0]["external_id"].startswith("tg-44-")
    listing = tg_client.get("/api/v1/cases?channel=telegram", headers=headers).get_json()
    assert [item["reference"] for item in listing["items"]] == [reference]
    stats = tg_client.get("/api/v1/stats", headers=headers).get_json()
    assert stats["by_channel"]["telegram"] == 1


def test_reports_and_the_csv_export_count_telegram(tg_app, tg_client, supervisor):
    post_update(tg_client, message(45, "Привет"))
    login_as(tg_client, supervisor)
    report = tg_client.get("/reports/?channel=telegram")
    assert report.status_code == 200 and "telegram" in report.get_data(as_text=True)
    export = tg_client.get("/reports/export.csv")
    assert export.status_code == 200
    rows = export.get_data(as_text=True).splitlines()
    assert len(rows) == 2 and ",telegram," in rows[1]
    assert str(CHAT_ID) not in export.get_data(as_text=True)


def test_telegram_photos_edits_and_unshown_content_on_the_case_page(tg_app, tg_client,
                                                                    fake_api, staff):
    """A photo shows inline, streamed by the app from Telegram's file host (the bot token
    never reaches the page); a document downloads; edits and polls are marked; every view
    is audited; a file Telegram no longer has is a 404, not a 500."""
    photo = [{"file_id": "AgAD-large", "file_unique_id": "b", "width": 800, "height": 600}]
    post_update(tg_client, message(60, None, caption="Вот фото", photo=photo))
    post_update(tg_client, message(61, None, document={
        "file_id": "BQAD-doc", "file_unique_id": "c", "mime_type": "application/pdf"}))
    post_update(tg_client, message(62, "Я в Петровке", message_id=60, key="edited_message",
                                   edit_date=1767226000))
    post_update(tg_client, message(63, None, poll={"id": "1", "question": "?"}))
    with tg_app.app_context():
        case = db.session.execute(select(Case)).scalar_one()
        reference = case.display_reference
        ids = [i.id for i in case.interactions if i.kind == "message_in"]
    login_as(tg_client, staff)
    page = tg_client.get(case_url(reference)).get_data(as_text=True)
    photo_url = f"/dashboard/cases/{reference}/media/{ids[0]}/0"
    doc_url = f"/dashboard/cases/{reference}/media/{ids[1]}/0"
    assert f'<img src="{photo_url}"' in page and f'href="{doc_url}" download' in page
    assert ">edited<" in page and "(sent a poll, not shown here)" in page
    assert BOT_TOKEN not in page and "AgAD-large" not in page

    jpeg = b"\xff\xd8\xff\xe0 a tiny jpeg"
    fake_api.expect_request(f"/bot{BOT_TOKEN}/getFile", method="POST",
                            json={"file_id": "AgAD-large"}).respond_with_json(
        {"ok": True, "result": {"file_id": "AgAD-large", "file_path": "photos/file_1.jpg",
                                "file_size": len(jpeg)}})
    fake_api.expect_request(f"/file/bot{BOT_TOKEN}/photos/file_1.jpg").respond_with_data(
        jpeg, content_type="image/jpeg")
    shown = tg_client.get(photo_url)
    assert shown.status_code == 200 and shown.data == jpeg
    assert shown.mimetype == "image/jpeg" and shown.headers["Content-Disposition"] == "inline"
    assert shown.headers["X-Content-Type-Options"] == "nosniff"

    fake_api.expect_request(f"/bot{BOT_TOKEN}/getFile", method="POST",
                            json={"file_id": "BQAD-doc"}).respond_with_json(
        {"ok": False, "error_code": 400, "description": "Bad Request: file is too old"},
        status=400)
    assert tg_client.get(doc_url).status_code == 404
    assert tg_client.get(f"/dashboard/cases/{reference}/media/{ids[0]}/5").status_code == 404
    with tg_app.app_context():
        views = db.session.execute(select(AuditEvent).where(
            AuditEvent.action == "case.media_view")).scalars().all()
        assert [v.detail["interaction_id"] for v in views] == [ids[0]]
