"""/twilio/sms end to end: signature first, idempotent intake, TwiML, hostile input."""

from __future__ import annotations

from sqlalchemy import func, select

from hotline.extensions import db
from hotline.models import Case, Interaction
from tests.conftest import PUBLIC_BASE_URL, sign

SID = "SM" + "a" * 32


def message(**overrides: str) -> dict:
    params = {"From": "+79161234567", "To": "+15005550006", "Body": "Хочу сдаться",
              "MessageSid": SID, "NumMedia": "0"}
    params.update(overrides)
    return params


def stored(app) -> tuple[int, int]:  # noqa: ANN001
    with app.app_context():
        cases = db.session.execute(select(func.count()).select_from(Case)).scalar_one()
        items = db.session.execute(select(func.count()).select_from(Interaction)).scalar_one()
        return cases, items


def test_signed_message_creates_a_case_and_answers_twiml(app, twilio_post):
    response = twilio_post("/twilio/sms", message())
    assert response.status_code == 200
    assert response.mimetype == "text/xml"
    with app.app_context():
        case = db.session.execute(select(Case)).scalar_one()
        assert case.language == "ru"
    body = response.get_data(as_text=True)
    assert body.startswith("<?xml") and "<Response><Message>" in body
    assert case.display_reference in body
    assert len(body.split("<Message>")[1].split("</Message>")[0]) <= 70


def test_retry_gives_the_same_answer_and_no_new_rows(app, twilio_post):
    first = twilio_post("/twilio/sms", message())
    second = twilio_post("/twilio/sms", message())
    assert second.status_code == 200
    assert second.get_data() == first.get_data()
    assert stored(app) == (1, 1)


def test_second_message_in_the_case_gets_no_second_auto_reply(app, twilio_post):
    twilio_post("/twilio/sms", message())
    response = twilio_post("/twilio/sms", message(MessageSid="SM" + "b" * 32))
    assert "<Message>" not in response.get_data(as_text=True)
    assert stored(app) == (1, 2)


def test_unsigned_request_is_refused_and_stores_nothing(app, client):
    response = client.post("/twilio/sms", data=message())
    assert response.status_code == 403
    assert stored(app) == (0, 0)


def test_forged_signature_is_refused(app, twilio_post):
    forged = sign(PUBLIC_BASE_URL + "/twilio/sms", message(), token="not-the-token")
    assert twilio_post("/twilio/sms", message(), signature=forged).status_code == 403
    assert stored(app) == (0, 0)


def test_signature_over_other_parameters_is_refused(app, twilio_post):
    tampered = sign(PUBLIC_BASE_URL + "/twilio/sms", message(Body="something else"))
    assert twilio_post("/twilio/sms", message(), signature=tampered).status_code == 403
    assert stored(app) == (0, 0)


def test_signature_for_another_url_is_refused(app, twilio_post):
    other = sign("https://evil.example/twilio/sms", message())
    assert twilio_post("/twilio/sms", message(), signature=other).status_code == 403


def test_missing_from_is_400(app, twilio_post):
    params = message()
    del params["From"]
    response = twilio_post("/twilio/sms", params)
    assert response.status_code == 400
    assert b"From" in response.data
    assert stored(app) == (0, 0)


def test_missing_message_sid_is_400(app, twilio_post):
    params = message()
    del params["MessageSid"]
    assert twilio_post("/twilio/sms", params).status_code == 400


def test_unparseable_sender_is_400(app, twilio_post):
    assert twilio_post("/twilio/sms", message(From="hello")).status_code == 400
    assert stored(app) == (0, 0)


def test_body_over_the_limit_is_413(app, client):
    huge = "x" * (app.config["MAX_CONTENT_LENGTH"] + 10)
    response = client.post("/twilio/sms", data={"From": "+79161234567", "Body": huge},
                           headers={"X-Twilio-Signature": "x"})
    assert response.status_code == 413
    assert stored(app) == (0, 0)


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
    assert stored(app) == (0, 0)


def test_script_tag_is_stored_verbatim_as_text(app, twilio_post):
    assert twilio_post("/twilio/sms", message(Body="<script>alert(1)</script>")
                       ).status_code == 200
    with app.app_context():
        assert db.session.execute(select(Interaction.body)).scalar_one() == \
            "<script>alert(1)</script>"


def test_twilio_documented_test_vector(make_app):
    """twilio's own example: token 12345 signs this URL and these parameters."""
    app = make_app(TWILIO_AUTH_TOKEN="12345", PUBLIC_BASE_URL=None)
    params = {"CallSid": "CA1234567890ABCDE", "Caller": "+14158675309", "Digits": "1234",
              "From": "+14158675309", "To": "+18005551212"}
    with app.test_request_context("/myapp.php?foo=1&bar=2", method="POST",
                                  base_url="https://mycompany.com", data=params):
        from flask import request

        from hotline.intake.signature import parse_form, signature_is_valid, signed_url

        assert signed_url() == "https://mycompany.com/myapp.php?foo=1&bar=2"
        request.environ["HTTP_X_TWILIO_SIGNATURE"] = "RSOYDt4T1cUTdK1PDd93/VVr8B8="
        assert signature_is_valid(parse_form(request.get_data()))
        request.environ["HTTP_X_TWILIO_SIGNATURE"] = "RSOYDt4T1cUTdK1PDd93/VVr8B9="
        assert not signature_is_valid(parse_form(request.get_data()))


def test_webhooks_are_exempt_from_application_wide_rate_limits(make_app):
    """Twilio sends everything from a few addresses: a burst must never be refused."""
    from hotline.extensions import limiter
    from tests.conftest import PUBLIC_BASE_URL, sign

    app = make_app(RATELIMIT_APPLICATION="2 per minute")
    client = app.test_client()
    try:
        statuses = []
        for n in range(5):
            params = message(MessageSid=f"SM{n:032d}", From=f"+7916123456{n}")
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
