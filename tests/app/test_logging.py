"""No caller number, message text or visitor IP in any log line, at any level."""

from __future__ import annotations

import json
import logging
import urllib.request

import pytest
from sqlalchemy import select

from hotline.api.tokens import create_token
from hotline.extensions import db
from hotline.logging_setup import JsonFormatter, RequestIdFilter
from hotline.models import Case

NUMBER = "+79161234567"
TEXT = "Помогите, я в части 40123 под Курском"
VISITOR_IP = "203.0.113.77"
LOGGERS = ("", "hotline", "werkzeug", "sqlalchemy", "sqlalchemy.engine", "sqlalchemy.pool",
           "flask-limiter", "twilio", "urllib3")
# Every form the secrets could take in a log line.
NEEDLES = [NUMBER, NUMBER[1:], NUMBER[2:], TEXT, TEXT[:12], "Курском", VISITOR_IP]


@pytest.fixture
def all_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    return caplog


def _lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Each record twice: the raw message and our formatted JSON line."""
    formatter = JsonFormatter()
    lines = []
    for record in caplog.records:
        lines.append(record.getMessage())
        lines.append(formatter.format(record))
    return lines


def _assert_clean(lines: list[str]) -> None:
    for line in lines:
        for needle in NEEDLES:
            assert needle not in line, f"{needle!r} leaked into a log line: {line[:200]!r}"


def test_full_flow_logs_nothing_identifying(app, client, twilio_post, all_logs) -> None:
    form = {"From": NUMBER, "To": "+15005550006", "Body": TEXT,
            "MessageSid": "SM" + "a" * 32, "NumMedia": "0"}
    headers = {"X-Forwarded-For": VISITOR_IP}
    assert twilio_post("/twilio/sms", form, headers=headers).status_code == 200
    assert twilio_post("/twilio/sms", form).status_code == 200  # a retry
    whatsapp = dict(form, From="whatsapp:" + NUMBER, MessageSid="SM" + "b" * 32)
    assert twilio_post("/twilio/sms", whatsapp).status_code == 200
    assert twilio_post("/twilio/sms", form, signature="forged").status_code == 403

    with app.app_context():
        _row, token = create_token("logs", "staff")
        db.session.commit()
        case = db.session.execute(select(Case).order_by(Case.id)).scalars().first()
        reference = case.display_reference
        for status in ("triaged", "in_progress", "closed"):
            case.status = status
            db.session.commit()
    auth = {"Authorization": f"Bearer {token}"}
    env = {"REMOTE_ADDR": VISITOR_IP}
    listing = client.get(f"/api/v1/cases?q={reference}", headers=auth, environ_base=env)
    assert listing.status_code == 200
    detail = client.get(f"/api/v1/cases/{reference}", headers=auth, environ_base=env)
    assert detail.json["interactions"][0]["body"] == TEXT  # the data really flowed
    assert client.get("/healthz", environ_base=env).status_code == 200
    assert client.get("/no-such-page?from=" + NUMBER, environ_base=env).status_code == 404

    lines = _lines(all_logs)
    assert any(r.name.startswith("sqlalchemy.engine") for r in all_logs.records)  # SQL was captured
    _assert_clean(lines)
    events = [json.loads(JsonFormatter().format(r)) for r in all_logs.records
              if r.name.startswith("hotline")]
    intake = [e for e in events if e["event"] == "intake.received"]
    assert len(intake) == 2 and intake[0]["channel"] == "sms" and intake[0]["case"] == reference
    requests = [e for e in events if e["event"] == "http.request"]
    assert {e["route"] for e in requests} >= {"/twilio/sms", "/api/v1/cases/<reference>", None}
    assert all(set(e) <= {"ts", "level", "logger", "event", "request_id", "method", "route",
                          "status", "ms"} for e in requests)


def test_request_id_is_returned_and_logged(client, all_logs) -> None:
    response = client.get("/healthz", headers={"X-Request-ID": "abcdef12-3456"})
    assert response.headers["X-Request-ID"] == "abcdef12-3456"
    # Text that is not an id shape is replaced, never echoed or logged.
    odd = client.get("/healthz", headers={"X-Request-ID": NUMBER + " <script>"})
    assert odd.headers["X-Request-ID"] != NUMBER + " <script>"
    assert len(odd.headers["X-Request-ID"]) == 32


def test_json_lines_carry_the_request_id(app) -> None:
    record = logging.LogRecord("hotline.x", logging.INFO, __file__, 1, "case.viewed", (), None)
    record.fields = {"case": "ABCD-EFGH"}
    with app.test_request_context("/"):
        from flask import g

        g.request_id = "req-0001-abcd"
        RequestIdFilter().filter(record)
    entry = json.loads(JsonFormatter().format(record))
    assert entry["request_id"] == "req-0001-abcd" and entry["case"] == "ABCD-EFGH"
    assert entry["event"] == "case.viewed" and entry["level"] == "info"


def test_exceptions_are_logged_without_their_message(all_logs) -> None:
    log = logging.getLogger("hotline.test")
    try:
        raise ValueError(f"cannot send to {NUMBER}: {TEXT}")
    except ValueError:
        log.exception("outbox.failed")
    line = JsonFormatter().format(all_logs.records[-1])
    assert "ValueError at test_logging.py:" in line
    _assert_clean([line])


def test_third_party_lines_are_tamed(app, all_logs) -> None:
    logging.getLogger("flask-limiter").info("ratelimit %s (%s) exceeded at endpoint: %s",
                                            "5 per 1 minute", VISITOR_IP, "auth.login")
    logging.getLogger("twilio.http_client").info("Query Params: {'To': '%s'}", NUMBER)
    logging.getLogger("werkzeug").info(
        f'{VISITOR_IP} - - [01/Jan/2030 00:00:00] "%s" %s %s', "GET /followup?r=1 HTTP/1.1",
        "200", "-")
    messages = [r.getMessage() for r in all_logs.records]
    assert "ratelimit 5 per 1 minute (-) exceeded at endpoint: auth.login" in messages
    assert '- - - [01/Jan/2030 00:00:00] "GET /followup HTTP/1.1" 200 -' in messages
    _assert_clean(messages)


def test_dev_server_request_lines_hide_the_address(live_server, all_logs) -> None:
    with urllib.request.urlopen(live_server + "/healthz?who=" + NUMBER[1:]) as response:  # noqa: S310 - local test server
        assert response.status == 200
    lines = [r.getMessage() for r in all_logs.records if r.name == "werkzeug"]
    assert any("GET /healthz HTTP/1.1" in line for line in lines)
    _assert_clean(lines)
    assert not any("127.0.0.1" in line for line in lines)


def test_scrubber_is_the_last_line_of_defence() -> None:
    record = logging.LogRecord("hotline.x", logging.INFO, __file__, 1, "slip", (), None)
    record.fields = {"oops": f"from {NUMBER} at {VISITOR_IP}"}
    line = JsonFormatter().format(record)
    assert NUMBER not in line and VISITOR_IP not in line and "[redacted]" in line


def test_telegram_flow_logs_no_chat_id_text_or_bot_token(make_app, httpserver,
                                                         all_logs) -> None:
    """Webhook, forged webhook, auto-reply and staff reply sent through the (fake) Bot API,
    a timeout: no chat id, message text or bot token in any line, urllib3's included."""
    from hotline.messaging import outbox
    from tests.channels.telegram.conftest import (
        BOT_TOKEN,
        CHAT_ID,
        SECRET,
        expect_send,
        message,
        post_update,
    )

    app = make_app(TELEGRAM_BOT_TOKEN=BOT_TOKEN, TELEGRAM_WEBHOOK_SECRET=SECRET,
                   TELEGRAM_API_BASE=httpserver.url_for("").rstrip("/"))
    client = app.test_client()
    assert post_update(client, message(1, TEXT, chat_id=CHAT_ID)).status_code == 200
    assert post_update(client, message(1, TEXT, chat_id=CHAT_ID)).status_code == 200  # again
    assert post_update(client, message(2, TEXT), secret="forged").status_code == 403
    assert post_update(client, None, raw=b'{"update_id": 3, "message": []}').status_code == 400
    expect_send(httpserver)
    with app.app_context():
        case = db.session.execute(select(Case)).scalar_one()
        outbox.store_outgoing(case, TEXT, None)
        db.session.commit()
        assert outbox.work_once().sent == 2
    assert len(httpserver.log) == 2  # the requests really went out (and urllib3 logged them)
    lines = _lines(all_logs)
    assert any(r.name.startswith("urllib3") for r in all_logs.records)
    for needle in (str(CHAT_ID), BOT_TOKEN, BOT_TOKEN.split(":")[1]):
        for line in lines:
            assert needle not in line, f"{needle!r} leaked into a log line: {line[:200]!r}"
    _assert_clean(lines)
