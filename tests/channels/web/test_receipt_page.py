"""The receipt page: a GET after the form (so a reload resends nothing), shown again in the
same browser for ten minutes, kept encrypted in the session cookie and nowhere else."""

from __future__ import annotations

import base64
import json
import re
import zlib

import pytest
from sqlalchemy import func, select

from hotline.channels.web.shown_receipt import RELOAD_SECONDS, SESSION_KEY
from hotline.extensions import db
from hotline.models import Case, ServerSession
from tests.web_helpers import contact_form, form_data, reference_and_receipt, send_contact

TITLE = re.compile(r"<title>([^<]*)</title>")


def _age(client, seconds: float) -> None:
    with client.session_transaction() as sess:
        sess[SESSION_KEY] = {**sess[SESSION_KEY], "at": sess[SESSION_KEY]["at"] - seconds}


def _cookie_payload(client) -> str:
    """The session cookie as the browser stores it, decoded (it is signed, not encrypted)."""
    value = client.get_cookie("session").value
    compressed = value.startswith(".")
    data = value.lstrip(".").split(".")[0]
    raw = base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))
    return (zlib.decompress(raw) if compressed else raw).decode()


def test_sending_redirects_to_a_page_that_a_reload_shows_again(app, client):
    hidden = contact_form(client, "ru")
    sent = client.post("/ru/", data=form_data(hidden, message="Помогите", language="ru"))
    assert sent.status_code == 303 and sent.headers["Location"] == "/ru/received#main"
    first = client.get("/ru/received")
    assert first.status_code == 200 and first.headers["Cache-Control"] == "no-store"
    shown = reference_and_receipt(first.get_data(as_text=True))
    _age(client, RELOAD_SECONDS - 30)  # nine and a half minutes later: a reload
    again = client.get("/ru/received").get_data(as_text=True)
    assert reference_and_receipt(again) == shown and "Ваше сообщение получено" in again
    with app.app_context():  # the reload sent nothing
        assert db.session.scalar(select(func.count()).select_from(Case)) == 1


def test_after_ten_minutes_the_receipt_is_gone_for_good(client):
    send_contact(client, "en", message="Help")
    _age(client, RELOAD_SECONDS + 1)
    page = client.get("/en/received").get_data(as_text=True)
    assert "This page has expired" in page and 'id="receipt"' not in page
    assert 'id="reference"' not in page
    with client.session_transaction() as sess:
        assert SESSION_KEY not in sess  # dropped, not merely hidden


def test_another_browser_never_sees_it(app, client):
    send_contact(client, "en", message="Help")
    page = app.test_client().get("/en/received").get_data(as_text=True)
    assert "This page has expired" in page and 'id="receipt"' not in page


def test_kept_encrypted_in_the_cookie_and_nowhere_on_the_server(app, client):
    page = send_contact(client, "en", message="Help").get_data(as_text=True)
    reference, receipt = reference_and_receipt(page)
    payload = _cookie_payload(client)
    assert SESSION_KEY in payload
    for secret in (receipt, receipt.replace(" ", ""), reference):
        assert secret not in payload
    token = json.loads(payload)[SESSION_KEY]["token"]
    assert token.startswith("gAAAA")  # a Fernet token
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(ServerSession)) == 0
        case = db.session.scalars(select(Case)).one()
        assert receipt.replace(" ", "") not in (case.followup_hash or "")


def test_a_forged_or_broken_cookie_value_shows_nothing(client):
    send_contact(client, "en", message="Help")
    with client.session_transaction() as sess:
        sess[SESSION_KEY] = {"token": "not-a-token", "at": sess[SESSION_KEY]["at"]}
    assert "This page has expired" in client.get("/en/received").get_data(as_text=True)


def test_the_receipt_page_switches_language_and_keeps_the_receipt(client):
    page = send_contact(client, "en", message="Help").get_data(as_text=True)
    assert 'href="/ko/received"' in page
    korean = client.get("/ko/received").get_data(as_text=True)
    assert "글을 받았습니다" in korean
    assert reference_and_receipt(korean) == reference_and_receipt(page)


@pytest.mark.parametrize("lang", ["en", "ko", "ru", "uk"])
def test_every_public_page_has_its_own_title(app, client, lang):
    titles = {}
    titles["form"] = TITLE.search(client.get(f"/{lang}/").get_data(as_text=True)).group(1)
    error = send_contact(client, lang, message="")
    titles["form error"] = TITLE.search(error.get_data(as_text=True)).group(1)
    titles["receipt"] = TITLE.search(send_contact(client, lang, message="x y z").get_data(
        as_text=True)).group(1)
    titles["expired"] = TITLE.search(app.test_client().get(f"/{lang}/received").get_data(
        as_text=True)).group(1)
    titles["followup"] = TITLE.search(client.get(f"/followup?lang={lang}").get_data(
        as_text=True)).group(1)
    assert len(set(titles.values())) == len(titles), titles


def test_a_validation_error_opens_at_a_summary_linking_each_field(client):
    page = client.get("/uk/").get_data(as_text=True)
    assert 'action="/uk/#error-summary"' in page  # the browser jumps there, no script needed
    answer = send_contact(client, "uk", message="", contact_ok="yes")
    assert answer.status_code == 400
    page = answer.get_data(as_text=True)
    summary = page.split('id="error-summary"', 1)[1].split("</div>", 1)[0]
    assert summary.startswith(' role="alert"')
    assert 'href="#message-field"' in summary and 'href="#contact-field"' in summary
    for field_id in ("message", "contact"):
        assert f'id="{field_id}-field"' in page
    # The summary comes before the fields it links to.
    assert page.index('id="error-summary"') < page.index('<textarea')


def test_write_to_us_link_comes_before_the_explanations(client):
    page = client.get("/en/").get_data(as_text=True)
    jump = page.index('href="#write"')
    assert jump < page.index("Humane treatment") and 'id="write"' in page
