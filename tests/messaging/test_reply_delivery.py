"""Delivery staff can trust: a reply counts as the first response only once it left,
a reply that did not leave raises a "reply failed" alert with the reason in words and an
audited Retry, and a send that timed out is looked up at Twilio, never sent twice."""

from __future__ import annotations

from datetime import timedelta

import pytest
import requests
from flask.testing import FlaskClient
from sqlalchemy import select

from hotline.cases import reply_policy
from hotline.channels.twilio.message_errors import words
from hotline.extensions import db
from hotline.messaging import outbox
from hotline.models import AuditEvent, Case, Interaction, User, utcnow
from hotline.reports import rollup
from tests.conftest import login_as
from tests.dashboard_support import case_url, make_case, post_action
from tests.twilio_fakes import (
    ACCEPTED_THEN_TIMEOUT,
    TEST_ACCOUNT_SID,
    FakeTwilioHttp,
    post_signed,
)

FROM = "+15005550006"


def twilio(make_app, failures=None):
    fake = FakeTwilioHttp(failures=failures)
    return make_app(TWILIO_ACCOUNT_SID=TEST_ACCOUNT_SID, TWILIO_MESSAGING_FROM=FROM,
                    TWILIO_HTTP_CLIENT=fake), fake


def staff_reply(app, case_id: int, user_id: int, body: str = "Мы вам поможем") -> int:
    with app.app_context():
        message = outbox.store_outgoing(db.session.get(Case, case_id), body,
                                        db.session.get(User, user_id))
        db.session.commit()
        return message.id


def reply_once_and_sign_in(app, staff) -> tuple[dict, int, FlaskClient]:
    """A new case, ``staff``'s reply to it, one outbox run; then ``staff`` signed in.
    Returns the case, the reply's id and the signed-in client."""
    case = make_case(app)
    message_id = staff_reply(app, case["id"], staff.id)
    with app.app_context():
        outbox.work_once()
    client = app.test_client()
    login_as(client, staff)
    return case, message_id, client


def state(app, case_id: int, message_id: int) -> tuple:
    with app.app_context():
        case = db.session.get(Case, case_id)
        message = db.session.get(Interaction, message_id)
        return (message.delivery_status, message.last_error, case.first_response_at,
                case.reply_failed)


def status_callback(app, sid: str, status: str, code: str | None = None):
    params = {"MessageSid": sid, "MessageStatus": status}
    if code:
        params["ErrorCode"] = code
    response = post_signed(app.test_client(), "/twilio/sms/status", params)
    assert response.status_code == 204


def test_first_response_is_stamped_when_twilio_says_sent_not_when_queued(make_app, staff):
    app, _ = twilio(make_app)
    case = make_case(app)
    message_id = staff_reply(app, case["id"], staff.id)
    assert state(app, case["id"], message_id)[2] is None
    with app.app_context():
        assert outbox.work_once().sent == 1
        sid = db.session.get(Interaction, message_id).external_id
    assert state(app, case["id"], message_id)[:3] == ("accepted", None, None)
    status_callback(app, sid, "sent")
    status, _, first, alert = state(app, case["id"], message_id)
    assert status == "sent" and first is not None and alert is False
    status_callback(app, sid, "delivered")
    assert state(app, case["id"], message_id)[2] == first  # the first time it left
    with app.app_context():
        assert not any(rollup.differences().values())


def test_auto_reply_never_counts_as_a_response(make_app):
    app, _ = twilio(make_app)
    case = make_case(app)
    with app.app_context():
        message = outbox.store_outgoing(db.session.get(Case, case["id"]), "Received",
                                        None, meta={"auto_reply": True})
        db.session.commit()
        outbox.work_once()
        sid = db.session.get(Interaction, message.id).external_id
    status_callback(app, sid, "delivered")
    assert state(app, case["id"], message.id)[2] is None


@pytest.mark.parametrize("code", ["30003", "30005", "30006", "63016", "30007"])
def test_undelivered_reply_alerts_with_the_reason_in_words(make_app, staff, code):
    app, _ = twilio(make_app)
    case = make_case(app)
    message_id = staff_reply(app, case["id"], staff.id)
    with app.app_context():
        outbox.work_once()
        sid = db.session.get(Interaction, message_id).external_id
    status_callback(app, sid, "undelivered", code)
    status, error, first, alert = state(app, case["id"], message_id)
    assert status == "undelivered" and alert is True and first is None
    assert error == f"undelivered: {words(code)}" and reply_policy.MAX_REPLY_CHARS
    assert f"Twilio error {code}" in error and words(code).split(" (")[0] in error
    with app.app_context():
        assert not any(rollup.differences().values())


def test_error_codes_have_words():
    assert "opted out" in words(21610) and "unreachable" in words(30003)
    assert "unknown" in words(30005) and "landline" in words(30006)
    assert "24-hour window" in words(63016)
    assert words(99999) == "Twilio error 99999" and words(None) == "Twilio did not say why"
    assert words("x") == "Twilio did not say why"


def test_opted_out_at_twilio_is_final_and_marks_the_caller(make_app, staff):
    app, fake = twilio(make_app, failures=[(400, 21610)])
    case = make_case(app)
    message_id = staff_reply(app, case["id"], staff.id)
    with app.app_context():
        assert outbox.work_once().failed == 1
        assert db.session.get(Case, case["id"]).caller.opted_out is True
    status, error, first, alert = state(app, case["id"], message_id)
    assert status == "failed" and "opted out at Twilio" in error and "21610" in error
    assert alert is True and first is None
    assert len(fake.sent) == 1


def test_no_provider_configured_is_an_alert(app, staff):
    case = make_case(app)
    message_id = staff_reply(app, case["id"], staff.id)
    with app.app_context():
        assert outbox.work_once().not_sent == 1
    status, error, first, alert = state(app, case["id"], message_id)
    assert (status, first, alert) == ("not_sent", None, True)
    assert error == "not sent: Twilio is not configured"


def test_timeout_after_twilio_accepted_is_found_and_sent_once(make_app, staff):
    app, fake = twilio(make_app, failures=[ACCEPTED_THEN_TIMEOUT])
    case = make_case(app)
    message_id = staff_reply(app, case["id"], staff.id)
    with app.app_context():
        assert outbox.work_once().interrupted == 1
    status, error, _, alert = state(app, case["id"], message_id)
    assert status == "unknown" and "no answer from Twilio" in error and alert is True
    later = utcnow() + timedelta(seconds=outbox.UNKNOWN_CHECK_SECONDS + 1)
    with app.app_context():
        outbox.work_once(now=later)
        message = db.session.get(Interaction, message_id)
        assert message.external_id == fake.messages[0]["sid"]
    status, error, _, alert = state(app, case["id"], message_id)
    assert status == "accepted" and error == outbox.FOUND and alert is False
    assert len(fake.sent) == 1 and len(fake.messages) == 1  # one send, one message
    with app.app_context():
        assert outbox.work_once(now=later + timedelta(hours=1)).handled == 0
    assert len(fake.sent) == 1


def test_timeout_before_twilio_had_it_waits_for_an_audited_retry(make_app, staff):
    app, fake = twilio(make_app, failures=[requests.ReadTimeout("read timed out")])
    case = make_case(app)
    message_id = staff_reply(app, case["id"], staff.id)
    later = utcnow() + timedelta(seconds=outbox.UNKNOWN_CHECK_SECONDS + 1)
    with app.app_context():
        outbox.work_once()
        outbox.work_once(now=later)  # looked up: Twilio has no such message
        outbox.work_once(now=later + timedelta(hours=1))
    status, error, _, alert = state(app, case["id"], message_id)
    assert status == "unknown" and outbox.NOT_FOUND in error and alert is True
    assert fake.messages == []  # never resent by itself
    client = app.test_client()
    login_as(client, staff)
    page = client.get(case_url(case["reference"])).get_data(as_text=True)
    assert 'id="reply-failed"' in page and "Retry first asks the provider" in page
    response = post_action(client, case["reference"], "retry-reply", message=str(message_id))
    assert response.status_code == 303
    with app.app_context():
        assert outbox.work_once().sent == 1
        events = db.session.execute(select(AuditEvent).where(
            AuditEvent.action == "case.reply_retry")).scalars().all()
        assert [e.detail["result"] for e in events] == ["queued"]
    assert len(fake.messages) == 1
    assert state(app, case["id"], message_id)[3] is False


def test_retry_of_a_found_message_sends_nothing(make_app, staff):
    app, fake = twilio(make_app, failures=[ACCEPTED_THEN_TIMEOUT])
    case, message_id, client = reply_once_and_sign_in(app, staff)
    response = post_action(client, case["reference"], "retry-reply", message=str(message_id))
    assert response.status_code == 303
    with app.app_context():
        outbox.work_once()
    assert len(fake.sent) == 1 and state(app, case["id"], message_id)[0] == "accepted"


def test_failed_reply_is_on_the_case_and_the_queue_and_retry_sends_it_once(make_app, staff):
    app, fake = twilio(make_app, failures=[(400, 30006)])
    case, message_id, client = reply_once_and_sign_in(app, staff)
    page = client.get(case_url(case["reference"])).get_data(as_text=True)
    assert 'id="reply-failed"' in page and "landline" in page and "Retry (logged)" in page
    queue = client.get("/dashboard/").get_data(as_text=True)
    assert "reply failed" in queue
    response = post_action(client, case["reference"], "retry-reply", message=str(message_id))
    assert response.status_code == 303
    with app.app_context():
        assert outbox.work_once().sent == 1
        assert outbox.work_once().handled == 0
    assert len(fake.messages) == 1 and len(fake.sent) == 2  # the refused one, then one send
    page = client.get(case_url(case["reference"])).get_data(as_text=True)
    assert 'id="reply-failed"' not in page
    assert "reply failed" not in client.get("/dashboard/").get_data(as_text=True)


def test_retry_is_refused_for_a_reply_that_left_or_another_case(make_app, staff):
    app, _ = twilio(make_app)
    case, message_id, client = reply_once_and_sign_in(app, staff)
    other = make_case(app)
    for reference, message in ((case["reference"], str(message_id)),
                               (other["reference"], str(message_id)),
                               (case["reference"], "99999999999999999999"),
                               (case["reference"], "-1")):
        assert post_action(client, reference, "retry-reply", version=1,
                           message=message).status_code == 400
    assert client.post(case_url(case["reference"], "retry-reply"),
                       data={"retry-reply-message": str(message_id)}).status_code == 400


def test_a_later_reply_that_left_clears_the_alert(app, make_app, staff):
    case = make_case(app)
    first_id = staff_reply(app, case["id"], staff.id, "one")
    with app.app_context():
        outbox.work_once()  # no Twilio: not sent
    assert state(app, case["id"], first_id)[3] is True
    configured, _ = twilio(make_app)
    second_id = staff_reply(configured, case["id"], staff.id, "two")
    with configured.app_context():
        outbox.work_once()
        sid = db.session.get(Interaction, second_id).external_id
    status_callback(configured, sid, "delivered")
    assert state(configured, case["id"], first_id)[3] is False
