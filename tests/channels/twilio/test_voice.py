"""The voice IVR with signed requests: menu, staff dialling, screening, voicemail,
status callbacks in any order and repeated, the fallback."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from hotline.channels.replies import apology, menu_prompt, voicemail_prompt, voicemail_thanks
from hotline.channels.twilio.calls import MAX_DIAL_NUMBERS, needs_callback
from hotline.extensions import db
from hotline.models import Case, Interaction, User
from tests.conftest import PUBLIC_BASE_URL
from tests.twilio_fakes import parse_twiml, post_signed, signed_headers

CALL = "CA" + "1" * 32
CALLER = "+79161234567"
HOTLINE = "+15005550006"
RECORDING_URL = "https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE" + "1" * 32


def call(**extra: str) -> dict:
    return {"CallSid": CALL, "From": CALLER, "To": HOTLINE, "AccountSid": "AC1",
            "CallStatus": "in-progress", **extra}


def xml(response):
    assert response.status_code == 200, response.text
    assert response.mimetype == "text/xml"
    return parse_twiml(response.text)


def the_case() -> Case:
    return db.session.execute(select(Case)).scalar_one()


def the_call() -> Interaction:
    return db.session.execute(select(Interaction).where(Interaction.kind == "call")).scalar_one()


def kinds() -> list[str]:
    return db.session.execute(select(Interaction.kind).order_by(Interaction.id)).scalars().all()


def test_incoming_call_takes_call_in_and_plays_menu_twice(app, twilio_post):
    root = xml(twilio_post("/twilio/voice", call(CallStatus="ringing")))
    gathers = root.findall("Gather")
    assert len(gathers) == 2
    for gather in gathers:
        assert gather.get("numDigits") == "1"
        assert gather.get("action") == PUBLIC_BASE_URL + "/twilio/voice/language"
        says = gather.findall("Say")
        assert [s.get("language") for s in says] == ["ko-KR", "ru-RU", "uk-UA", "en-US"]
        assert says[0].text == menu_prompt("ko", 1) and says[3].text == menu_prompt("en", 4)
    # No input twice: voicemail in the default language.
    assert root.find("Say").text == voicemail_prompt("en")
    record = root.find("Record")
    assert record.get("maxLength") == "180"
    assert record.get("recordingStatusCallback") == PUBLIC_BASE_URL + "/twilio/voice/recording"
    with app.app_context():
        assert kinds() == ["call"]
        assert the_case().channel == "voice"
    xml(twilio_post("/twilio/voice", call(CallStatus="ringing")))  # Twilio retries
    with app.app_context():
        assert kinds() == ["call"]


def test_recorded_prompts_are_played_instead_of_speech(make_app):
    app = make_app(IVR_PROMPT_URLS={"ru": "https://cdn.example.org/ru.mp3"},
                   VOICEMAIL_MAX_SECONDS=60)
    root = xml(post_signed(app.test_client(), "/twilio/voice", call()))
    gather = root.find("Gather")
    assert gather.find("Play").text == "https://cdn.example.org/ru.mp3"
    assert len(gather.findall("Say")) == 3
    assert root.find("Record").get("maxLength") == "60"


def test_language_order_follows_config(make_app):
    app = make_app(IVR_LANGUAGES=["uk", "en"])
    root = xml(post_signed(app.test_client(), "/twilio/voice", call()))
    says = root.find("Gather").findall("Say")
    assert [s.text for s in says] == [menu_prompt("uk", 1), menu_prompt("en", 2)]
    answer = xml(post_signed(app.test_client(), "/twilio/voice/language", call(Digits="1")))
    assert answer.find("Say").get("language") == "uk-UA"


def test_language_choice_dials_on_duty_speakers_only(app, twilio_post, make_user):
    make_user(on_duty=True, phone="+447700900001", languages="ru,en")
    make_user(on_duty=True, phone="+447700900002", languages="ru")
    make_user(on_duty=False, phone="+447700900003", languages="ru")
    make_user(on_duty=True, phone="+447700900004", languages="ko")
    make_user(on_duty=True, phone=None, languages="ru")
    make_user(on_duty=True, phone="+447700900005", languages="ru", active=False)
    twilio_post("/twilio/voice", call())
    root = xml(twilio_post("/twilio/voice/language", call(Digits="2")))
    assert root.find("Say").get("language") == "ru-RU"
    dial = root.find("Dial")
    assert dial.get("answerOnBridge") == "true" and dial.get("timeout") == "20"
    assert dial.get("callerId") == HOTLINE  # staff call logs never show the caller
    assert dial.get("action") == PUBLIC_BASE_URL + "/twilio/voice/dial-result?lang=ru"
    numbers = dial.findall("Number")
    assert [n.text for n in numbers] == ["+447700900001", "+447700900002"]
    # Each number's screen URL names its staff member, so the call records who took it.
    with app.app_context():
        ids = db.session.execute(select(User.id).where(User.phone.is_not(None)).order_by(
            User.id)).scalars().all()[:2]
    assert [n.get("url") for n in numbers] == [
        PUBLIC_BASE_URL + f"/twilio/voice/screen?lang=ru&staff={user_id}" for user_id in ids]
    with app.app_context():
        assert the_case().language == "ru"
        assert the_call().meta["language"] == "ru"
        assert not the_case().callback_needed


def test_at_most_ten_numbers_are_dialled(app, twilio_post, make_user):
    for i in range(MAX_DIAL_NUMBERS + 3):
        make_user(on_duty=True, phone=f"+4477009001{i:02d}", languages="en")
    root = xml(twilio_post("/twilio/voice/language", call(Digits="4")))
    assert len(root.find("Dial").findall("Number")) == MAX_DIAL_NUMBERS


def test_nobody_on_duty_goes_to_voicemail_and_callback_queue(app, twilio_post, make_user):
    make_user(on_duty=True, phone="+447700900001", languages="ru")
    twilio_post("/twilio/voice", call())
    root = xml(twilio_post("/twilio/voice/language", call(Digits="1")))
    assert root.find("Dial") is None
    assert root.find("Say").text == voicemail_prompt("ko")
    assert root.find("Say").get("language") == "ko-KR"
    assert root.find("Record").get("action") == PUBLIC_BASE_URL + "/twilio/voice/recorded?lang=ko"
    with app.app_context():
        assert the_case().language == "ko" and the_case().callback_needed


@pytest.mark.parametrize("digits", ["9", "0", "", "12", "*", "¹", "٣"])
def test_wrong_key_replays_the_menu_once(app, twilio_post, digits):
    root = xml(twilio_post("/twilio/voice/language", call(Digits=digits)))
    assert len(root.findall("Gather")) == 1 and root.find("Record") is not None


def test_screen_asks_staff_to_press_one(app, twilio_post):
    root = xml(twilio_post("/twilio/voice/screen?lang=uk", {"CallSid": "CA" + "9" * 32}))
    gather = root.find("Gather")
    assert gather.get("numDigits") == "1" and "Ukrainian" in gather.find("Say").text
    assert gather.get("action") == PUBLIC_BASE_URL + "/twilio/voice/screen?lang=uk"
    assert root.find("Hangup") is not None  # no key (a voicemail box): the leg ends
    accepted = xml(post_signed(app.test_client(), "/twilio/voice/screen",
                               {"CallSid": "CA" + "9" * 32, "Digits": "1"}, query="lang=uk"))
    assert len(accepted) == 0  # empty answer: the call is bridged
    refused = xml(post_signed(app.test_client(), "/twilio/voice/screen",
                              {"CallSid": "CA" + "9" * 32, "Digits": "7"}, query="lang=uk"))
    assert refused.find("Hangup") is not None


def test_answered_dial_hangs_up_without_callback(app, twilio_post):
    twilio_post("/twilio/voice", call())
    root = xml(post_signed(app.test_client(), "/twilio/voice/dial-result",
                           call(DialCallStatus="completed"), query="lang=ru"))
    assert [child.tag for child in root] == ["Hangup"]
    twilio_post("/twilio/voice/status", call(CallStatus="completed", CallDuration="300"))
    with app.app_context():
        assert not the_case().callback_needed
        assert the_call().meta["dial_status"] == "completed"
        assert the_call().meta["duration"] == 300


def test_unanswered_dial_offers_voicemail_in_callers_language(app, twilio_post):
    twilio_post("/twilio/voice", call())
    root = xml(post_signed(app.test_client(), "/twilio/voice/dial-result",
                           call(DialCallStatus="no-answer"), query="lang=uk"))
    assert root.find("Say").text == voicemail_prompt("uk")
    assert root.find("Record") is not None
    with app.app_context():
        assert the_case().callback_needed


def test_recorded_thanks_in_language(app, twilio_post):
    root = xml(post_signed(app.test_client(), "/twilio/voice/recorded", call(), query="lang=ru"))
    assert root.find("Say").text == voicemail_thanks("ru") and root.find("Hangup") is not None


def _recording(sid: str = "RE" + "1" * 32, **extra: str) -> dict:
    return {"CallSid": CALL, "RecordingSid": sid, "RecordingUrl": RECORDING_URL,
            "RecordingStatus": "completed", "RecordingDuration": "37", "AccountSid": "AC1",
            **extra}


def test_voicemail_attached_once_however_often_twilio_repeats(app, twilio_post):
    twilio_post("/twilio/voice", call())
    for _ in range(3):
        assert twilio_post("/twilio/voice/recording", _recording()).status_code == 204
    with app.app_context():
        assert kinds() == ["call", "voicemail"]
        voicemail = db.session.execute(
            select(Interaction).where(Interaction.kind == "voicemail")).scalar_one()
        assert voicemail.meta["recording_url"] == RECORDING_URL
        assert voicemail.meta["duration"] == 37 and voicemail.external_id == "RE" + "1" * 32
        assert the_case().callback_needed


def test_recording_before_status_and_status_before_dial_result(app, twilio_post):
    """Callbacks arrive in the worst order, some twice: one call, one voicemail."""
    twilio_post("/twilio/voice", call())
    twilio_post("/twilio/voice/language", call(Digits="2"))
    twilio_post("/twilio/voice/recording", _recording())
    twilio_post("/twilio/voice/status", call(CallStatus="completed", CallDuration="80"))
    twilio_post("/twilio/voice/status", call(CallStatus="completed", CallDuration="80"))
    post_signed(app.test_client(), "/twilio/voice/dial-result",
                call(DialCallStatus="no-answer"), query="lang=ru")
    twilio_post("/twilio/voice/recording", _recording())
    with app.app_context():
        assert kinds() == ["call", "voicemail"]
        assert the_case().callback_needed
        assert the_call().meta["call_status"] == "completed"


def test_answered_dial_reported_after_status_clears_callback(app, twilio_post):
    twilio_post("/twilio/voice", call())
    twilio_post("/twilio/voice/status", call(CallStatus="completed"))
    with app.app_context():
        assert the_case().callback_needed  # as far as we knew, nobody answered
    post_signed(app.test_client(), "/twilio/voice/dial-result",
                call(DialCallStatus="completed"), query="lang=ru")
    with app.app_context():
        assert not the_case().callback_needed


def test_status_before_anything_else_still_makes_one_call(app, twilio_post):
    twilio_post("/twilio/voice/status", call(CallStatus="no-answer"))
    twilio_post("/twilio/voice", call(CallStatus="ringing"))
    with app.app_context():
        assert kinds() == ["call"] and the_case().callback_needed


def test_hangup_in_menu_marks_callback(app, twilio_post):
    twilio_post("/twilio/voice", call())
    twilio_post("/twilio/voice/status", call(CallStatus="completed", CallDuration="4"))
    with app.app_context():
        assert the_case().callback_needed


def test_late_ringing_status_never_overwrites_final(app, twilio_post):
    twilio_post("/twilio/voice/status", call(CallStatus="completed"))
    twilio_post("/twilio/voice/status", call(CallStatus="ringing"))
    with app.app_context():
        assert the_call().meta["call_status"] == "completed"


def test_staff_clearing_callback_is_not_undone_by_a_repeated_callback(app, twilio_post):
    twilio_post("/twilio/voice/status", call(CallStatus="completed"))
    with app.app_context():
        the_case().callback_needed = False
        db.session.commit()
    twilio_post("/twilio/voice/status", call(CallStatus="completed"))
    with app.app_context():
        assert not the_case().callback_needed


def test_withheld_number_still_makes_a_case(app, twilio_post):
    root = xml(twilio_post("/twilio/voice", call(From="anonymous")))
    assert root.find("Gather") is not None
    twilio_post("/twilio/voice/status", call(From="anonymous", CallStatus="completed"))
    with app.app_context():
        case = the_case()
        assert case.caller.address_kind == "web" and the_call().meta["withheld"] is True
        assert case.callback_needed


def test_callback_routes_refuse_bad_input(app, twilio_post):
    assert twilio_post("/twilio/voice/status", {"CallStatus": "completed"}).status_code == 400
    assert twilio_post("/twilio/voice/status", call(CallStatus="exploded")).status_code == 400
    assert twilio_post("/twilio/voice/recording",
                       _recording(RecordingUrl="http://evil.example/x")).status_code == 400
    assert twilio_post("/twilio/voice/recording",
                       _recording(RecordingDuration="long")).status_code == 400
    with app.app_context():
        assert db.session.execute(select(func.count(Interaction.id))).scalar_one() == 0


def test_absent_recording_attaches_nothing(app, twilio_post):
    twilio_post("/twilio/voice", call())
    answer = twilio_post("/twilio/voice/recording", _recording(RecordingStatus="absent"))
    assert answer.status_code == 204
    with app.app_context():
        assert kinds() == ["call"]


def test_voice_routes_answer_safe_twiml_to_bad_input(app, twilio_post):
    for path in ("/twilio/voice", "/twilio/voice/language", "/twilio/voice/dial-result",
                 "/twilio/voice/screen", "/twilio/voice/recorded", "/twilio/voice/fallback"):
        root = xml(twilio_post(path, {"CallSid": "not a sid!", "Digits": "x"}))
        assert len(root) > 0 or path == "/twilio/voice/screen"


def test_fallback_apologises_in_all_languages_and_takes_voicemail(app, twilio_post):
    root = xml(twilio_post("/twilio/voice/fallback", call(ErrorCode="11200")))
    says = [s.text for s in root.findall("Say")]
    for language in ("ko", "ru", "uk", "en"):
        assert apology(language) in says
    assert root.find("Record") is not None


def test_fallback_dials_a_backup_number_when_configured(make_app):
    app = make_app(VOICE_BACKUP_NUMBER="+447700900999")
    root = xml(post_signed(app.test_client(), "/twilio/voice/fallback", call(ErrorCode="11200")))
    assert root.find("Dial").find("Number").text == "+447700900999"


def test_needs_callback_rules():
    assert not needs_callback({})
    assert not needs_callback({"call_status": "in-progress"})
    assert needs_callback({"call_status": "completed"})
    assert needs_callback({"dial_status": "no-answer"})
    assert needs_callback({"voicemail": "RE1", "call_status": "completed"})
    assert not needs_callback({"dial_status": "completed", "call_status": "completed"})


def test_signed_with_query_string_and_unsigned_refused(app, twilio_post, client):
    assert client.post("/twilio/voice", data=call()).status_code == 403
    # Signed for another lang than requested: the query string is part of the signature.
    params = call(DialCallStatus="busy")
    forged = client.post("/twilio/voice/dial-result?lang=ko", data=params,
                         headers=signed_headers("/twilio/voice/dial-result", params, "lang=ru"))
    assert forged.status_code == 403
    with app.app_context():
        assert db.session.execute(select(func.count(Interaction.id))).scalar_one() == 0


def test_unparsable_signed_body_still_gets_twiml_on_voice_routes(app, client):
    from urllib.parse import parse_qsl

    from tests.conftest import PUBLIC_BASE_URL, sign

    def signed_headers(path: str, raw: bytes) -> dict:
        lenient = parse_qsl(raw.decode("latin-1"), keep_blank_values=True, errors="replace")
        return {"Content-Type": "application/x-www-form-urlencoded",
                "X-Twilio-Signature": sign(PUBLIC_BASE_URL + path, lenient)}

    for path in ("/twilio/voice", "/twilio/voice/language", "/twilio/voice/dial-result"):
        raw = b"CallSid=%00%ff"
        answer = client.post(path, data=raw, headers=signed_headers(path, raw))
        assert answer.status_code == 200 and xml(answer).tag == "Response"
    # Callback routes keep a plain 400 with the reason.
    raw = b"CallSid=%00"
    refused = client.post("/twilio/voice/status", data=raw,
                          headers=signed_headers("/twilio/voice/status", raw))
    assert refused.status_code == 400 and "NUL" in refused.text


def test_unparsable_unsigned_body_is_refused_before_anything_else(app, client):
    headers = {"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": "x"}
    for path in ("/twilio/voice", "/twilio/voice/status", "/twilio/sms"):
        assert client.post(path, data=b"CallSid=%00%ff", headers=headers).status_code == 403
