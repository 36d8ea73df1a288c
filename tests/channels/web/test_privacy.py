"""Public pages leak nothing: headers, no other hosts, small pages, no addresses in logs."""

from __future__ import annotations

import logging
import re

import limits
import pytest

from hotline.channels.web.views import FOLLOWUP_FAILURES_PER_ADDRESS, SUBMIT_LIMIT
from hotline.logging_setup import WerkzeugFilter
from tests.web_helpers import (
    contact_form,
    followup_login,
    form_data,
    hidden_fields,
    reference_and_receipt,
    send_contact,
)

MAX_PAGE_BYTES = 100 * 1024
URL_ATTRIBUTE = re.compile(r'\b(?:src|href|action|srcset|poster|data)\s*=\s*"([^"]*)"', re.I)
CSS_URL = re.compile(r"url\(\s*['\"]?([^'\")]*)", re.I)
VISITOR_ADDRESS = "203.0.113.77"
VISITOR_AGENT = "UniqueTestAgent/9.9 (watch-for-me)"


def _public_responses(app, client):
    """A tour of every public page and state, as (name, response) pairs."""
    pages = [(path, client.get(path)) for path in ("/", "/ko/", "/ru/", "/uk/", "/en/",
                                                   "/followup", "/followup?lang=ko")]
    pages.append(("static css", client.get("/static/public.css")))
    pages.append(("field errors", send_contact(client, "ko", message="",
                                               contact_ok="yes")))
    long_text = "한" * app.config["MESSAGE_MAX_CHARS"]
    pages.append(("errors with the longest message",
                  send_contact(client, "ko", message=long_text, region="x" * 101)))
    success = send_contact(client, "ko", message="도와주세요")
    pages.append(("success", success))
    reference, receipt = reference_and_receipt(success.get_data(as_text=True))
    pages.append(("wrong receipt", followup_login(client, reference, "0" * 16)))
    pages.append(("sign in", followup_login(client, reference, receipt)))
    pages.append(("thread", client.get("/followup?lang=ko")))
    pages.append(("csrf refusal", client.post("/en/", data={"message": "x"})))
    return pages


def test_security_headers_on_every_public_response(app, client):
    for name, response in _public_responses(app, client):
        headers = response.headers
        csp = headers.get("Content-Security-Policy", "")
        assert "default-src 'self'" in csp, name
        assert "frame-ancestors 'none'" in csp, name
        assert "script-src 'self'" in csp and "style-src 'self'" in csp, name
        assert headers.get("Referrer-Policy") == "no-referrer", name
        assert headers.get("X-Content-Type-Options") == "nosniff", name


def test_pages_with_secrets_or_conversations_are_never_cached(app, client):
    success = send_contact(client, "en")
    assert success.headers["Cache-Control"] == "no-store"
    reference, receipt = reference_and_receipt(success.get_data(as_text=True))
    followup_login(client, reference, receipt)
    assert client.get("/followup").headers["Cache-Control"] == "no-store"


def test_no_url_points_to_another_host_and_no_script_is_used(app, client):
    for name, response in _public_responses(app, client):
        body = response.get_data(as_text=True)
        assert "<script" not in body.lower(), name
        assert "@import" not in body, name
        for url in URL_ATTRIBUTE.findall(body) + CSS_URL.findall(body):
            assert url.startswith(("/", "#", "tel:", "data:")), (name, url)
            assert not url.startswith("//"), (name, url)
        assert not re.search(r"(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}", body, re.I), name


def test_every_page_is_under_100_kb(app, client):
    for name, response in _public_responses(app, client):
        assert len(response.get_data()) < MAX_PAGE_BYTES, name


def test_pages_are_made_for_small_screens(client):
    page = client.get("/ko/").get_data(as_text=True)
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page
    css = client.get("/static/public.css").get_data(as_text=True)
    assert "max-width: 40rem" in css and "width: 100%" in css
    assert not re.search(r"(?<!max-)(?<!min-)width:\s*[4-9]\d\dpx", css)


def test_form_fields_ask_browsers_not_to_remember_them(client):
    page = client.get("/en/").get_data(as_text=True)
    for name in ("message", "name", "contact", "region"):
        assert re.search(rf'<(?:input|textarea)[^>]*autocomplete="off"[^>]*name="{name}"', page)


def _smallest(limit_string: str) -> int:
    return min(item.amount for item in limits.parse_many(limit_string))


def test_public_routes_log_no_visitor_address_user_agent_or_text(app, caplog):
    caplog.set_level(logging.DEBUG)
    client = app.test_client()
    client.environ_base.update({"REMOTE_ADDR": VISITOR_ADDRESS, "HTTP_USER_AGENT": VISITOR_AGENT})
    secret_text = "secret-body-words-kept-out-of-logs"
    for _ in range(_smallest(SUBMIT_LIMIT) + 1):  # the last one is rate limited
        response = send_contact(client, "en", message=secret_text, contact="+79160000000")
    assert response.status_code == 429
    hidden = contact_form(client)
    client.post("/en/", data=form_data(hidden, website="bot"))
    for _ in range(_smallest(FOLLOWUP_FAILURES_PER_ADDRESS) + 1):
        response = followup_login(client, "ABCD-EFGH", "1234 5678 9012 3456",
                                  REMOTE_ADDR=VISITOR_ADDRESS)
    assert response.status_code == 429
    assert "ratelimit" in caplog.text  # the limiter did log its breaches...
    for secret in (VISITOR_ADDRESS, VISITOR_AGENT, "UniqueTestAgent", secret_text,
                   "79160000000", "1234 5678"):
        assert secret not in caplog.text  # ...but not who breached them


@pytest.mark.parametrize("address", ["203.0.113.77", "2001:db8::1", "::ffff:10.0.0.1"])
def test_development_server_request_lines_lose_the_client_address(address):
    record = logging.LogRecord(
        "werkzeug", logging.INFO, __file__, 1,
        f'{address} - - [26/Nov/2026 21:00:00] "%s" %s %s\n', ("GET /ko/ HTTP/1.1", "200", "-"),
        None)
    assert WerkzeugFilter().filter(record)
    assert address not in record.getMessage()
    assert record.getMessage().startswith('- - - [26/Nov/2026 21:00:00] "GET /ko/ HTTP/1.1" 200')


def test_the_access_log_filter_is_installed(app):
    assert any(isinstance(f, WerkzeugFilter) for f in logging.getLogger("werkzeug").filters)


def test_success_page_hidden_fields_are_not_reused(client):
    page = send_contact(client, "en").get_data(as_text=True)
    assert "submission_id" not in hidden_fields(page)
