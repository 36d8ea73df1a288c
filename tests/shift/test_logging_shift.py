"""A whole case, intake to close, through the HTTP routes, with every logger at DEBUG:
no caller number (in any spelling), message, note or reply text, password, TOTP code or
client address may appear in any log line (issue 8).

The same records are checked three ways: the raw message, our JSON line, and the
standard library's formatter with tracebacks (what a differently configured handler
would write), so neither the JSON formatter's scrubber nor its terse exception
rendering can hide a leak.
"""

from __future__ import annotations

import logging
import re

import pytest
from sqlalchemy import select

from hotline.extensions import db
from hotline.logging_setup import JsonFormatter
from hotline.messaging import outbox
from hotline.models import Case, Interaction, utcnow
from tests.auth_flow import code_at, code_step, enrolled, password_step
from tests.conftest import csrf_token
from tests.dashboard_support import case_url, post_action
from tests.twilio_fakes import TEST_ACCOUNT_SID, FakeTwilioHttp

NUMBER = "+79261234578"
# Every spelling the caller's number could take in a log line.
NUMBER_FORMS = [NUMBER, NUMBER[1:], NUMBER[2:], "+7 926 123 45 78", "+7 926 123-45-78",
                "926 123-45-78", "8 926 123 45 78", "89261234578"]
MESSAGE = "Мой сын в части 40123 под Белгородом, он хочет сдаться"
NOTE = "Сестра перезвонит вечером с другого телефона, позывной Ворон"
REPLY = "Ми отримали ваше повідомлення і скоро відповімо"
PASSWORD = "Tiger-lily 9 harbour lantern"
WRONG_PASSWORD = "Tiger-lily 9 harbour lantern?"
CLIENT_IP = "203.0.113.77"
PROXY_IP = "198.51.100.23"
HOTLINE_NUMBER = "+15005550006"
SECRETS = [*NUMBER_FORMS, MESSAGE, MESSAGE[:14], "Белгород", NOTE, NOTE[:16], "Ворон", REPLY,
           REPLY[:15], PASSWORD, WRONG_PASSWORD, CLIENT_IP, PROXY_IP]


@pytest.fixture
def fake() -> FakeTwilioHttp:
    return FakeTwilioHttp()


@pytest.fixture
def app(make_app, fake):
    # Behind one proxy hop: the client address arrives in X-Forwarded-For and becomes
    # request.remote_addr, as in production.
    return make_app(PROXY_FIX_HOPS=1, TWILIO_ACCOUNT_SID=TEST_ACCOUNT_SID,
                    TWILIO_MESSAGING_FROM=HOTLINE_NUMBER, TWILIO_HTTP_CLIENT=fake)


@pytest.fixture
def every_logger(app, caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """Root and every logger that exists once the app is built, all at DEBUG."""
    caplog.set_level(logging.DEBUG)
    for name in [*logging.root.manager.loggerDict, "sqlalchemy.engine.Engine",
                 "sqlalchemy.pool", "werkzeug", "flask-limiter", "twilio", "urllib3"]:
        caplog.set_level(logging.DEBUG, logger=name)
    return caplog


def _rendered(caplog: pytest.LogCaptureFixture) -> list[str]:
    json_lines, plain = JsonFormatter(), logging.Formatter("%(name)s %(message)s")
    lines = []
    for record in caplog.records:
        lines += [record.getMessage(), json_lines.format(record), plain.format(record)]
    return lines


def _code_pattern(code: str) -> re.Pattern[str]:
    # A code alone, not six digits inside a longer number, a timestamp's fraction of a
    # second or a hex request id, which would match by chance about once in a million.
    return re.compile(rf"(?<![0-9a-fA-F.]){code}(?![0-9a-fA-F])")


def _sign_in(client, user, secret: str) -> str:
    """Password and TOTP through /login; returns the code used."""
    assert password_step(client, user.email, PASSWORD).status_code == 302
    code = code_at(secret, utcnow())
    response = code_step(client, code)
    assert response.status_code == 302 and response.headers["Location"] == "/dashboard/"
    return code


def _reveal(client, reference: str) -> str:
    html = client.get(case_url(reference)).get_data(as_text=True)
    response = client.post(case_url(reference, "reveal"), data={"csrf_token": csrf_token(html)})
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_intake_to_close_through_the_routes_logs_nothing_identifying(
        app, client, twilio_post, make_user, fake, every_logger):
    staff, staff_secret = enrolled(make_user, "staff", display_name="Olena K.",
                                   password=PASSWORD)
    supervisor, supervisor_secret = enrolled(make_user, "supervisor", password=PASSWORD)
    forwarded = {"X-Forwarded-For": CLIENT_IP}
    client.environ_base.update({"REMOTE_ADDR": PROXY_IP, "HTTP_X_FORWARDED_FOR": CLIENT_IP})
    every_logger.clear()

    # Intake: a signed SMS, its retry, and a forged one.
    sms = {"From": NUMBER, "To": HOTLINE_NUMBER, "Body": MESSAGE, "NumMedia": "0",
           "MessageSid": "SM" + "c" * 32}
    assert twilio_post("/twilio/sms", sms, headers=forwarded).status_code == 200
    assert twilio_post("/twilio/sms", sms, headers=forwarded).status_code == 200
    assert twilio_post("/twilio/sms", sms, signature="forged").status_code == 403
    with app.app_context():
        reference = db.session.execute(select(Case)).scalar_one().display_reference

    # Sign-in: a wrong password first, then password and code.
    assert password_step(client, staff.email, WRONG_PASSWORD).status_code == 401
    staff_code = _sign_in(client, staff, staff_secret)

    queue = client.get("/dashboard/")
    assert queue.status_code == 200 and reference in queue.get_data(as_text=True)
    page = client.get(case_url(reference)).get_data(as_text=True)
    assert MESSAGE in page  # the data really flowed through the pages
    for action, fields in [
        ("claim", {}),
        ("classify", {"category": "relative", "caller_type": "relative",
                      "affiliation": "russia", "urgency": "high", "language": "ru"}),
        ("note", {"body": NOTE}),
        ("reply", {"body": REPLY}),
    ]:
        response = post_action(client, reference, action, **fields)
        assert response.status_code == 303, (action, response.status_code)

    # The outbox sends the reply; Twilio reports it delivered.
    with app.app_context():
        assert outbox.work_once().sent == 1
    assert fake.sent[0]["data"]["To"] == NUMBER and fake.sent[0]["data"]["Body"] == REPLY
    status = {"MessageSid": "SM" + "0" * 31 + "1", "MessageStatus": "delivered",
              "To": NUMBER, "From": HOTLINE_NUMBER}
    assert twilio_post("/twilio/sms/status", status, headers=forwarded).status_code == 204

    # A supervisor signs in elsewhere and reveals the number (staff may not).
    assert client.post(case_url(reference, "reveal"), data={
        "csrf_token": csrf_token(page)}).status_code == 403
    other = app.test_client()
    other.environ_base.update({"REMOTE_ADDR": PROXY_IP, "HTTP_X_FORWARDED_FOR": CLIENT_IP})
    supervisor_code = _sign_in(other, supervisor, supervisor_secret)
    assert NUMBER in _reveal(other, reference)

    closed = post_action(client, reference, "status", status="closed",
                         resolution="information_provided")
    assert closed.status_code == 303
    signout = csrf_token(client.get("/dashboard/").get_data(as_text=True))
    assert client.post("/logout", data={"csrf_token": signout}).status_code == 302

    with app.app_context():
        case = db.session.execute(select(Case)).scalar_one()
        assert (case.status, case.resolution) == ("closed", "information_provided")
        kinds = [i.kind for i in db.session.execute(
            select(Interaction).where(Interaction.case_id == case.id)
            .order_by(Interaction.id)).scalars()]
        assert kinds.count("note") == 1 and kinds.count("message_out") == 1

    records = every_logger.records
    names = {r.name for r in records}
    assert any(n.startswith("sqlalchemy.engine") for n in names)  # SQL was captured
    assert "hotline.request" in names
    lines = _rendered(every_logger)
    for line in lines:
        for secret in SECRETS:
            assert secret not in line, f"{secret!r} leaked into a log line: {line[:300]!r}"
        for code in (staff_code, supervisor_code):
            assert not _code_pattern(code).search(line), \
                f"a TOTP code leaked into a log line: {line[:300]!r}"
