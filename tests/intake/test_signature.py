"""Signature checks on every Twilio route, with twilio's documented test vector."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from flask import Response, request

from hotline.extensions import csrf
from hotline.intake.signature import parse_form, signature_is_valid, signed_url, twilio_webhook
from tests.conftest import PUBLIC_BASE_URL, sign
from tests.twilio_fakes import post_signed

# https://www.twilio.com/docs/usage/security#validating-requests
VECTOR_TOKEN = "12345"
VECTOR_PARAMS = {"CallSid": "CA1234567890ABCDE", "Caller": "+14158675309", "Digits": "1234",
                 "From": "+14158675309", "To": "+18005551212"}
VECTOR_SIGNATURE = "RSOYDt4T1cUTdK1PDd93/VVr8B8="

ROUTES = ["/twilio/sms", "/twilio/sms/status", "/twilio/sms/fallback", "/twilio/voice",
          "/twilio/voice/language", "/twilio/voice/screen", "/twilio/voice/dial-result",
          "/twilio/voice/recorded", "/twilio/voice/recording", "/twilio/voice/status",
          "/twilio/voice/fallback"]


@pytest.fixture
def vector_app(make_app):
    app = make_app(TWILIO_AUTH_TOKEN=VECTOR_TOKEN, PUBLIC_BASE_URL="https://mycompany.com")

    @app.post("/myapp.php")
    @twilio_webhook
    def myapp() -> Response:
        return Response("ok")

    csrf.exempt(myapp)
    return app


def test_documented_vector_is_accepted(vector_app):
    assert sign("https://mycompany.com/myapp.php?foo=1&bar=2", VECTOR_PARAMS,
                VECTOR_TOKEN) == VECTOR_SIGNATURE
    answer = vector_app.test_client().post(
        "/myapp.php?foo=1&bar=2", data=urlencode(VECTOR_PARAMS),
        headers={"X-Twilio-Signature": VECTOR_SIGNATURE,
                 "Content-Type": "application/x-www-form-urlencoded"})
    assert answer.status_code == 200 and answer.text == "ok"


@pytest.mark.parametrize("change", [
    {"query": "foo=1&bar=3"},
    {"query": "foo=1"},
    {"params": {**VECTOR_PARAMS, "Digits": "1235"}},
    {"signature": "RSOYDt4T1cUTdK1PDd93/VVr8B8"},
])
def test_documented_vector_altered_is_refused(vector_app, change):
    query = change.get("query", "foo=1&bar=2")
    params = change.get("params", VECTOR_PARAMS)
    answer = vector_app.test_client().post(
        f"/myapp.php?{query}", data=urlencode(params),
        headers={"X-Twilio-Signature": change.get("signature", VECTOR_SIGNATURE),
                 "Content-Type": "application/x-www-form-urlencoded"})
    assert answer.status_code == 403


@pytest.mark.parametrize("path", ROUTES)
def test_every_route_refuses_unsigned_and_accepts_signed(app, client, path):
    params = {"CallSid": "CA" + "1" * 32, "MessageSid": "SM" + "1" * 32, "From": "+79161234567"}
    assert client.post(path, data=params).status_code == 403
    assert post_signed(client, path, params).status_code in (200, 204, 400)


def test_proxy_fix_lets_the_forwarded_url_be_checked(make_app):
    params = {"MessageSid": "SM" + "2" * 32, "From": "+79161234567", "Body": "hi"}
    signature = sign("https://public.example.net/twilio/sms", params)
    headers = {"X-Twilio-Signature": signature, "X-Forwarded-Proto": "https",
               "X-Forwarded-Host": "public.example.net", "X-Forwarded-For": "203.0.113.9",
               "Content-Type": "application/x-www-form-urlencoded"}
    behind_proxy = make_app(PUBLIC_BASE_URL=None, PROXY_FIX_HOPS=1)
    assert behind_proxy.test_client().post("/twilio/sms", data=urlencode(params),
                                           headers=headers).status_code == 200
    no_proxy_fix = make_app(PUBLIC_BASE_URL=None)
    assert no_proxy_fix.test_client().post("/twilio/sms", data=urlencode(params),
                                           headers=headers).status_code == 403


def test_a_forged_token_or_another_url_is_refused(app, twilio_post):
    params = {"MessageSid": "SM" + "3" * 32, "From": "+79161234567", "Body": "hi"}
    forged = sign(PUBLIC_BASE_URL + "/twilio/sms", params, token="not-the-token")
    assert twilio_post("/twilio/sms", params, signature=forged).status_code == 403
    elsewhere = sign("https://evil.example/twilio/sms", params)
    assert twilio_post("/twilio/sms", params, signature=elsewhere).status_code == 403


def test_without_public_base_url_the_request_url_is_signed(make_app):
    """twilio's example again, checked against the URL the request itself came to."""
    app = make_app(TWILIO_AUTH_TOKEN=VECTOR_TOKEN, PUBLIC_BASE_URL=None)
    with app.test_request_context("/myapp.php?foo=1&bar=2", method="POST",
                                  base_url="https://mycompany.com", data=VECTOR_PARAMS):
        assert signed_url() == "https://mycompany.com/myapp.php?foo=1&bar=2"
        request.environ["HTTP_X_TWILIO_SIGNATURE"] = VECTOR_SIGNATURE
        assert signature_is_valid(parse_form(request.get_data()))
        request.environ["HTTP_X_TWILIO_SIGNATURE"] = "RSOYDt4T1cUTdK1PDd93/VVr8B9="
        assert not signature_is_valid(parse_form(request.get_data()))
