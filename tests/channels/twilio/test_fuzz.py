"""Whatever a correctly signed form holds, no route answers 500, voice routes always
answer playable TwiML, and nothing falls into the spool by accident."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hotline.intake import spool
from tests.twilio_fakes import parse_twiml, post_signed

VOICE_TWIML_ROUTES = ["/twilio/voice", "/twilio/voice/language", "/twilio/voice/screen",
                      "/twilio/voice/dial-result", "/twilio/voice/recorded",
                      "/twilio/voice/fallback"]
CALLBACK_ROUTES = ["/twilio/sms", "/twilio/sms/status", "/twilio/voice/recording",
                   "/twilio/voice/status"]
FIELDS = ["From", "To", "Body", "MessageSid", "NumMedia", "MediaUrl0", "MediaContentType0",
          "OptOutType", "MessageStatus", "ErrorCode", "CallSid", "CallStatus", "Digits",
          "DialCallStatus", "RecordingSid", "RecordingUrl", "RecordingStatus",
          "RecordingDuration", "CallDuration"]
PLAUSIBLE = ["", "1", "4", "-3", "99999999999999999999", "+79161234567", "whatsapp:+79161234567",
             "anonymous", "SM" + "a" * 32, "CA" + "b" * 32, "RE" + "c" * 32, "completed",
             "no-answer", "delivered", "STOP", "START", "https://api.twilio.com/x",
             "http://evil.example", "중지", "Допоможіть", "\u202e", "1e9", "NaN"]

values = st.one_of(st.sampled_from(PLAUSIBLE),
                   st.text(max_size=80))
forms = st.dictionaries(st.sampled_from(FIELDS), values, max_size=10)
FUZZ = settings(max_examples=25, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.mark.parametrize("path", VOICE_TWIML_ROUTES)
@FUZZ
@given(form=forms)
def test_voice_routes_always_answer_twiml(app, path, form):
    answer = post_signed(app.test_client(), path, form)
    assert answer.status_code == 200, answer.text
    assert answer.mimetype == "text/xml"
    assert b"\x00" not in answer.data
    assert parse_twiml(answer.text).tag == "Response"
    if path != "/twilio/voice/fallback":  # the fallback spools by design
        assert spool.pending(app) == []


@pytest.mark.parametrize("path", CALLBACK_ROUTES)
@FUZZ
@given(form=forms)
def test_message_and_callback_routes_answer_or_refuse_with_reason(app, path, form):
    answer = post_signed(app.test_client(), path, form)
    assert answer.status_code in (200, 204, 400), answer.text
    if answer.status_code == 400:
        assert answer.text.strip()
    # Bad input is refused, not mistaken for an outage; only a recording of a call
    # not stored (yet) waits in the spool.
    assert all(p.name.startswith("twilio_voice_recording--") for p in spool.pending(app))
    if path != "/twilio/voice/recording":
        assert spool.pending(app) == []


@FUZZ
@given(form=forms)
def test_sms_fallback_spools_and_answers_or_refuses_unparsable(app, form):
    answer = post_signed(app.test_client(), "/twilio/sms/fallback", form)
    if answer.status_code == 400:  # NUL characters: not a form Twilio could have sent
        assert "\x00" in "".join(form) + "".join(form.values())
    else:
        assert answer.status_code == 200 and parse_twiml(answer.text).tag == "Response"
