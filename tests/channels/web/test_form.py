"""The public landing page and contact form: languages, intake, errors, CSRF, honeypot, limits."""

from __future__ import annotations

import re

import limits
import pytest
from sqlalchemy import func, select, text

from hotline.cases.vocabularies import LANGUAGE_NAMES
from hotline.channels.web.forms import NAME_MAX_CHARS
from hotline.channels.web.views import SUBMIT_LIMIT
from hotline.extensions import db
from hotline.models import AuditEvent, Caller, Case, Interaction
from tests.web_helpers import (
    contact_form,
    form_data,
    hidden_fields,
    main_text,
    reference_and_receipt,
    send_contact,
)

HANGUL = re.compile(r"[\uac00-\ud7a3]")
CYRILLIC = re.compile(r"[\u0400-\u04ff]")
LATIN = re.compile(r"[A-Za-z]")
UKRAINIAN_ONLY = set("іїєґІЇЄҐ")
RUSSIAN_ONLY = set("ыэъёЫЭЪЁ")

# A phrase of the explanation, the heading and the submit button in each language.
EXPECTED = {
    "ko": ("제네바 협약", "언제든지 연락하실 수 있습니다", "보내기"),
    "ru": ("Женевским конвенциям", "Мы на связи в любое время", "Отправить"),
    "uk": ("Женевськими конвенціями", "Ми на зв’язку будь-коли", "Надіслати"),
    "en": ("Geneva Conventions", "You can reach us at any hour", "Send"),
}


def _count(model) -> int:
    return db.session.execute(select(func.count()).select_from(model)).scalar_one()


@pytest.mark.parametrize("lang", ["ko", "ru", "uk", "en"])
def test_each_language_page_is_really_in_that_language(client, lang):
    page = client.get(f"/{lang}/").get_data(as_text=True)
    assert f'<html lang="{lang}">' in page
    for phrase in EXPECTED[lang]:
        assert phrase in page
    text_ = main_text(page)
    for name in LANGUAGE_NAMES.values():  # the language choice lists every language by name
        text_ = text_.replace(name, "")
    letters = len(HANGUL.findall(text_)) + len(CYRILLIC.findall(text_)) + len(
        LATIN.findall(text_))
    if lang == "ko":
        assert len(HANGUL.findall(text_)) > 0.6 * letters
    elif lang in ("ru", "uk"):
        assert len(CYRILLIC.findall(text_)) > 0.8 * letters
        wrong = UKRAINIAN_ONLY if lang == "ru" else RUSSIAN_ONLY
        assert not wrong & set(text_), f"{lang} page holds letters of the other language"
    else:
        assert not HANGUL.search(text_) and not CYRILLIC.search(text_)


def test_language_switcher_links_every_language(client):
    page = client.get("/ru/").get_data(as_text=True)
    for code, name in (("ko", "한국어"), ("ru", "Русский"), ("uk", "Українська"),
                       ("en", "English")):
        assert f'<a href="/{code}/" hreflang="{code}" lang="{code}"' in page
        assert name in page
    assert 'lang="ru" aria-current="page"' in page


@pytest.mark.parametrize(("path", "headers", "lang"), [
    ("/?lang=uk", {}, "uk"),
    ("/", {"Accept-Language": "ko-KR,ko;q=0.9,en;q=0.5"}, "ko"),
    ("/", {"Accept-Language": "ru"}, "ru"),
    ("/", {"Accept-Language": "de"}, "en"),
    ("/?lang=xx", {"Accept-Language": "uk"}, "uk"),
])
def test_root_chooses_language_by_query_or_accept_language(client, path, headers, lang):
    page = client.get(path, headers=headers).get_data(as_text=True)
    assert f'<html lang="{lang}">' in page
    assert EXPECTED[lang][0] in page
    # The form posts to the explicit language path so errors come back in the same language,
    # and to its error summary, so the page opens there after an error.
    assert f'action="/{lang}/#error-summary"' in page


def test_unknown_language_path_is_404(client):
    assert client.get("/de/").status_code == 404


def test_phone_numbers_come_from_settings(make_app):
    app = make_app(HOTLINE_PHONE_DISPLAY="+1 (555) 010-0199",
                   HOTLINE_WHATSAPP_DISPLAY="+1 555 010 0200")
    page = app.test_client().get("/uk/").get_data(as_text=True)
    assert '<a class="number" href="tel:+15550100199">+1 (555) 010-0199</a>' in page
    assert "+1 555 010 0200" in page
    assert "Зателефонуйте або надішліть SMS" in page


def test_without_numbers_the_page_points_to_the_form(client):
    page = client.get("/en/").get_data(as_text=True)
    assert "tel:" not in page
    ways = page.split('<ul class="ways">', 1)[1].split("</ul>", 1)[0]
    assert 'id="reach-here"' in ways and "with the form on this page" in ways
    assert "Read our answer" in ways
    assert "If you cannot call or text" not in ways  # there is nothing to call


def test_with_numbers_the_form_is_the_way_for_those_who_cannot_call(make_app):
    client = make_app(HOTLINE_PHONE_DISPLAY="+1 555 010 0199").test_client()
    ways = client.get("/en/").get_data(as_text=True).split('<ul class="ways">', 1)[1]
    assert "tel:+15550100199" in ways and "If you cannot call or text" in ways
    assert 'id="reach-here"' not in ways


def test_submission_goes_through_intake_and_shows_reference_and_receipt(app, client):
    response = send_contact(
        client, "ko", message="항복하고 싶습니다. 도와주세요.", name="민수",
        contact="Telegram @minsu_safe", language="ko", region="쿠르스크", contact_ok="yes")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert '<html lang="ko">' in page and "글을 받았습니다" in page
    reference, receipt = reference_and_receipt(page)
    with app.app_context():
        case = db.session.execute(select(Case)).scalar_one()
        assert case.display_reference == reference
        assert case.channel == "web" and case.status == "new" and case.language == "ko"
        assert case.region == "쿠르스크"
        assert case.contact_ok is True
        assert case.followup_hash.startswith("$argon2id$")
        assert receipt.replace(" ", "") not in case.followup_hash
        assert case.caller.address_kind == "web" and case.caller.name == "민수"
        interaction, raised = case.interactions
        assert interaction.kind == "message_in" and interaction.channel == "web"
        # "항복" is a surrender keyword: urgency raised by the system at intake.
        assert raised.kind == "classification_change" and case.urgency == "immediate"
        # The contact has its own encrypted place; the message is what the caller wrote.
        assert interaction.body == "항복하고 싶습니다. 도와주세요."
        assert case.contact_details == "Telegram @minsu_safe"
        assert interaction.meta == {}
        assert len(interaction.external_id) == 64 and "web-" not in interaction.external_id
        raw = db.session.execute(text(
            "SELECT body FROM interactions WHERE kind = 'message_in'")).scalar_one()
        assert "minsu_safe" not in raw and "항복" not in raw
        raw_region = db.session.execute(text("SELECT region FROM cases")).scalar_one()
        assert "쿠르스크" not in raw_region
        actions = db.session.execute(select(AuditEvent.action)).scalars().all()
        assert actions == ["web.submitted"]


def test_contact_ok_defaults_to_no_and_optional_fields_stay_empty(app, client):
    send_contact(client, "en", message="Hello")
    with app.app_context():
        case = db.session.execute(select(Case)).scalar_one()
        assert case.contact_ok is False and case.region is None
        assert case.caller.name is None
        assert case.interactions[0].body == "Hello"


def test_web_cases_appear_in_the_api_like_any_other(app, client):
    from hotline.api.tokens import create_token

    send_contact(client, "ru", message="Нужна помощь", language="ru")
    with app.app_context():
        _, token = create_token("test", "staff")
        db.session.commit()
    auth = {"Authorization": f"Bearer {token}"}
    items = client.get("/api/v1/cases?channel=web", headers=auth).get_json()["items"]
    assert [item["channel"] for item in items] == ["web"]
    assert items[0]["language"] == "ru"
    stats = client.get("/api/v1/stats", headers=auth).get_json()
    assert stats["by_channel"] == {"web": 1}


def test_double_submit_of_one_form_is_idempotent(app, client):
    hidden = contact_form(client, "en")
    first = client.post("/en/", data=form_data(hidden, message="Once only"),
                        follow_redirects=True)
    second = client.post("/en/", data=form_data(hidden, message="Once only"),
                         follow_redirects=True)
    assert first.status_code == second.status_code == 200
    # The same browser, within minutes: the same receipt page again.
    assert reference_and_receipt(second.get_data(as_text=True)) == reference_and_receipt(
        first.get_data(as_text=True))
    with app.app_context():
        assert _count(Case) == 1 and _count(Interaction) == 1


def test_double_submit_after_the_receipt_expired_shows_no_receipt(app, client):
    from hotline.channels.web.shown_receipt import RELOAD_SECONDS, SESSION_KEY

    hidden = contact_form(client, "en")
    first = client.post("/en/", data=form_data(hidden, message="Once only"),
                        follow_redirects=True)
    reference, _ = reference_and_receipt(first.get_data(as_text=True))
    with client.session_transaction() as sess:
        kept = sess[SESSION_KEY]
        sess[SESSION_KEY] = {**kept, "at": kept["at"] - RELOAD_SECONDS - 1}
    again = client.post("/en/", data=form_data(hidden, message="Once only"))
    page = again.get_data(as_text=True)
    assert again.status_code == 200 and "We had already received this message" in page
    assert reference in page and 'id="receipt"' not in page
    with app.app_context():
        assert _count(Case) == 1


def test_each_rendering_gets_its_own_submission_id(client):
    assert contact_form(client)["submission_id"] != contact_form(client)["submission_id"]


def test_forged_submission_id_is_replaced_not_trusted(app, client):
    response = send_contact(client, "en", submission_id="SM" + "a" * 32)
    assert response.status_code == 200
    with app.app_context():
        interaction = db.session.execute(select(Interaction)).scalar_one()
        assert "SM" not in interaction.external_id and len(interaction.external_id) == 64


@pytest.mark.parametrize(("lang", "error"), [
    ("ko", "보낼 글을 써 주십시오."),
    ("ru", "Пожалуйста, напишите сообщение."),
    ("uk", "Будь ласка, напишіть повідомлення."),
    ("en", "Please write your message."),
])
def test_missing_message_is_shown_next_to_the_field_in_the_visitor_language(
        app, client, lang, error):
    response = send_contact(client, lang, message="   ", name="Alias Kept",
                            contact="+7 900 000 00 00", region="Region Kept",
                            language="uk", contact_ok="yes")
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert f'<p class="error" id="message-error">{error}</p>' in page
    # Nothing typed is lost.
    assert 'value="Alias Kept"' in page and 'value="+7 900 000 00 00"' in page
    assert 'value="Region Kept"' in page
    assert '<option lang="uk" selected value="uk">' in page
    assert 'checked id="contact_ok-1"' in page
    with app.app_context():
        assert _count(Case) == 0


def test_too_long_fields_are_refused_with_the_limit_and_the_text_kept(app, client):
    limit = app.config["MESSAGE_MAX_CHARS"]
    long_message = "Ж" * (limit + 1)
    response = send_contact(client, "ru", message=long_message, name="N" * (NAME_MAX_CHARS + 1))
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert f"Сообщение слишком длинное: не более {limit} символов." in page
    assert f"Слишком длинно: не более {NAME_MAX_CHARS} символов." in page
    assert long_message in page
    with app.app_context():
        assert _count(Case) == 0


def test_asking_for_contact_without_details_is_an_error_on_the_contact_field(app, client):
    response = send_contact(client, "uk", message="Допоможіть", contact_ok="yes")
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert '<p class="error" id="contact-error">Вкажіть, як з вами зв’язатися' in page
    assert "Допоможіть" in page


def test_invalid_choices_are_errors_in_the_visitor_language(app, client):
    response = send_contact(client, "ko", language="de", contact_ok="maybe")
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert page.count('<p class="error" id="language-error">보기 중 하나를 고르십시오.') == 1
    assert page.count('<p class="error" id="contact_ok-error">보기 중 하나를 고르십시오.') == 1
    summary = page.split('id="error-summary"', 1)[1].split("</div>", 1)[0]
    assert 'href="#language-field"' in summary and 'href="#contact_ok-field"' in summary
    with app.app_context():
        assert _count(Case) == 0


def test_post_without_csrf_token_is_refused_and_keeps_the_text(app, client):
    hidden = contact_form(client, "ru")
    data = form_data(hidden, message="Текст, который нельзя потерять")
    del data["csrf_token"]
    response = client.post("/ru/", data=data)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "Срок действия формы истёк, поэтому она не отправлена." in page
    assert "Текст, который нельзя потерять" in page
    assert hidden_fields(page)["csrf_token"]  # a fresh token to send again with
    with app.app_context():
        assert _count(Case) == 0 and _count(Caller) == 0


def test_post_with_a_foreign_csrf_token_is_refused(app, client):
    hidden = contact_form(client, "en")
    other = app.test_client()
    response = other.post("/en/", data=form_data(hidden))
    assert response.status_code == 400
    with app.app_context():
        assert _count(Case) == 0


def test_resending_after_csrf_refusal_works(app, client):
    hidden = contact_form(client, "en")
    data = form_data(hidden, message="Second try")
    data["csrf_token"] = "expired"
    refused = client.post("/en/", data=data)
    resend = form_data(hidden_fields(refused.get_data(as_text=True)), message="Second try")
    assert client.post("/en/", data=resend).status_code == 303
    with app.app_context():
        assert _count(Case) == 1


def test_honeypot_creates_nothing_but_looks_like_success(app, client):
    response = send_contact(client, "en", website="http://spam.example")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Your message has been received" in page
    reference, receipt = reference_and_receipt(page)
    assert reference and receipt
    with app.app_context():
        assert _count(Case) == 0 and _count(Caller) == 0 and _count(Interaction) == 0
        assert _count(AuditEvent) == 0


def test_honeypot_is_hidden_from_people_by_the_stylesheet(client):
    page = client.get("/en/").get_data(as_text=True)
    assert '<div class="hp" aria-hidden="true">' in page
    assert 'name="website" tabindex="-1"' in page
    css = client.get("/static/public.css").get_data(as_text=True)
    assert re.search(r"\.hp \{[^}]*left: -10000px", css)


def _smallest_window_amount(limit_string: str) -> int:
    return min(item.amount for item in limits.parse_many(limit_string))


def test_submissions_are_rate_limited_per_address_and_keep_the_text(app, client):
    allowed = _smallest_window_amount(SUBMIT_LIMIT)
    for _ in range(allowed):
        assert send_contact(client, "uk", message="Повідомлення").status_code == 200
    response = send_contact(client, "uk", message="Це не можна втратити")
    assert response.status_code == 429
    page = response.get_data(as_text=True)
    assert "З вашого підключення надіслано забагато повідомлень." in page
    assert "Це не можна втратити" in page
    # Another address is not affected.
    other = app.test_client()
    hidden = hidden_fields(other.get("/uk/").get_data(as_text=True))
    response = other.post("/uk/", data=form_data(hidden), environ_base={
        "REMOTE_ADDR": "203.0.113.9"})
    assert response.status_code == 303
    with app.app_context():
        assert _count(Case) == allowed + 1


def test_reading_the_form_is_not_rate_limited(client):
    for _ in range(_smallest_window_amount(SUBMIT_LIMIT) + 2):
        assert client.get("/en/").status_code == 200


def test_redis_url_selects_redis_for_the_limits(tmp_path):
    from config import load_config

    cfg = load_config(environ={"REDIS_URL": "redis://127.0.0.1:6379/3"}, instance_path=tmp_path)
    assert cfg["RATELIMIT_STORAGE_URI"] == "redis://127.0.0.1:6379/3"
    assert load_config(environ={}, instance_path=tmp_path)["RATELIMIT_STORAGE_URI"] == "memory://"


def test_unreachable_limit_storage_does_not_lose_the_message(make_app):
    from hotline.extensions import limiter

    # Port 9 (discard) has nothing listening here: every Redis call fails at once.
    app = make_app(RATELIMIT_STORAGE_URI="redis://127.0.0.1:9/0")
    try:
        client = app.test_client()
        allowed = _smallest_window_amount(SUBMIT_LIMIT)
        for _ in range(allowed):
            assert send_contact(client, "en", message="Redis is down").status_code == 200
        # The in-memory fallback still limits.
        assert send_contact(client, "en").status_code == 429
        with app.app_context():
            assert _count(Case) == allowed
    finally:
        limiter._storage_dead = False  # the extension object outlives this app
