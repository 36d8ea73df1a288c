"""The staff pages' language: per person, the deployment default, the sign-in pages
following the browser until the person is known, ``<html lang>``, Babel formatting."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from flask_babel import force_locale
from sqlalchemy import select

import settings
from hotline import formatting, languages
from hotline.extensions import db
from hotline.models import AuditEvent, User
from tests.auth_flow import password_step, submit
from tests.conftest import login_as

HTML_LANG = re.compile(r'<html lang="([a-z]+)">')


def _lang(response) -> str:
    match = HTML_LANG.search(response.get_data(as_text=True))
    assert match, "the page has <html lang>"
    return match.group(1)


def _stored(app, user_id: int) -> User:
    with app.app_context():
        user = db.session.get(User, user_id)
        db.session.expunge(user)
        return user


def _audit(app, action: str) -> list[AuditEvent]:
    with app.app_context():
        events = db.session.execute(select(AuditEvent).where(AuditEvent.action == action)
                                    ).scalars().all()
        for event in events:
            db.session.expunge(event)
        return list(events)


def test_the_setting_offers_exactly_the_registry_languages():
    assert sorted(settings.STAFF_LANGUAGES) == sorted(languages.CODES)


def test_staff_pages_default_to_english(client, make_user):
    login_as(client, make_user("staff"))
    assert _lang(client.get("/dashboard/")) == "en"


def test_the_deployment_default_applies_to_people_who_chose_none(make_app, make_user):
    app = make_app(STAFF_DEFAULT_LANGUAGE="uk")
    client = app.test_client()
    login_as(client, make_user("staff"))
    assert _lang(client.get("/dashboard/", headers={"Accept-Language": "ko"})) == "uk"


def test_a_person_chooses_their_language_on_the_account_page(app, client, make_user):
    user = make_user("staff")
    login_as(client, user)
    page = client.get("/account/password").get_data(as_text=True)
    assert 'name="ui_language"' in page and "Українська" in page and "한국어" in page
    response = submit(client, "/account/password", "/account/language", {"ui_language": "ru"})
    assert response.status_code == 302
    assert _stored(app, user.id).ui_language == "ru"
    assert _lang(client.get("/dashboard/")) == "ru"
    assert _lang(client.get("/account/password")) == "ru"
    event = _audit(app, "auth.language_set")[-1]
    assert event.detail == {"user_id": user.id, "from": "default", "to": "ru"}
    # Back to the deployment default.
    submit(client, "/account/password", "/account/language", {"ui_language": ""})
    assert _stored(app, user.id).ui_language is None
    assert _lang(client.get("/dashboard/")) == "en"


def test_an_unknown_language_is_refused_and_nothing_changes(app, client, make_user):
    user = make_user("staff")
    login_as(client, user)
    response = submit(client, "/account/password", "/account/language", {"ui_language": "xx"})
    assert response.status_code == 400
    assert _stored(app, user.id).ui_language is None
    assert not _audit(app, "auth.language_set")


def test_the_language_form_needs_its_csrf_token(app, client, make_user):
    user = make_user("staff")
    login_as(client, user)
    assert client.post("/account/language", data={"ui_language": "ko"}).status_code == 400
    assert _stored(app, user.id).ui_language is None


def test_an_admin_sets_another_persons_language(app, client, make_user):
    admin, other = make_user("admin"), make_user("staff")
    login_as(client, admin)
    page = f"/admin/users/{other.id}"
    response = submit(client, page, f"/admin/users/{other.id}/language", {"ui_language": "ko"})
    assert response.status_code == 302
    assert _stored(app, other.id).ui_language == "ko"
    assert _stored(app, admin.id).ui_language is None
    event = _audit(app, "admin.user_language")[-1]
    assert event.detail == {"user_id": other.id, "from": "default", "to": "ko"}
    other_client = app.test_client()
    login_as(other_client, _stored(app, other.id))
    assert _lang(other_client.get("/dashboard/")) == "ko"


def test_staff_cannot_set_someone_elses_language(app, client, make_user):
    staff, other = make_user("supervisor"), make_user("staff")
    login_as(client, staff)
    token_page = client.get("/account/password").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', token_page).group(1)
    response = client.post(f"/admin/users/{other.id}/language",
                           data={"csrf_token": token, "ui_language": "ko"})
    assert response.status_code == 403
    assert _stored(app, other.id).ui_language is None


@pytest.mark.parametrize(("header", "expected"), [
    ("uk-UA,uk;q=0.9,en;q=0.5", "uk"), ("ko-KR", "ko"), ("ru", "ru"), ("de-DE,fr", "en"),
    ("", "en")])
def test_the_sign_in_page_follows_the_browser(client, header, expected):
    headers = {"Accept-Language": header} if header else {}
    assert _lang(client.get("/login", headers=headers)) == expected


def test_an_unknown_browser_language_falls_back_to_the_deployment_default(make_app):
    client = make_app(STAFF_DEFAULT_LANGUAGE="ru").test_client()
    assert _lang(client.get("/login", headers={"Accept-Language": "de"})) == "ru"


def test_once_the_password_is_right_the_persons_own_language_wins(app, client, make_user):
    user = make_user("staff", ui_language="ko")
    assert password_step(client, user.email).status_code == 302
    second = client.get("/login/two-factor", headers={"Accept-Language": "uk"})
    assert second.status_code == 200 and _lang(second) == "ko"


def test_public_pages_keep_their_own_language_for_a_signed_in_person(client, make_user):
    login_as(client, make_user("staff", ui_language="ru"))
    assert _lang(client.get("/ko/")) == "ko"


def test_dates_numbers_and_lengths_follow_the_locale(app):
    moment = datetime(2026, 12, 1, 22, 46, tzinfo=UTC)
    with app.test_request_context("/"):
        with force_locale("en"):
            assert formatting.when(moment) == "12/1/26, 10:46\u202fPM UTC"
            assert formatting.number(1234567) == "1,234,567"
            assert formatting.duration(125) == "2 min 5 s"
            assert formatting.duration(3 * 3600 + 20 * 60) == "3 h 20 min"
        with force_locale("uk"):
            assert formatting.when(moment) == "01.12.26, 22:46 UTC"
            assert formatting.number(1234567) == "1\u00a0234\u00a0567"
            assert formatting.day(moment) == "1 груд. 2026\u202fр."
        with force_locale("ko"):
            assert formatting.when(moment).endswith("오후 10:46 UTC")
        assert formatting.when(None) == formatting.duration(None) == "—"
