"""Staff pages in Ukrainian, Russian and Korean: every vocabulary value is named, and the
pages render with no English word left (outside proper names and data)."""

from __future__ import annotations

import html as html_lib
import re
from datetime import UTC, datetime

import pyotp
import pytest

from hotline.api.tokens import TOKEN_ROLES
from hotline.cases import labels, timeline, vocabularies, workflow
from tests.auth_flow import code_at, code_step, password_step, submit
from tests.conftest import login_as

STAFF_LANGUAGES = ("uk", "ru", "ko")
# Words of the English interface; none may be left on a page in another language. Proper
# names (Hotline, Telegram, WhatsApp, Aegis, FreeOTP, Google Authenticator), formats
# (CSV, JSON, QR, UTC, API, SMS) and the data on the page are not in the list.
_ENGLISH = """
    a about account accounts active admin affiliation after again all and answered at back
    before by callback callbacks cannot case cases category change channel choose closed code
    confirm continue create created current day days deactivate deactivated default display
    duty email enter every for from in information language languages last locked median
    name never new next no not now of on one open opened or password per period phone
    queue reactivate report reports reset revoke role roster save saved show sign signed
    six staff status summary supervisor table the then this time to token tokens total two
    type under urgency used user users verify waiting with workload you your
"""
ENGLISH_WORDS = frozenset(_ENGLISH.split())
VOCABULARIES = {
    "status": (labels.STATUS_LABELS, workflow.STATUSES),
    "resolution": (labels.RESOLUTION_LABELS, workflow.RESOLUTIONS),
    "channel": (labels.CHANNEL_LABELS, vocabularies.CHANNELS),
    "category": (labels.CATEGORY_LABELS, vocabularies.CLASSIFICATIONS["category"]),
    "caller_type": (labels.CALLER_TYPE_LABELS, vocabularies.CLASSIFICATIONS["caller_type"]),
    "affiliation": (labels.AFFILIATION_LABELS, vocabularies.CLASSIFICATIONS["affiliation"]),
    "urgency": (labels.URGENCY_LABELS, vocabularies.CLASSIFICATIONS["urgency"]),
    "role": (labels.ROLE_LABELS, tuple(TOKEN_ROLES)),
    "field": (labels.FIELD_LABELS, (*vocabularies.CLASSIFICATIONS, "language")),
    "callback outcome": (labels.CALLBACK_OUTCOME_LABELS,
                         (*timeline.CALLBACK_OUTCOMES, *timeline.LINE_OUTCOMES)),
    "delivery": (labels.DELIVERY_LABELS, vocabularies.DELIVERY_STATUSES),
    "caller flag": (labels.CALLER_FLAG_LABELS, vocabularies.CALLER_FLAGS),
}


@pytest.mark.parametrize("name", sorted(VOCABULARIES))
def test_every_vocabulary_value_is_named_once(name):
    table, values = VOCABULARIES[name]
    assert set(table) == set(values), f"{name}: labels and vocabulary differ"


def test_labels_follow_the_page_language(app):
    from flask_babel import force_locale

    with app.test_request_context("/"):
        assert labels.label("in_progress") == "in progress"
        with force_locale("uk"):
            assert labels.label("in_progress") == "у роботі"
        with force_locale("ko"):
            assert labels.label("no_answer") == "받지 않음"
        # An operator's own classification value is shown as written.
        assert labels.label("my_own_value") == "my own value"


def english_leftovers(page: str, data: tuple[str, ...] = ()) -> list[str]:
    """Known English words in the text people read: element text, labels, titles,
    placeholders and button values; the data (names, emails, and ``<code>``: keys,
    one-time passwords, tokens, header formats) is taken out first."""
    page = re.sub(r"<(script|style|code)\b.*?</\1>", " ", page, flags=re.S)
    # Time-zone names (Europe/Kyiv, America/New_York) are IANA names, not UI text.
    page = re.sub(r'<select id="timezone".*?</select>', " ", page, flags=re.S)
    readable = re.findall(r'(?:aria-label|title|placeholder|alt)="([^"]*)"', page)
    readable.append(re.sub(r"<[^>]+>", " ", page))
    text = html_lib.unescape(" ".join(readable))
    for value in data:
        text = text.replace(value, " ")
    words = re.findall(r"[A-Za-z][A-Za-z'-]*", text)
    return sorted({word for word in words if word.lower() in ENGLISH_WORDS})


def test_the_leftover_check_finds_english():
    assert english_leftovers("<p>Вхід</p><button>Sign in</button>") == ["Sign", "in"]
    assert english_leftovers('<a aria-label="Main">Черга</a>') == []
    assert english_leftovers('<nav aria-label="Main menu">x</nav>') == []
    assert english_leftovers('<nav aria-label="Open now">x</nav>') == ["Open", "now"]
    assert english_leftovers("<p>Olena Open</p>", data=("Olena Open",)) == []


DATA = ("Олена К.", "olena@hotline.test", "Тарас", "taras@hotline.test", "Звіт тижня",
        "Hotline")


def _clean(page: str) -> list[str]:
    return english_leftovers(page, DATA)


@pytest.mark.parametrize("lang", STAFF_LANGUAGES)
def test_sign_in_and_enrolment_pages_have_no_english_left(app, make_user, lang):
    client = app.test_client()
    headers = {"Accept-Language": lang}
    login = client.get("/login", headers=headers)
    assert f'<html lang="{lang}">' in login.get_data(as_text=True)
    assert _clean(login.get_data(as_text=True)) == []
    refused = client.post("/login", headers=headers, data={"email": "x@y.z"})
    assert refused.status_code == 400 and _clean(refused.get_data(as_text=True)) == []

    # A first sign-in: enrolment, then choosing a password.
    newcomer = make_user("staff", email="taras@hotline.test", display_name="Тарас",
                         ui_language=lang, must_change_password=True)
    assert password_step(client, newcomer.email).status_code == 302
    enrol = client.get("/login/two-factor")
    page = enrol.get_data(as_text=True)
    assert enrol.status_code == 200 and _clean(page) == []
    secret = re.search(r'id="totp-secret">([A-Z2-7 ]+)<', page).group(1).replace(" ", "")
    wrong = code_step(client, "000000")
    assert _clean(wrong.get_data(as_text=True)) == []
    code_step(client, pyotp.TOTP(secret).now())
    choose = client.get("/login/new-password")
    assert choose.status_code == 200 and _clean(choose.get_data(as_text=True)) == []
    short = submit(client, "/login/new-password", "/login/new-password",
                   {"password": "short", "confirm": "other"})
    assert short.status_code == 400 and _clean(short.get_data(as_text=True)) == []


@pytest.mark.parametrize("lang", STAFF_LANGUAGES)
def test_the_code_page_has_no_english_left(app, make_user, lang):
    client = app.test_client()
    secret = pyotp.random_base32()
    user = make_user("staff", email="olena@hotline.test", display_name="Олена К.",
                     ui_language=lang, totp_secret=secret, totp_confirmed=True)
    assert password_step(client, user.email).status_code == 302
    page = client.get("/login/two-factor", headers={"Accept-Language": "en"})
    assert f'<html lang="{lang}">' in page.get_data(as_text=True)
    assert _clean(page.get_data(as_text=True)) == []
    wrong = code_step(client, "000000")
    assert wrong.status_code == 400 and _clean(wrong.get_data(as_text=True)) == []
    assert code_step(client, code_at(secret, datetime.now(UTC))).status_code == 302


@pytest.mark.parametrize("lang", STAFF_LANGUAGES)
def test_account_admin_and_report_pages_have_no_english_left(app, make_user, lang):
    admin = make_user("admin", email="olena@hotline.test", display_name="Олена К.",
                      ui_language=lang)
    other = make_user("staff", email="taras@hotline.test", display_name="Тарас",
                      phone="+442079460958", languages="uk,ru", on_duty=True)
    client = app.test_client()
    login_as(client, admin)
    pages = ["/account/password", "/admin/users", f"/admin/users/{other.id}", "/admin/roster",
             "/admin/tokens", "/reports/", "/reports/?range=12m"]
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        page = response.get_data(as_text=True)
        assert f'<html lang="{lang}">' in page, url
        assert _clean(page) == [], url
    # What actions answer: flashes, the one-time password, a new token, refusals.
    for response in (
        submit(client, f"/admin/users/{other.id}", f"/admin/users/{other.id}/role",
               {"role": "supervisor"}),
        submit(client, "/account/password", "/account/language", {"ui_language": lang}),
        submit(client, f"/admin/users/{other.id}", f"/admin/users/{other.id}/reset-password",
               {}),
        submit(client, "/admin/tokens", "/admin/tokens", {"name": "Звіт тижня",
                                                          "role": "stats"}),
        submit(client, "/admin/users", "/admin/users", {"email": "not an address",
                                                        "display_name": "", "role": "staff"}),
        submit(client, "/account/password", "/account/password",
               {"current": "wrong", "password": "x", "confirm": "y"}),
        client.get("/reports/?range=forever"),
    ):
        assert response.status_code in (200, 302, 400), response.status_code
        page = (client.get(response.headers["Location"]) if response.status_code == 302
                else response).get_data(as_text=True)
        leftovers = _clean(page)
        assert leftovers == [], [re.findall(rf".{{0,60}}\b{w}\b.{{0,60}}", re.sub(
            r"<[^>]+>", " ", page)) for w in leftovers]
