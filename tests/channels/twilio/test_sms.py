"""/twilio/sms and /twilio/sms/status with signed requests: intake, languages,
WhatsApp, STOP/START, retries, hostile input and delivery status."""

from __future__ import annotations

from sqlalchemy import func, select

from hotline import languages
from hotline.channels.replies import SMS_SEGMENT_UCS2, auto_reply
from hotline.extensions import db
from hotline.models import Caller, Case, Interaction, MessageStatusEvent
from tests.conftest import PUBLIC_BASE_URL, sign

SENDER = "+79161234567"


def sms(sid: str, body: str, sender: str = SENDER, **extra: str) -> dict:
    return {"MessageSid": sid, "From": sender, "To": "+15005550006", "Body": body,
            "NumMedia": "0", **extra}


def only_case() -> Case:
    return db.session.execute(select(Case)).scalar_one()


def count(model) -> int:
    return db.session.execute(select(func.count()).select_from(model)).scalar_one()


def test_first_message_opens_case_and_replies_once_in_russian(app, twilio_post):
    answer = twilio_post("/twilio/sms", sms("SM" + "1" * 32, "Здравствуйте, хочу сдаться"))
    assert answer.status_code == 200
    assert answer.mimetype == "text/xml"
    with app.app_context():
        case = only_case()
        assert case.channel == "sms" and case.language == "ru"
        assert f"<Message>{auto_reply('ru', case.display_reference)}</Message>" in answer.text
        message, raised = db.session.execute(
            select(Interaction).order_by(Interaction.id)).scalars().all()
        assert message.kind == "message_in" and message.body == "Здравствуйте, хочу сдаться"
        # The surrender keyword raised the urgency (keyword rules, cases.keywords).
        assert raised.kind == "classification_change" and case.urgency == "immediate"
    second = twilio_post("/twilio/sms", sms("SM" + "2" * 32, "Вы тут?"))
    assert "<Message>" not in second.text  # one auto-reply per case, not per message
    with app.app_context():
        assert count(Case) == 1 and count(Interaction) == 3


def test_retried_delivery_gives_same_answer_and_no_rows(app, twilio_post):
    params = sms("SM" + "3" * 32, "Привет")
    first = twilio_post("/twilio/sms", params)
    again = twilio_post("/twilio/sms", params)
    assert first.status_code == again.status_code == 200
    assert first.text == again.text and "<Message>" in first.text
    with app.app_context():
        assert count(Interaction) == 1 and count(Case) == 1 and count(Caller) == 1


def test_korean_and_ukrainian_texts_set_the_language(app, twilio_post):
    korean = twilio_post("/twilio/sms", sms("SM" + "4" * 32, "안녕하세요 도와주세요",
                                            sender="+821012345678"))
    ukrainian = twilio_post("/twilio/sms", sms("SM" + "5" * 32, "Допоможіть, будь ласка",
                                               sender="+380501234567"))
    with app.app_context():
        by_language = {c.language: c for c in db.session.execute(select(Case)).scalars()}
        assert set(by_language) == {"ko", "uk"}
        assert auto_reply("ko", by_language["ko"].display_reference) in korean.text
        assert auto_reply("uk", by_language["uk"].display_reference) in ukrainian.text


def test_latin_text_keeps_the_callers_known_language(make_app):
    from tests.twilio_fakes import post_signed

    app = make_app(AUTO_REPLY_INTERVAL_HOURS=0)  # every message answered: see the text

    def twilio_post(path, params):
        return post_signed(app.test_client(), path, params)

    twilio_post("/twilio/sms", sms("SM" + "6" * 32, "Привет"))
    with app.app_context():
        case = only_case()
        case.status, case.closed_at, case.resolution = "closed", None, "no_contact"
        db.session.commit()  # closed without a date: the next message opens a new case
    answer = twilio_post("/twilio/sms", sms("SM" + "7" * 32, "ok"))
    with app.app_context():
        newest = db.session.execute(select(Case).order_by(Case.id.desc())).scalars().first()
        assert newest.language == "ru"
        assert auto_reply("ru", newest.display_reference) in answer.text


def test_unknown_latin_text_defaults_to_english(app, twilio_post):
    answer = twilio_post("/twilio/sms", sms("SM" + "8" * 32, "hello"))
    with app.app_context():
        assert only_case().language == "en"
        assert "Message received" in answer.text


def test_auto_reply_templates_fit_one_segment():
    for language in languages.CODES:
        assert len(auto_reply(language, "ABCD-EFGH")) <= SMS_SEGMENT_UCS2


def test_whatsapp_sender_goes_to_whatsapp_channel_with_media(app, twilio_post):
    params = sms("MM" + "9" * 32, "Фото", sender="whatsapp:+79161234567", NumMedia="2",
                 MediaUrl0="https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1",
                 MediaContentType0="image/jpeg",
                 MediaUrl1="https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME2",
                 MediaContentType1="audio/ogg")
    assert twilio_post("/twilio/sms", params).status_code == 200
    with app.app_context():
        case = only_case()
        assert case.channel == "whatsapp" and case.caller.address_kind == "whatsapp"
        message = case.interactions[0]
        assert message.channel == "whatsapp"
        assert [m["content_type"] for m in message.meta["media"]] == ["image/jpeg", "audio/ogg"]
        assert message.meta["media"][1]["url"].endswith("/ME2")
    # The same number by SMS is a different thread: monitored SIMs and apps differ.
    twilio_post("/twilio/sms", sms("SM" + "a" * 32, "Привет"))
    with app.app_context():
        assert count(Case) == 2


def test_stop_records_opt_out_and_silences_auto_reply(app, twilio_post):
    stop = twilio_post("/twilio/sms", sms("SM" + "b" * 32, "STOP", OptOutType="STOP"))
    assert stop.status_code == 200 and "<Message>" not in stop.text
    with app.app_context():
        caller = db.session.execute(select(Caller)).scalar_one()
        assert caller.opted_out and caller.opt_out_keyword == "STOP"
        assert caller.opted_out_at is not None
        assert count(Interaction) == 1  # the STOP itself is kept on the timeline
        case = only_case()
        case.status, case.resolution = "closed", "no_contact"
        db.session.commit()
    again = twilio_post("/twilio/sms", sms("SM" + "c" * 32, "Помогите"))
    assert "<Message>" not in again.text  # a new case, but no reply after STOP


def test_stop_keyword_in_body_without_twilio_flag(app, twilio_post):
    twilio_post("/twilio/sms", sms("SM" + "d" * 32, " unsubscribe "))
    with app.app_context():
        caller = db.session.execute(select(Caller)).scalar_one()
        assert caller.opted_out and caller.opt_out_keyword == "UNSUBSCRIBE"


def test_start_resumes_replies(app, twilio_post):
    twilio_post("/twilio/sms", sms("SM" + "e" * 32, "СТОП"))
    twilio_post("/twilio/sms", sms("SM" + "f" * 32, "START", OptOutType="START"))
    with app.app_context():
        caller = db.session.execute(select(Caller)).scalar_one()
        assert not caller.opted_out and caller.opt_out_keyword == "START"
        assert caller.opted_out_at is None
        only_case().status = "closed"
        only_case().resolution = "no_contact"
        db.session.commit()
    answer = twilio_post("/twilio/sms", sms("SM" + "0" * 31 + "1", "Помогите"))
    assert "<Message>" in answer.text


def test_retried_stop_after_start_does_not_opt_out_again(app, twilio_post):
    stop = sms("SM" + "2" * 31 + "1", "STOP", OptOutType="STOP")
    twilio_post("/twilio/sms", stop)
    twilio_post("/twilio/sms", sms("SM" + "2" * 31 + "2", "START", OptOutType="START"))
    twilio_post("/twilio/sms", stop)  # Twilio retries the old STOP late
    with app.app_context():
        assert not db.session.execute(select(Caller)).scalar_one().opted_out


def test_auto_reply_can_be_switched_off(make_app):
    app = make_app(AUTO_REPLY_ENABLED=False)
    from tests.twilio_fakes import post_signed

    answer = post_signed(app.test_client(), "/twilio/sms", sms("SM" + "3" * 32, "Привет"))
    assert answer.status_code == 200 and "<Message>" not in answer.text
    with app.app_context():
        assert count(Case) == 1


def test_blocked_caller_gets_no_auto_reply(app, twilio_post):
    twilio_post("/twilio/sms", sms("SM" + "4" * 31 + "1", "Привет"))
    with app.app_context():
        case = only_case()
        case.caller.flag = "blocked"
        case.status, case.resolution = "closed", "hoax"
        db.session.commit()
    answer = twilio_post("/twilio/sms", sms("SM" + "4" * 31 + "2", "Привет"))
    assert "<Message>" not in answer.text


def test_overlong_body_is_kept_truncated_not_refused(make_app):
    from tests.twilio_fakes import post_signed

    app = make_app(MESSAGE_MAX_CHARS=20)
    answer = post_signed(app.test_client(), "/twilio/sms", sms("SM" + "5" * 32, "я" * 50))
    assert answer.status_code == 200
    with app.app_context():
        message = db.session.execute(select(Interaction)).scalar_one()
        assert message.body == "я" * 20 and message.meta["truncated"] is True


def test_bad_input_is_refused_with_reason_and_stores_nothing(app, twilio_post):
    missing = twilio_post("/twilio/sms", {"From": SENDER, "Body": "x"})
    assert missing.status_code == 400 and "MessageSid" in missing.text
    no_sender = twilio_post("/twilio/sms", {"MessageSid": "SM" + "6" * 32, "Body": "x"})
    assert no_sender.status_code == 400 and "From" in no_sender.text
    bad_number = twilio_post("/twilio/sms", sms("SM" + "6" * 32, "x", sender="nobody"))
    assert bad_number.status_code == 400
    bad_media = twilio_post("/twilio/sms", sms("SM" + "7" * 32, "x", NumMedia="many"))
    assert bad_media.status_code == 400
    with app.app_context():
        assert count(Interaction) == 0


def test_unsigned_or_wrongly_signed_is_refused(app, twilio_post, client):
    assert client.post("/twilio/sms", data=sms("SM" + "8" * 32, "x")).status_code == 403
    wrong = twilio_post("/twilio/sms", sms("SM" + "8" * 32, "x"), signature="AAAA")
    assert wrong.status_code == 403
    with app.app_context():
        assert count(Interaction) == 0


def test_body_over_the_limit_is_413(app, client):
    huge = "x" * (app.config["MAX_CONTENT_LENGTH"] + 10)
    response = client.post("/twilio/sms", data={"From": SENDER, "Body": huge},
                           headers={"X-Twilio-Signature": "x"})
    assert response.status_code == 413
    with app.app_context():
        assert count(Interaction) == 0


def test_invalid_utf8_is_400_when_signed_and_403_when_not(app, client):
    from urllib.parse import parse_qsl

    raw = b"From=%2B79161234567&MessageSid=SM1&Body=%C3%28%FF"
    lenient = parse_qsl(raw.decode("latin-1"), errors="replace")
    headers = {"Content-Type": "application/x-www-form-urlencoded",
               "X-Twilio-Signature": sign(PUBLIC_BASE_URL + "/twilio/sms", lenient)}
    response = client.post("/twilio/sms", data=raw, headers=headers)
    assert response.status_code == 400 and b"UTF-8" in response.data
    headers["X-Twilio-Signature"] = "forged"
    assert client.post("/twilio/sms", data=raw, headers=headers).status_code == 403
    with app.app_context():
        assert count(Interaction) == 0


def test_script_tag_is_stored_verbatim_as_text(app, twilio_post):
    answer = twilio_post("/twilio/sms", sms("SM" + "c" * 32, "<script>alert(1)</script>"))
    assert answer.status_code == 200
    with app.app_context():
        assert db.session.execute(select(Interaction.body)).scalar_one() == \
            "<script>alert(1)</script>"


def test_webhooks_are_exempt_from_application_wide_rate_limits(make_app):
    """Twilio sends everything from a few addresses: a burst must never be refused."""
    from hotline.extensions import limiter

    app = make_app(RATELIMIT_APPLICATION="2 per minute")
    client = app.test_client()
    try:
        statuses = []
        for n in range(5):
            params = sms(f"SM{n:032d}", "Хочу сдаться", sender=f"+7916123456{n}")
            statuses.append(client.post("/twilio/sms", data=params, headers={
                "X-Twilio-Signature": sign(PUBLIC_BASE_URL + "/twilio/sms", params)}
            ).status_code)
        assert statuses == [200] * 5
        # The application-wide limit is really in force on other routes.
        assert [client.get("/healthz").status_code for _ in range(3)][-1] == 429
    finally:
        # The limiter is one extension object shared by every app in this process, and
        # it keeps application limits once set: clear them for the tests that follow.
        limiter.limit_manager.set_application_limits([])


# ---- delivery status ---------------------------------------------------------------

def _outbound(app, sid: str, status: str = "accepted") -> int:
    with app.app_context():
        from hotline.intake.service import receive

        case = receive(channel="sms", address=SENDER, body="hi", external_id="SMin" + sid).case
        message = Interaction(case=case, kind="message_out", channel="sms", body="reply",
                              external_id=sid, delivery_status=status, meta={})
        db.session.add(message)
        db.session.commit()
        return message.id


def _status(twilio_post, sid: str, status: str, **extra: str):
    return twilio_post("/twilio/sms/status", {"MessageSid": sid, "MessageStatus": status,
                                              "AccountSid": "AC1", **extra})


def test_status_callbacks_move_forward_only(app, twilio_post):
    sid = "SM" + "9" * 32
    message_id = _outbound(app, sid)
    for status in ("sent", "delivered", "sent", "queued"):
        assert _status(twilio_post, sid, status).status_code == 204
    with app.app_context():
        assert db.session.get(Interaction, message_id).delivery_status == "delivered"
        statuses = db.session.execute(
            select(MessageStatusEvent.status).order_by(MessageStatusEvent.id)).scalars().all()
        assert statuses == ["sent", "delivered", "queued"]  # one row per Sid and status


def test_failed_status_records_error_code(app, twilio_post):
    sid = "SM" + "a" * 31 + "1"
    message_id = _outbound(app, sid)
    _status(twilio_post, sid, "undelivered", ErrorCode="30003")
    _status(twilio_post, sid, "sent")
    with app.app_context():
        message = db.session.get(Interaction, message_id)
        assert message.delivery_status == "undelivered"
        assert "30003" in message.last_error


def test_read_after_delivered_on_whatsapp(app, twilio_post):
    sid = "SM" + "b" * 31 + "1"
    message_id = _outbound(app, sid)
    _status(twilio_post, sid, "delivered")
    _status(twilio_post, sid, "read")
    with app.app_context():
        assert db.session.get(Interaction, message_id).delivery_status == "read"


def test_status_for_unknown_message_is_recorded(app, twilio_post):
    assert _status(twilio_post, "SM" + "c" * 32, "delivered").status_code == 204
    with app.app_context():
        assert count(MessageStatusEvent) == 1


def test_status_bad_input_is_400(app, twilio_post):
    assert _status(twilio_post, "SM" + "d" * 32, "exploded").status_code == 400
    assert twilio_post("/twilio/sms/status", {"MessageStatus": "sent"}).status_code == 400
    assert _status(twilio_post, "SM" + "d" * 32, "failed",
                   ErrorCode="<script>").status_code == 400
    with app.app_context():
        assert count(MessageStatusEvent) == 0
