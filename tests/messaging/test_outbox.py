"""The outbox: replies queued in the request, sent by the worker through a fake
Twilio HTTP layer, never twice, retried with backoff, never to opted-out callers."""

from __future__ import annotations

from datetime import timedelta

import pytest
import requests
from sqlalchemy import select

from hotline.cases import reply_policy
from hotline.extensions import db
from hotline.intake.service import receive
from hotline.messaging import outbox, worker
from hotline.models import Case, Interaction, User, utcnow
from tests.conftest import PUBLIC_BASE_URL
from tests.twilio_fakes import TEST_ACCOUNT_SID, FakeTwilioHttp, post_signed

SENDER = "+79161234567"
FROM = "+15005550006"


@pytest.fixture
def fake() -> FakeTwilioHttp:
    return FakeTwilioHttp()


@pytest.fixture
def twilio_app(make_app, fake):
    return make_app(TWILIO_ACCOUNT_SID=TEST_ACCOUNT_SID, TWILIO_MESSAGING_FROM=FROM,
                    TWILIO_HTTP_CLIENT=fake)


def open_case(channel: str = "sms", address: str = SENDER) -> int:
    return receive(channel=channel, address=address, body="Помогите",
                   external_id="SM" + address[-8:].replace(":", "") + channel).case.id


def queue(case_id: int, body: str = "Мы вам поможем", author: User | None = None) -> int:
    message = outbox.store_outgoing(db.session.get(Case, case_id), body, author)
    db.session.commit()  # store_outgoing leaves the commit to its caller
    return message.id


def test_store_outgoing_queues_without_counting_a_response(twilio_app, make_user):
    staff = make_user("staff")
    with twilio_app.app_context():
        case_id = open_case()
        message = outbox.store_outgoing(db.session.get(Case, case_id), "Ответ",
                                        db.session.get(User, staff.id))
        assert message.kind == "message_out" and message.channel == "sms"
        assert message.delivery_status == "queued" and message.body == "Ответ"
        assert message.author_id == staff.id
        db.session.rollback()  # nothing is committed by store_outgoing itself
        assert db.session.execute(select(Interaction).where(
            Interaction.kind == "message_out")).first() is None
        queue(case_id)
        assert db.session.get(Case, case_id).first_response_at is None  # queued, not left


def test_web_case_reply_is_published_not_sent(twilio_app, fake):
    with twilio_app.app_context():
        case_id = receive(channel="web", address="web-key-1", body="hi", external_id=None).case.id
        message_id = queue(case_id)
        outbox.work_once()
        message = db.session.get(Interaction, message_id)
        assert message.channel == "web" and message.delivery_status == "published"
    assert fake.sent == []


def test_worker_sends_sms_with_status_callback(twilio_app, fake):
    with twilio_app.app_context():
        message_id = queue(open_case(), "Мы вам поможем")
        report = outbox.work_once()
        assert report.sent == 1
        message = db.session.get(Interaction, message_id)
        assert message.delivery_status == "accepted" and message.send_attempts == 1
        assert message.external_id == "SM" + "0" * 31 + "1" and message.last_error is None
    [request] = fake.sent
    assert request["method"] == "POST"
    assert request["uri"].endswith(f"/Accounts/{TEST_ACCOUNT_SID}/Messages.json")
    assert request["data"]["To"] == SENDER and request["data"]["From"] == FROM
    assert request["data"]["Body"] == "Мы вам поможем"
    assert request["data"]["StatusCallback"] == PUBLIC_BASE_URL + "/twilio/sms/status"
    with twilio_app.app_context():
        assert outbox.work_once().sent == 0  # never sent twice
    assert len(fake.sent) == 1


def test_whatsapp_reply_is_prefixed(twilio_app, fake):
    with twilio_app.app_context():
        queue(open_case("whatsapp", "whatsapp:" + SENDER))
        outbox.work_once()
    assert fake.sent[0]["data"]["To"] == "whatsapp:" + SENDER
    assert fake.sent[0]["data"]["From"] == "whatsapp:" + FROM


def test_without_twilio_messages_are_marked_not_sent(app):
    with app.app_context():
        message_id = queue(open_case())
        assert outbox.work_once().not_sent == 1
        message = db.session.get(Interaction, message_id)
        assert message.delivery_status == "not_sent"
        assert message.last_error == "not sent: Twilio is not configured"


@pytest.mark.parametrize(("change", "reason"), [
    ({"opted_out": True}, reply_policy.OPTED_OUT),
    ({"flag": "blocked"}, reply_policy.BLOCKED),
])
def test_never_sent_to_opted_out_or_blocked_caller(twilio_app, fake, change, reason):
    with twilio_app.app_context():
        case_id = open_case()
        message_id = queue(case_id)
        caller = db.session.get(Case, case_id).caller
        for name, value in change.items():
            setattr(caller, name, value)
        db.session.commit()
        outbox.work_once()
        message = db.session.get(Interaction, message_id)
        assert message.delivery_status == "not_sent" and message.last_error == reason
    assert fake.sent == []


def test_failed_send_is_retried_with_backoff_then_given_up(make_app):
    fake = FakeTwilioHttp(failures=[500] * outbox.MAX_SEND_ATTEMPTS)
    app = make_app(TWILIO_ACCOUNT_SID=TEST_ACCOUNT_SID, TWILIO_MESSAGING_FROM=FROM,
                   TWILIO_HTTP_CLIENT=fake)
    with app.app_context():
        message_id = queue(open_case())
        now = utcnow()
        for attempt in range(1, outbox.MAX_SEND_ATTEMPTS):
            assert outbox.work_once(now=now).retrying == 1
            message = db.session.get(Interaction, message_id)
            assert message.delivery_status == "queued" and message.send_attempts == attempt
            assert message.next_attempt_at == now + outbox.backoff(attempt)
            assert "will retry" in message.last_error and "HTTP 500" in message.last_error
            assert outbox.work_once(now=now).handled == 0  # not due yet
            now = message.next_attempt_at
        assert outbox.work_once(now=now).failed == 1
        message = db.session.get(Interaction, message_id)
        assert message.delivery_status == "failed"
        assert message.send_attempts == outbox.MAX_SEND_ATTEMPTS
        assert f"after {outbox.MAX_SEND_ATTEMPTS} attempt(s)" in message.last_error
    assert len(fake.sent) == outbox.MAX_SEND_ATTEMPTS


def test_network_error_is_retried_and_then_succeeds(make_app):
    fake = FakeTwilioHttp(failures=[requests.ConnectionError("down")])
    app = make_app(TWILIO_ACCOUNT_SID=TEST_ACCOUNT_SID, TWILIO_MESSAGING_FROM=FROM,
                   TWILIO_HTTP_CLIENT=fake)
    with app.app_context():
        message_id = queue(open_case())
        assert outbox.work_once().retrying == 1
        later = utcnow() + outbox.backoff(1) + timedelta(seconds=1)
        assert outbox.work_once(now=later).sent == 1
        assert db.session.get(Interaction, message_id).delivery_status == "accepted"


def test_twilio_refusal_is_not_retried(make_app):
    fake = FakeTwilioHttp(failures=[400])
    app = make_app(TWILIO_ACCOUNT_SID=TEST_ACCOUNT_SID, TWILIO_MESSAGING_FROM=FROM,
                   TWILIO_HTTP_CLIENT=fake)
    with app.app_context():
        message_id = queue(open_case())
        assert outbox.work_once().failed == 1
        message = db.session.get(Interaction, message_id)
        assert message.delivery_status == "failed" and "21211" in message.last_error


def test_a_message_is_claimed_by_one_worker_only(twilio_app):
    with twilio_app.app_context():
        message_id = queue(open_case())
        now = utcnow()
        assert outbox.claim(message_id, now) is True
        assert outbox.claim(message_id, now) is False
        assert db.session.get(Interaction, message_id).delivery_status == "sending"


def test_claimed_message_is_skipped_by_a_second_worker(twilio_app, fake):
    with twilio_app.app_context():
        message_id = queue(open_case())
        outbox.claim(message_id, utcnow())  # another worker is sending it right now
        assert outbox.work_once().handled == 0
    assert fake.sent == []


def test_interrupted_send_is_not_repeated(twilio_app, fake):
    with twilio_app.app_context():
        message_id = queue(open_case())
        outbox.claim(message_id, utcnow())  # that worker died mid-send
        later = utcnow() + timedelta(seconds=outbox.SENDING_LEASE_SECONDS + 1)
        assert outbox.work_once(now=later).interrupted == 1
        message = db.session.get(Interaction, message_id)
        # Unknown, looked up at Twilio (no such message), never sent again by itself.
        assert message.delivery_status == "unknown"
        assert message.last_error == f"{outbox.INTERRUPTED}; {outbox.NOT_FOUND}"
        assert message.next_attempt_at is None
        assert outbox.work_once(now=later + timedelta(hours=1)).handled == 0
    assert fake.sent == []


def test_status_callback_racing_the_send_is_not_lost(twilio_app, fake):
    client = twilio_app.test_client()
    post_signed(client, "/twilio/sms/status", {"MessageSid": "SM" + "0" * 31 + "1",
                                               "MessageStatus": "delivered"})
    with twilio_app.app_context():
        message_id = queue(open_case())
        outbox.work_once()
        assert db.session.get(Interaction, message_id).delivery_status == "delivered"
    post_signed(client, "/twilio/sms/status", {"MessageSid": "SM" + "0" * 31 + "1",
                                               "MessageStatus": "sent"})
    with twilio_app.app_context():
        assert db.session.get(Interaction, message_id).delivery_status == "delivered"


def test_worker_once_drains_and_cli_reports(twilio_app, fake):
    with twilio_app.app_context():
        case_id = open_case()
        for i in range(3):
            queue(case_id, f"reply {i}")
    result = twilio_app.test_cli_runner().invoke(args=["outbox", "work", "--once"])
    assert result.exit_code == 0 and "sent 3" in result.output
    assert [r["data"]["Body"] for r in fake.sent] == ["reply 0", "reply 1", "reply 2"]


def test_background_thread_sends_after_commit(twilio_app, fake):
    import threading

    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(twilio_app,),
                              kwargs={"stop": stop, "poll_seconds": 30})
    thread.start()
    try:
        with twilio_app.app_context():
            queue(open_case())  # the commit wakes the loop long before its 30 s poll
        for _ in range(100):
            if fake.sent:
                break
            threading.Event().wait(0.05)
    finally:
        stop.set()
        worker._wake_event(twilio_app).set()
        thread.join(timeout=10)
    assert len(fake.sent) == 1


def test_background_thread_starts_with_first_request_when_enabled(make_app, fake):
    app = make_app(TWILIO_ACCOUNT_SID=TEST_ACCOUNT_SID, TWILIO_MESSAGING_FROM=FROM,
                   TWILIO_HTTP_CLIENT=fake, OUTBOX_BACKGROUND_THREAD=True, TESTING=False)
    app.test_client().get("/healthz")
    thread = app.extensions["hotline_outbox_thread"]
    try:
        assert thread.is_alive() and thread.daemon
        app.test_client().get("/healthz")
        assert app.extensions["hotline_outbox_thread"] is thread  # one thread per app
    finally:
        worker.stop_background_thread(app)
    assert not thread.is_alive()
