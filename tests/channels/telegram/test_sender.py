"""Replies to Telegram callers: the outbox's sender against a local fake Bot API.

Each test declares what the fake answers and asserts the exact requests the app made.
"""

from __future__ import annotations

import socket
import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import select
from werkzeug import Response

from hotline.cases import reply_policy
from hotline.extensions import db
from hotline.intake.service import receive
from hotline.messaging import outbox
from hotline.models import Caller, Case, Interaction, utcnow
from tests.channels.telegram.conftest import (
    BOT_TOKEN,
    CHAT_ID,
    SECRET,
    expect_send,
    sent_requests,
)

REPLY = "Мы на связи. Напишите, когда будет безопасно: https://example.org/x *bold* <b>"


def telegram_case(address: str = str(CHAT_ID)) -> int:
    return receive(channel="telegram", address=address, body="Помогите",
                   external_id=f"tg-1-{address}").case.id


def queue(case_id: int, body: str = REPLY) -> int:
    message = outbox.store_outgoing(db.session.get(Case, case_id), body, None)
    db.session.commit()
    return message.id


def reload(message_id: int) -> Interaction:
    return db.session.get(Interaction, message_id, populate_existing=True)


def test_a_reply_is_sent_as_plain_text_without_link_preview(tg_app, fake_api):
    expect_send(fake_api, message_id=91)
    with tg_app.app_context():
        message_id = queue(telegram_case())
        assert reload(message_id).channel == "telegram"
        assert outbox.work_once().sent == 1
        sent = reload(message_id)
        assert sent.delivery_status == "sent" and sent.send_attempts == 1
        assert sent.last_error is None
        assert sent.external_id.startswith("tgm-91-") and str(CHAT_ID) not in sent.external_id
    (request, _), = fake_api.log
    assert request.method == "POST" and request.path == f"/bot{BOT_TOKEN}/sendMessage"
    assert request.get_json() == {"chat_id": CHAT_ID, "text": REPLY,
                                  "link_preview_options": {"is_disabled": True}}


def test_429_waits_for_retry_after_then_sends(tg_app, fake_api):
    fake_api.expect_ordered_request(f"/bot{BOT_TOKEN}/sendMessage").respond_with_json(
        {"ok": False, "error_code": 429, "description": "Too Many Requests: retry after 37",
         "parameters": {"retry_after": 37}}, status=429)
    fake_api.expect_ordered_request(f"/bot{BOT_TOKEN}/sendMessage").respond_with_json(
        {"ok": True, "result": {"message_id": 5}})
    with tg_app.app_context():
        message_id = queue(telegram_case())
        now = utcnow()
        assert outbox.work_once(now=now).retrying == 1
        waiting = reload(message_id)
        assert waiting.delivery_status == "queued"
        assert waiting.next_attempt_at == now + timedelta(seconds=37)
        assert "Too Many Requests" in waiting.last_error
        assert outbox.work_once(now=now + timedelta(seconds=36)).handled == 0
        assert outbox.work_once(now=now + timedelta(seconds=37)).sent == 1
        assert reload(message_id).delivery_status == "sent"
    assert len(sent_requests(fake_api)) == 2


def test_blocked_by_the_user_fails_and_marks_the_caller_opted_out(tg_app, fake_api):
    expect_send(fake_api, answer={"ok": False, "error_code": 403,
                                  "description": "Forbidden: bot was blocked by the user"},
                status=403)
    with tg_app.app_context():
        case_id = telegram_case()
        first, second = queue(case_id), queue(case_id, "второе")
        report = outbox.work_once()
        assert (report.failed, report.not_sent) == (1, 1)
        failed = reload(first)
        assert failed.delivery_status == "failed"
        assert failed.last_error == ("failed after 1 attempt(s): Telegram error 403: "
                                     "Forbidden: bot was blocked by the user")
        caller = db.session.execute(select(Caller)).scalar_one()
        assert caller.opted_out and caller.opt_out_keyword == outbox.BLOCKED_KEYWORD
        # The next message is not even tried.
        assert reload(second).delivery_status == "not_sent"
        assert reload(second).last_error == reply_policy.OPTED_OUT
    assert len(sent_requests(fake_api)) == 1


def test_a_bad_request_fails_with_telegrams_description(tg_app, fake_api):
    expect_send(fake_api, answer={"ok": False, "error_code": 400,
                                  "description": "Bad Request: chat not found"}, status=400)
    with tg_app.app_context():
        message_id = queue(telegram_case())
        assert outbox.work_once().failed == 1
        assert "Bad Request: chat not found" in reload(message_id).last_error
        assert not db.session.execute(select(Caller)).scalar_one().opted_out


def test_a_server_error_is_retried_with_backoff(tg_app, fake_api):
    expect_send(fake_api, answer={"ok": False, "error_code": 502,
                                  "description": "Bad Gateway"}, status=502)
    with tg_app.app_context():
        message_id = queue(telegram_case())
        now = utcnow()
        assert outbox.work_once(now=now).retrying == 1
        assert reload(message_id).next_attempt_at == now + outbox.backoff(1)


def test_a_timeout_leaves_the_message_unknown_and_never_resends_it(make_app, fake_api,
                                                                   monkeypatch):
    monkeypatch.setattr("hotline.channels.telegram.api.READ_TIMEOUT_SECONDS", 0.3)
    received: list[dict] = []
    answered = threading.Event()

    def slow(request):
        received.append(request.get_json())
        time.sleep(0.6)
        answered.set()
        return Response('{"ok": true, "result": {"message_id": 1}}',
                        content_type="application/json")

    fake_api.expect_request(f"/bot{BOT_TOKEN}/sendMessage").respond_with_handler(slow)
    app = make_app(TELEGRAM_BOT_TOKEN=BOT_TOKEN, TELEGRAM_WEBHOOK_SECRET=SECRET,
                   TELEGRAM_API_BASE=fake_api.url_for("").rstrip("/"))
    with app.app_context():
        message_id = queue(telegram_case())
        assert outbox.work_once().interrupted == 1
        unknown = reload(message_id)
        assert unknown.delivery_status == "unknown" and unknown.send_attempts == 1
        assert "ReadTimeout" in unknown.last_error
        assert "check with the caller before sending again" in unknown.last_error
        assert BOT_TOKEN not in unknown.last_error
        later = utcnow() + timedelta(days=1)
        assert outbox.work_once(now=later).handled == 0
    assert answered.wait(5)
    assert [r["chat_id"] for r in received] == [CHAT_ID]  # Telegram got it exactly once
    deadline = time.monotonic() + 5
    while not fake_api.log and time.monotonic() < deadline:  # let the fake finish its answer
        time.sleep(0.02)


def test_telegram_unreachable_is_retried(make_app):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    app = make_app(TELEGRAM_BOT_TOKEN=BOT_TOKEN, TELEGRAM_WEBHOOK_SECRET=SECRET,
                   TELEGRAM_API_BASE=f"http://127.0.0.1:{port}")
    with app.app_context():
        message_id = queue(telegram_case())
        assert outbox.work_once().retrying == 1
        message = reload(message_id)
        assert message.delivery_status == "queued" and "not reached" in message.last_error
        assert BOT_TOKEN not in message.last_error


def test_without_a_token_telegram_replies_are_not_sent(make_app):
    app = make_app()
    with app.app_context():
        message_id = queue(telegram_case())
        assert outbox.work_once().not_sent == 1
        assert reload(message_id).last_error == (
            "not sent: Telegram is not configured (TELEGRAM_BOT_TOKEN)")


@pytest.mark.parametrize(("change", "reason"), [
    ({"opted_out": True}, reply_policy.OPTED_OUT), ({"flag": "blocked"}, reply_policy.BLOCKED)])
def test_never_sent_to_opted_out_or_blocked_caller(tg_app, fake_api, change, reason):
    with tg_app.app_context():
        case_id = telegram_case()
        message_id = queue(case_id)
        caller = db.session.get(Case, case_id).caller
        for name, value in change.items():
            setattr(caller, name, value)
        db.session.commit()
        outbox.work_once()
        assert reload(message_id).last_error == reason
    assert fake_api.log == []


def test_a_provider_id_seen_twice_still_records_the_send(tg_app, fake_api):
    """Recording the send must not fail (and leave it 'sending') on a repeated provider id."""
    expect_send(fake_api, answer={"ok": True, "result": {"message_id": 9}})
    with tg_app.app_context():
        case_id = telegram_case()
        first, second = queue(case_id), queue(case_id, "ещё")
        assert outbox.work_once().sent == 2
        assert reload(first).external_id.startswith("tgm-9-")
        assert reload(second).delivery_status == "sent" and reload(second).external_id is None
