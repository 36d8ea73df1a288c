"""Random requests against every route of the app never produce a 500.

Routes come from ``app.url_map`` at run time, so routes added later are covered
without a change here. Four families: anonymous visitors, Twilio webhooks with valid
signatures, the JSON API with a valid token, and a signed-in admin. Example counts are
bounded so the suite stays fast; hypothesis prints the failing request when one fails.
"""

from __future__ import annotations

import re
from urllib.parse import quote, urlencode

from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.routing import Rule

from hotline.api.tokens import create_token
from hotline.extensions import db
from tests.conftest import PUBLIC_BASE_URL, login_as, sign

ROUTE_EXAMPLES = 6  # per route, anonymous / API / staff families
TWILIO_EXAMPLES = 30  # per Twilio route, signed: the doors strangers knock on
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
_ARGUMENT = re.compile(r"<(?:([a-zA-Z_]+)(?:\([^)]*\))?:)?([a-zA-Z_][a-zA-Z0-9_]*)>")

SETTINGS = settings(max_examples=ROUTE_EXAMPLES, deadline=None, database=None,
                    suppress_health_check=list(HealthCheck))

nasty_text = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["", "0", "-1", "99999999999999999999", "ABCD-EFGH", "abcd efgh",
                     "../../etc/passwd", "%00", "\x00", "😀" * 30, "A" * 2000, "' OR 1=1 --",
                     "<script>alert(1)</script>", "+79161234567", "whatsapp:+79161234567",
                     "client:alice", "https://evil.example/x", "1e309", "NaN"]),
)
header_text = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=60)


def _arg_value(converter: str | None) -> st.SearchStrategy[str]:
    if converter == "int":
        return st.integers(min_value=-5, max_value=10**12).map(str)
    if converter == "path":
        return nasty_text.map(lambda v: quote(v, safe="/"))
    return nasty_text.map(lambda v: quote(v, safe="") or "x")


@st.composite
def paths(draw: st.DrawFn, rule: Rule) -> str:
    """A concrete path for ``rule`` with random argument values."""
    def fill(match: re.Match[str]) -> str:
        return draw(_arg_value(match.group(1)))

    path = _ARGUMENT.sub(fill, rule.rule)
    if draw(st.booleans()):
        query = draw(st.dictionaries(nasty_text, nasty_text, max_size=4))
        path += "?" + urlencode(query)
    return path


form_fields = st.dictionaries(nasty_text, nasty_text, max_size=8)


@st.composite
def bodies(draw: st.DrawFn, max_content_length: int) -> tuple[bytes, str]:
    """(body, content type): forms, raw bytes, bad encodings, JSON, or too much."""
    kind = draw(st.sampled_from(["form", "bytes", "bad-utf8", "json", "huge", "empty"]))
    form_type = "application/x-www-form-urlencoded"
    if kind == "form":
        return urlencode(draw(form_fields)).encode(), form_type
    if kind == "bytes":
        return draw(st.binary(max_size=400)), draw(st.sampled_from(
            [form_type, "multipart/form-data; boundary=x", "application/json", "text/plain"]))
    if kind == "bad-utf8":
        return b"Body=%FF%FE%C0%AF&From=%2B7916\xff\xfe", form_type
    if kind == "json":
        return draw(st.sampled_from([b"{", b"[]", b'{"a": 1}', b"null", b'"\\ud800"'])), (
            "application/json")
    if kind == "huge":
        return b"Body=" + b"x" * (max_content_length + 10), form_type
    return b"", form_type


def _request(client: FlaskClient, method: str, path: str, body: bytes, content_type: str,
             headers: dict[str, str]) -> int:
    response = client.open(path, method=method, data=body,
                           headers={"Content-Type": content_type, **headers})
    status = response.status_code
    response.close()
    return status


def _routes(app: Flask, prefix: str = "", exclude: tuple[str, ...] = ()) -> list[Rule]:
    rules = [rule for rule in app.url_map.iter_rules()
             if rule.rule.startswith(prefix) and not rule.rule.startswith(exclude)]
    assert rules, f"no routes under {prefix!r}"
    return sorted(rules, key=lambda r: r.rule)


def _fixed_bodies(limit: int) -> list[tuple[bytes, str]]:
    form_type = "application/x-www-form-urlencoded"
    return [
        (b"", form_type),
        (urlencode({"From": "+79161234567", "Body": "x" * 6000, "reference": "ZZZZ-ZZZZ",
                    "status": "closed", "version": "-1", "csrf_token": "x"}).encode(),
         form_type),
        (b"Body=%FF%FE%C0%AF&From=%2B7916\xff\xfe", form_type),
        (b"Body=" + b"x" * (limit + 10), form_type),
        (b'{"a": [1, {"b": null}]', "application/json"),
        (bytes(range(256)), "multipart/form-data; boundary=x"),
    ]


def _sweep(app: Flask, client: FlaskClient, rule: Rule, headers: dict[str, str],
           before=None) -> None:
    """Every method of the route with each hostile body and an argument-free path."""
    path = _ARGUMENT.sub("ZZZZ-ZZZZ", rule.rule)
    for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
        for body, content_type in _fixed_bodies(app.config["MAX_CONTENT_LENGTH"]):
            if before is not None:
                before()
            status = _request(client, method, path, body, content_type, headers)
            assert status < 500, f"{method} {path} {body[:40]!r} -> {status}"


def _fuzz(app: Flask, client: FlaskClient, rule: Rule, extra_headers: dict[str, str],
          before=None) -> None:
    limit = app.config["MAX_CONTENT_LENGTH"]
    _sweep(app, client, rule, extra_headers, before)
    own_methods = sorted(rule.methods or ["GET"])

    @SETTINGS
    @given(method=st.one_of(st.sampled_from(own_methods), st.sampled_from(METHODS)),
           path=paths(rule), body=bodies(limit),
           language=header_text, forwarded=header_text)
    def run(method: str, path: str, body: tuple[bytes, str], language: str,
            forwarded: str) -> None:
        if before is not None:
            before()
        headers = {"Accept-Language": language, "X-Forwarded-For": forwarded,
                   **extra_headers}
        status = _request(client, method, path, body[0], body[1], headers)
        assert status < 500, f"{method} {path} -> {status}"

    run()


def test_anonymous_requests_never_500(app, client) -> None:
    for rule in _routes(app):
        _fuzz(app, client, rule, {})


def test_api_with_a_valid_token_never_500(app, client) -> None:
    with app.app_context():
        _row, token = create_token("fuzz", "admin")
        db.session.commit()
    for rule in _routes(app, "/api/"):
        _fuzz(app, client, rule, {"Authorization": f"Bearer {token}"})


def test_signed_in_admin_requests_never_500(make_app, make_user) -> None:
    # CSRF is off in this one app only, so random forms reach the views' own validation;
    # CSRF itself is tested with it on, elsewhere.
    app = make_app(WTF_CSRF_ENABLED=False)
    admin = make_user("admin", totp_confirmed=True)
    client = app.test_client()
    for rule in _routes(app, "", exclude=("/twilio/", "/api/", "/static")):
        _fuzz(app, client, rule, {}, before=lambda: login_as(client, admin))


_hex32 = st.text(alphabet="0123456789abcdef", min_size=32, max_size=32)
_number = st.sampled_from(["+79161234567", "+380501234567", "+821012345678", "+15005550006",
                           "whatsapp:+79161234567", "client:alice", "+1", "anonymous"])
# Realistic values per Twilio field; each field is present or absent, valid or hostile.
TWILIO_VALUES: dict[str, st.SearchStrategy[str]] = {
    "From": _number,
    "To": _number,
    "Body": st.one_of(st.text(max_size=200),
                      st.sampled_from(["STOP", "start", "Привет", "안녕하세요", "A" * 6000])),
    "MessageSid": _hex32.map(lambda h: "SM" + h),
    "AccountSid": _hex32.map(lambda h: "AC" + h),
    "NumMedia": st.sampled_from(["0", "1", "11", "-1", "x"]),
    "MediaUrl0": st.sampled_from([
        "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1",
        "http://169.254.169.254/latest/meta-data/", "file:///etc/passwd"]),
    "MediaContentType0": st.sampled_from(["image/jpeg", "text/html", ""]),
    "OptOutType": st.sampled_from(["STOP", "START", "HELP", "??"]),
    "ErrorCode": st.sampled_from(["11200", "30003", "x"]),
    "ErrorUrl": st.sampled_from(["https://hotline.example.org/twilio/voice", "::"]),
    "MessageStatus": st.sampled_from(["queued", "sent", "delivered", "undelivered", "failed",
                                      "read", "bogus"]),
    "CallSid": _hex32.map(lambda h: "CA" + h),
    "CallStatus": st.sampled_from(["ringing", "in-progress", "completed", "busy", "no-answer",
                                   "failed", "canceled", "bogus"]),
    "CallDuration": st.sampled_from(["0", "17", "-3", "1e9", "x"]),
    "Digits": st.sampled_from(["1", "2", "3", "4", "5", "9", "0", "*", "#", "12", "", "hangup"]),
    "DialCallStatus": st.sampled_from(["completed", "answered", "busy", "no-answer", "failed"]),
    "RecordingSid": _hex32.map(lambda h: "RE" + h),
    "RecordingUrl": st.sampled_from([
        "https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE1",
        "https://evil.example/rec", "not a url"]),
    "RecordingStatus": st.sampled_from(["completed", "failed", "absent", "bogus"]),
    "RecordingDuration": st.sampled_from(["0", "12", "-1", "99999", "x"]),
}
# Mostly present and plausible (so requests get past the first checks), sometimes hostile
# or absent.
twilio_forms = st.fixed_dictionaries(
    {name: st.one_of(value, value, value, nasty_text, st.none())
     for name, value in TWILIO_VALUES.items()}
).map(lambda form: {k: v for k, v in form.items() if v is not None})

PLAUSIBLE_FORM = {
    "From": "+79161234567", "To": "+15005550006", "Body": "Привет", "NumMedia": "0",
    "MessageSid": "SM" + "1" * 32, "AccountSid": "AC" + "2" * 32, "CallSid": "CA" + "3" * 32,
    "CallStatus": "completed", "CallDuration": "17", "Digits": "2",
    "DialCallStatus": "no-answer", "RecordingSid": "RE" + "4" * 32,
    "RecordingUrl": "https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE1",
    "RecordingStatus": "completed", "RecordingDuration": "12", "MessageStatus": "delivered",
    "ErrorCode": "30003",
}
HOSTILE_VALUES = ["", "A" * 6000, "-1 ' <x> \u202e 😀"]


def _signed_post(client: FlaskClient, path: str, params: dict) -> int:
    return _request(client, "POST", path, urlencode(params).encode(),
                    "application/x-www-form-urlencoded",
                    {"X-Twilio-Signature": sign(PUBLIC_BASE_URL + path, params)})


def _sweep_twilio(client: FlaskClient, rule: Rule) -> None:
    """A plausible signed form, then each field in turn missing or hostile."""
    path = _ARGUMENT.sub("x", rule.rule)
    assert _signed_post(client, path, PLAUSIBLE_FORM) < 500, path
    for name in PLAUSIBLE_FORM:
        variants = [{k: v for k, v in PLAUSIBLE_FORM.items() if k != name}]
        variants += [{**PLAUSIBLE_FORM, name: value} for value in HOSTILE_VALUES]
        for params in variants:
            status = _signed_post(client, path, params)
            assert status < 500, f"POST {path} {name}={params.get(name, '<absent>')[:20]!r}"


def _fuzz_twilio(client: FlaskClient, rule: Rule) -> None:
    _sweep_twilio(client, rule)

    @settings(SETTINGS, max_examples=TWILIO_EXAMPLES)
    @given(form=twilio_forms, extra=form_fields,
           query=st.sampled_from(["", "?lang=ru", "?attempt=2&x=%FF"]),
           signed=st.sampled_from([True, True, True, False]))
    def run(form: dict, extra: dict, query: str, signed: bool) -> None:
        params = {**extra, **form}
        path = _ARGUMENT.sub("x", rule.rule) + query
        signature = sign(PUBLIC_BASE_URL + path, params) if signed else "bad"
        status = _request(client, "POST", path, urlencode(params).encode(),
                          "application/x-www-form-urlencoded",
                          {"X-Twilio-Signature": signature})
        assert status < 500, f"POST {path} {sorted(params)} -> {status}"
        if not signed:
            assert status in (400, 403, 404, 405, 413), (path, status)

    run()


def test_signed_twilio_requests_never_500(app, client) -> None:
    for rule in _routes(app, "/twilio/"):
        _fuzz_twilio(client, rule)
