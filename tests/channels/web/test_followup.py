"""Coming back with reference and receipt: reading replies, writing more, throttling guesses."""

from __future__ import annotations

from datetime import UTC, datetime

import limits
import pytest
from sqlalchemy import func, select

from hotline.cases.references import format_reference
from hotline.channels.web.intake import THREAD_TEXT_BUDGET_BYTES
from hotline.channels.web.views import (
    FOLLOWUP_FAILURES_PER_ADDRESS,
    FOLLOWUP_FAILURES_PER_REFERENCE,
    FOLLOWUP_IDLE_SECONDS,
    FOLLOWUP_MAX_SECONDS,
    FOLLOWUP_SESSION_KEY,
)
from hotline.extensions import db
from hotline.models import AuditEvent, Case, Interaction, utcnow
from tests.web_helpers import (
    followup_login,
    hidden_fields,
    main_text,
    reference_and_receipt,
    send_contact,
)

WRONG_DETAILS = "These details do not match. Check both and try again."


def _amount(limit_string: str) -> int:
    return min(item.amount for item in limits.parse_many(limit_string))


@pytest.fixture
def web_case(app, client):
    """A web case made through the form: (reference, receipt, case id)."""
    response = send_contact(client, "en", message="My first message", language="en")
    reference, receipt = reference_and_receipt(response.get_data(as_text=True))
    with app.app_context():
        case_id = db.session.execute(select(Case.id)).scalar_one()
    return reference, receipt, case_id


def _add(app, case_id: int, **fields) -> None:
    with app.app_context():
        db.session.add(Interaction(case_id=case_id, **fields))
        db.session.commit()


def test_receipt_round_trip_shows_published_web_replies_only(app, client, web_case):
    reference, receipt, case_id = web_case
    _add(app, case_id, kind="message_out", channel="web", body="We read you. Stay safe.",
         delivery_status="published")
    _add(app, case_id, kind="message_out", channel="web", body="DRAFT not yet published",
         delivery_status="queued")
    _add(app, case_id, kind="message_out", channel="sms", body="SMS reply not for the web",
         delivery_status="delivered")
    _add(app, case_id, kind="note", channel=None, body="Internal staff note")

    response = followup_login(client, reference, receipt)
    assert response.status_code == 303
    assert response.headers["Location"] == "/followup?lang=en"
    page = client.get("/followup?lang=en").get_data(as_text=True)
    text_ = main_text(page)
    assert "My first message" in text_
    assert "We read you. Stay safe." in text_
    for hidden in ("DRAFT not yet published", "SMS reply not for the web", "Internal staff note"):
        assert hidden not in text_
    assert reference in text_
    assert receipt not in page and receipt.replace(" ", "") not in page
    with app.app_context():
        actions = db.session.execute(select(AuditEvent.action)).scalars().all()
        assert actions == ["web.submitted", "web.followup_opened"]


def test_typed_forms_of_reference_and_receipt_are_accepted(client, web_case):
    reference, receipt, _ = web_case
    typed_reference = reference.lower().replace("-", " ")
    typed_receipt = receipt.replace(" ", "-")
    assert followup_login(client, typed_reference, typed_receipt).status_code == 303


def test_caller_can_add_messages_to_the_same_case(app, client, web_case):
    reference, receipt, case_id = web_case
    followup_login(client, reference, receipt, lang="ru")
    page = client.get("/followup?lang=ru").get_data(as_text=True)
    assert "Ответа пока нет." in page
    hidden = hidden_fields(page)
    data = {**hidden, "message": "Второе сообщение"}
    response = client.post("/followup/message?lang=ru", data=data)
    assert response.status_code == 303
    again = client.post("/followup/message?lang=ru", data=data)  # double submit
    assert again.status_code == 303
    page = client.get("/followup?lang=ru").get_data(as_text=True)
    assert "Второе сообщение" in page and "Ваше сообщение добавлено." in page
    with app.app_context():
        bodies = db.session.execute(
            select(Interaction.body).where(Interaction.case_id == case_id,
                                           Interaction.kind == "message_in")
            .order_by(Interaction.id)).scalars().all()
        assert bodies == ["My first message", "Второе сообщение"]
        assert db.session.execute(select(func.count()).select_from(Case)).scalar_one() == 1
        assert "web.followup_message" in db.session.execute(
            select(AuditEvent.action)).scalars().all()


def test_message_to_a_waiting_case_moves_it_back_into_work(app, client, web_case):
    reference, receipt, case_id = web_case
    with app.app_context():
        case = db.session.get(Case, case_id)
        case.status = "waiting"
        db.session.commit()
    followup_login(client, reference, receipt)
    hidden = hidden_fields(client.get("/followup").get_data(as_text=True))
    client.post("/followup/message", data={**hidden, "message": "Still here"})
    with app.app_context():
        assert db.session.get(Case, case_id).status == "in_progress"


def test_message_after_the_reopen_window_opens_a_new_case_that_shares_the_receipt(
        app, client, web_case):
    from datetime import timedelta

    reference, receipt, case_id = web_case
    with app.app_context():
        case = db.session.get(Case, case_id)
        case.status, case.resolution = "closed", "information_provided"
        case.closed_at = utcnow() - timedelta(days=app.config["REOPEN_WINDOW_DAYS"] + 1)
        db.session.commit()
    followup_login(client, reference, receipt)
    hidden = hidden_fields(client.get("/followup").get_data(as_text=True))
    client.post("/followup/message", data={**hidden, "message": "Back again"})
    page = client.get("/followup").get_data(as_text=True)
    assert "My first message" in page and "Back again" in page
    with app.app_context():
        new = db.session.execute(select(Case).where(Case.id != case_id)).scalar_one()
        assert new.channel == "web" and new.followup_hash
        new_reference = new.display_reference
    assert new_reference in page
    fresh = app.test_client()
    assert followup_login(fresh, new_reference, receipt).status_code == 303


def test_empty_followup_message_is_an_error_in_the_visitor_language(client, web_case):
    reference, receipt, _ = web_case
    followup_login(client, reference, receipt, lang="ko")
    hidden = hidden_fields(client.get("/followup?lang=ko").get_data(as_text=True))
    response = client.post("/followup/message?lang=ko", data={**hidden, "message": " "})
    assert response.status_code == 400
    assert "보낼 글을 써 주십시오." in response.get_data(as_text=True)


def test_followup_message_without_csrf_is_refused_and_keeps_the_text(app, client, web_case):
    reference, receipt, _ = web_case
    followup_login(client, reference, receipt)
    hidden = hidden_fields(client.get("/followup").get_data(as_text=True))
    del hidden["csrf_token"]
    response = client.post("/followup/message", data={**hidden, "message": "Keep me"})
    assert response.status_code == 400
    assert "Keep me" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.execute(select(func.count()).select_from(Interaction)).scalar_one() == 1


def test_followup_login_without_csrf_is_refused(client, web_case):
    reference, receipt, _ = web_case
    response = client.post("/followup", data={"reference": reference, "receipt": receipt})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "This form had expired" in page
    assert receipt not in page
    assert "Your conversation" not in client.get("/followup").get_data(as_text=True)


def test_adding_a_message_needs_a_followup_session(app, client, web_case):
    client.get("/en/")
    hidden = hidden_fields(client.get("/en/").get_data(as_text=True))
    response = client.post("/followup/message", data={**hidden, "message": "sneaky"})
    assert response.status_code == 403
    with app.app_context():
        assert db.session.execute(select(func.count()).select_from(Interaction)).scalar_one() == 1


@pytest.mark.parametrize("which", ["reference", "receipt", "both"])
def test_wrong_details_never_say_which_half_was_wrong(client, web_case, which):
    reference, receipt, _ = web_case
    wrong_reference = "ZZZZ-ZZZZ" if reference != "ZZZZ-ZZZZ" else "YYYY-YYYY"
    wrong_receipt = "1111 1111 1111 1111" if receipt != "1111 1111 1111 1111" else "2" * 16
    typed = {
        "reference": (wrong_reference, receipt),
        "receipt": (reference, wrong_receipt),
        "both": (wrong_reference, wrong_receipt),
    }[which]
    response = followup_login(client, *typed)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert WRONG_DETAILS in page
    assert 'class="error"' not in page  # no field is singled out
    assert receipt not in page and wrong_receipt not in page


def test_malformed_input_gets_the_same_answer(client, web_case):
    response = followup_login(client, "not a reference", "12")
    assert response.status_code == 400
    assert WRONG_DETAILS in response.get_data(as_text=True)


def test_wrong_receipts_are_throttled_per_reference_from_one_address(app, client, web_case):
    reference, receipt, _ = web_case
    allowed = _amount(FOLLOWUP_FAILURES_PER_REFERENCE)
    for _ in range(allowed):
        response = followup_login(client, reference, "9" * 16, REMOTE_ADDR="198.51.100.1")
        assert response.status_code == 400
    # That address may not try this reference again for a while, not even with the
    # right receipt (it cannot tell a lucky guess from the owner)...
    blocked = followup_login(client, reference, receipt, REMOTE_ADDR="198.51.100.1")
    assert blocked.status_code == 429
    assert "Too many attempts. Wait a while and try again." in blocked.get_data(as_text=True)
    # ...but the visitor, from their own address, is not locked out by it.
    ok = followup_login(app.test_client(), reference, receipt, REMOTE_ADDR="192.0.2.50")
    assert ok.status_code == 303


def test_wrong_receipts_are_throttled_per_address(app, client, web_case):
    reference, receipt, _ = web_case
    allowed = _amount(FOLLOWUP_FAILURES_PER_ADDRESS)
    references = [format_reference(f"{i:08d}") for i in range(allowed)]
    for typed in references:  # many references from one address
        assert followup_login(client, typed, "9" * 16).status_code == 400
    blocked = followup_login(client, reference, receipt)
    assert blocked.status_code == 429
    # The same correct details work from another address.
    assert followup_login(app.test_client(), reference, receipt,
                          REMOTE_ADDR="192.0.2.77").status_code == 303


def test_successful_sign_ins_do_not_use_up_the_limit(client, web_case):
    reference, receipt, _ = web_case
    for _ in range(_amount(FOLLOWUP_FAILURES_PER_REFERENCE) + 1):
        assert followup_login(client, reference, receipt).status_code == 303


def test_receipt_never_appears_in_a_url(client, web_case):
    reference, receipt, _ = web_case
    response = followup_login(client, reference, receipt)
    digits = receipt.replace(" ", "")
    assert digits not in response.headers["Location"]
    page = client.get("/followup").get_data(as_text=True)
    assert 'method="post"' in page and 'method="get"' not in page.lower()


def _age_session(client, seconds_ago_seen: float, seconds_ago_since: float) -> None:
    import time

    with client.session_transaction() as sess:
        data = dict(sess[FOLLOWUP_SESSION_KEY])
        now = time.time()
        data["seen"], data["since"] = now - seconds_ago_seen, now - seconds_ago_since
        sess[FOLLOWUP_SESSION_KEY] = data


@pytest.mark.parametrize(("seen", "since"), [
    (FOLLOWUP_IDLE_SECONDS + 5, FOLLOWUP_IDLE_SECONDS + 5),
    (10, FOLLOWUP_MAX_SECONDS + 5),
])
def test_followup_session_is_short_lived(client, web_case, seen, since):
    reference, receipt, _ = web_case
    followup_login(client, reference, receipt)
    _age_session(client, 10, 20)
    assert "My first message" in client.get("/followup").get_data(as_text=True)
    _age_session(client, seen, since)
    page = client.get("/followup").get_data(as_text=True)
    assert "My first message" not in page
    assert "Your session ended. Please enter your numbers again." in page


def test_leaving_ends_the_session(client, web_case):
    reference, receipt, _ = web_case
    followup_login(client, reference, receipt, lang="uk")
    hidden = hidden_fields(client.get("/followup?lang=uk").get_data(as_text=True))
    response = client.post("/followup/leave?lang=uk", data={"csrf_token": hidden["csrf_token"]})
    assert response.status_code == 303 and response.headers["Location"] == "/uk/"
    assert "My first message" not in client.get("/followup").get_data(as_text=True)


def test_a_long_thread_is_paged_to_keep_the_page_small(app, client, web_case):
    reference, receipt, case_id = web_case
    chunk = "Щ" * 4000  # 8 kB of UTF-8 each
    for i in range(THREAD_TEXT_BUDGET_BYTES // 8000 + 3):
        _add(app, case_id, kind="message_out", channel="web", body=f"reply {i} {chunk}",
             delivery_status="published")
    followup_login(client, reference, receipt)
    page = client.get("/followup").get_data()
    assert len(page) < 100 * 1024
    text_ = page.decode()
    assert "Earlier messages" in text_ and "My first message" not in text_
    import re

    earlier = re.search(r'href="(/followup\?[^"]*before=\d+)"', text_).group(1)
    older = client.get(earlier.replace("&amp;", "&")).get_data(as_text=True)
    assert "My first message" in older


def test_purged_case_cannot_be_opened(app, client, web_case):
    reference, receipt, case_id = web_case
    with app.app_context():
        db.session.get(Case, case_id).purged_at = utcnow()
        db.session.commit()
    assert followup_login(client, reference, receipt).status_code == 400


def test_language_switcher_on_followup_stays_on_followup(client):
    page = client.get("/followup?lang=uk").get_data(as_text=True)
    assert '<html lang="uk">' in page and "Прочитати відповідь" in page
    assert '<a href="/followup?lang=ko" hreflang="ko"' in page


def test_followup_times_are_in_the_lines_zone_with_the_zone_named(make_app, web_case):
    """Not UTC (hours off a caller's clock): HOTLINE_TIMEZONE, named with its offset."""
    reference, receipt, case_id = web_case
    app = make_app(HOTLINE_TIMEZONE="Asia/Seoul")
    at = datetime(2026, 12, 1, 22, 43, tzinfo=UTC)  # 07:43 on the 2nd in Seoul
    _add(app, case_id, kind="message_out", channel="web", body="Call us back",
         delivery_status="published", created_at=at)
    client = app.test_client()
    assert followup_login(client, reference, receipt).status_code == 303
    page = client.get("/followup?lang=en").get_data(as_text=True)
    assert "2026-12-02 07:43 Asia/Seoul (UTC+09:00)" in main_text(page)
    assert 'datetime="2026-12-01T22:43:00+00:00"' in page
    assert "22:43" not in main_text(page) and " UTC</time>" not in page
