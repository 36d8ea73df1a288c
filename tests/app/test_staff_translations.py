"""Staff pages in Ukrainian, Russian and Korean: every vocabulary value is named, and the
pages render with no English word left (outside proper names and data)."""

from __future__ import annotations

import html as html_lib
import re
from datetime import UTC, datetime

import pyotp
import pytest

from hotline.api.tokens import TOKEN_ROLES
from hotline.cases import keywords, labels, timeline, vocabularies, workflow
from hotline.channels.telegram import updates as telegram_updates
from tests.auth_flow import code_at, code_step, password_step, submit
from tests.conftest import csrf_token, login_as

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
    add added alerts ago answered any anyone apply approved assign assigned assignee
    attachment attachments away because blocked call called caller changed claim claimed
    classification classified clear contact delete delivered desktop details draft empty
    ended failed filters find first flag handed handover hostile internal is latest
    logged message messages mine nobody note notes off outcome overdue page pages
    preferred queued reached reference refresh region release reply replies required
    resolution retry reveal safe sent shift shown sound take template templates timeline
    unassigned unattended unsent updated was wrote
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
    "field": (labels.FIELD_LABELS, (*vocabularies.CLASSIFICATIONS, "language", "caller_flag")),
    "callback outcome": (labels.CALLBACK_OUTCOME_LABELS,
                         (*timeline.CALLBACK_OUTCOMES, *timeline.LINE_OUTCOMES)),
    "delivery": (labels.DELIVERY_LABELS, vocabularies.DELIVERY_STATUSES),
    "caller flag": (labels.CALLER_FLAG_LABELS, vocabularies.CALLER_FLAGS),
    "keyword rule": (labels.KEYWORD_RULE_LABELS,
                     {name for rules in keywords.DEFAULT_RULES.values() for name, *_ in rules}),
    "unshown content": (labels.UNSHOWN_CONTENT_LABELS, telegram_updates.UNSHOWN_KINDS),
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
        with force_locale("ru"):
            assert labels.label("surrender") == "сдача в плен"
            assert labels.label("poll") == "опрос"
        # An operator's own classification value is shown as written.
        assert labels.label("my_own_value") == "my own value"


# Attributes people read, or that scripts show them (queue.js, staff.js).
READABLE_ATTRIBUTES = r"aria-label|title|placeholder|alt|data-title|data-signed-out|data-draft-kept"
# Setting names (TWILIO_VOICE_FROM) and IANA zone names are names, not UI text.
SETTING_NAME = re.compile(r"\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+\b")


def _readable_text(page: str, data: tuple[str, ...]) -> list[str]:
    """The text people read, one piece per element or attribute, data taken out."""
    page = re.sub(r"<(script|style|code)\b.*?</\1>", " ", page, flags=re.S)
    # Time-zone names (Europe/Kyiv, America/New_York) are IANA names, not UI text.
    page = re.sub(r'<select id="timezone".*?</select>', " ", page, flags=re.S)
    pieces = re.findall(rf'(?:{READABLE_ATTRIBUTES})="([^"]*)"', page)
    pieces += re.split(r"<[^>]+>", page)
    cleaned = []
    for piece in pieces:
        text = html_lib.unescape(piece)
        for value in data:
            text = text.replace(value, " ")
        cleaned.append(SETTING_NAME.sub(" ", text))
    return cleaned


def english_leftovers(page: str, data: tuple[str, ...] = ()) -> list[str]:
    """Known English words in the text people read: element text, labels, titles,
    placeholders and button values; the data (names, emails, and ``<code>``: keys,
    one-time passwords, tokens, header formats) is taken out first."""
    text = " ".join(_readable_text(page, data))
    words = re.findall(r"[A-Za-z][A-Za-z'-]*", text)
    return sorted({word for word in words if word.lower() in ENGLISH_WORDS})


# Latin-script names that stand side by side in a translated page.
PROPER_PHRASES = ("Google Authenticator", "Voice geographic permissions")


def english_phrases(page: str, data: tuple[str, ...] = ()) -> list[str]:
    """Two or more Latin words in a row inside one element or attribute: in a Ukrainian,
    Russian or Korean page that is an English phrase left over, whatever its words (the
    word list cannot know every word; proper names stand alone or in PROPER_PHRASES)."""
    found = []
    for text in _readable_text(page, data):
        for name in PROPER_PHRASES:
            text = text.replace(name, " ")
        found += re.findall(r"[A-Za-z][A-Za-z'-]*(?:[ ,:;]+[A-Za-z][A-Za-z'-]*)+", text)
    return sorted(set(found))


def test_the_phrase_check_finds_any_english_phrase():
    assert english_phrases("<p>Черга</p><button>Show them all</button>") == ["Show them all"]
    assert english_phrases("<p>SMS</p> <p>WhatsApp</p>") == []
    assert english_phrases("<p>Передзвін вимкнено: TWILIO_VOICE_FROM</p>") == []
    assert english_phrases('<div data-title="Queue now">x</div>') == ["Queue now"]


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


# ---- the queue, the case page, the timeline and the case actions ---------------------

CASE_DATA = DATA + ("Здравствуйте", "Мне нужна помощь", "Перевірила карту", "Ми вас чуємо",
                    "Перезвонила")


def _leftovers(page: str, references: tuple[str, ...] = ()) -> dict[str, list[str]]:
    """English words and phrases left on a page (data and case references taken out)."""
    data = CASE_DATA + references
    found = {"words": english_leftovers(page, data), "phrases": english_phrases(page, data)}
    return {kind: items for kind, items in found.items() if items}


def _full_timeline(app, case: dict, me, colleague) -> None:
    """What the actions cannot make without Twilio: an inbound call answered by ``me``, a
    call-back through the line that reached the caller, a reply that was not sent."""
    from hotline.cases import reply_policy
    from hotline.extensions import db
    from hotline.models import Case, Interaction, utcnow

    with app.app_context():
        now = utcnow()
        call = timeline.call_meta(call_status="completed")
        call.update(dial_status="completed", answered_by=me.id, duration=125)
        line = timeline.line_callback_meta(at=now, conference="hl-test")
        line.update(staff_status="completed", accepted_at=now.isoformat(),
                    caller_status="completed", answered_at=now.isoformat(), duration=95,
                    outcome="reached")
        for kind, channel, author, body, meta, extra in (
                ("call", "voice", None, None, call, {}),
                ("callback", "voice", me.id, "Перезвонила", line, {}),
                ("message_out", "sms", colleague.id, "Ми вас чуємо",
                 timeline.message_out_meta(),
                 {"delivery_status": "not_sent", "last_error": reply_policy.BLOCKED})):
            db.session.add(Interaction(case_id=case["id"], kind=kind, channel=channel,
                                       author_id=author, body=body, meta=meta,
                                       created_at=now, **extra))
        db.session.get(Case, case["id"]).reply_failed = True
        db.session.commit()


def _queue_cases(app, me, colleague) -> tuple[dict, dict, dict]:
    """An overdue new case wanting a callback, a colleague's unattended case, and a new
    case to claim."""
    from datetime import timedelta

    from sqlalchemy import update

    from hotline.extensions import db
    from hotline.models import Case, utcnow
    from tests.dashboard_support import make_case

    overdue = make_case(app, created_at=utcnow() - timedelta(days=2), callback_needed=True,
                        urgency="high")
    unattended = make_case(app, assigned_to=colleague, status="in_progress",
                           body="Мне нужна помощь")
    mine = make_case(app, status="new", channel="sms")
    with app.app_context():
        db.session.execute(update(Case).where(Case.id == unattended["id"])
                           .values(awaiting_staff_since=utcnow()))
        db.session.commit()
    return overdue, unattended, mine


@pytest.mark.parametrize("lang", STAFF_LANGUAGES)
def test_queue_case_page_timeline_and_case_actions_have_no_english_left(app, make_user,
                                                                          lang):
    from tests.dashboard_support import case_url, post_action

    me = make_user("staff", email="olena@hotline.test", display_name="Олена К.",
                   ui_language=lang, on_duty=True, phone="+79160009999")
    colleague = make_user("staff", email="taras@hotline.test", display_name="Тарас",
                          on_duty=False)
    overdue, unattended, mine = _queue_cases(app, me, colleague)
    refs = (overdue["reference"], unattended["reference"], mine["reference"])
    client = app.test_client()
    login_as(client, me)

    # The queue: default, unattended and overdue views, each with cases in it.
    for url, expected in (("/dashboard/", (overdue, mine)),
                          ("/dashboard/?view=unattended", (unattended,)),
                          ("/dashboard/?overdue=1", (overdue,)),
                          ("/dashboard/?view=callbacks", (overdue,))):
        response = client.get(url)
        page = response.get_data(as_text=True)
        assert response.status_code == 200 and f'<html lang="{lang}">' in page, url
        assert all(case["reference"] in page for case in expected), url
        assert _leftovers(page, refs) == {}, url
    queue = client.get("/dashboard/").get_data(as_text=True)
    assert "badge-overdue" in queue and "badge-callback" in queue
    assert "badge-unattended" in client.get("/dashboard/?view=unattended").get_data(
        as_text=True)
    # What queue.js shows comes from the server, in the reader's language.
    texts = client.get("/dashboard/queue/poll?since=0&since_message=0").json["texts"]
    assert texts["notice"] and texts["alert"] and texts["waiting"]
    assert _leftovers(" ".join(f"<p>{t}</p>" for t in texts.values())) == {}

    # The unattended case: the banner, and the claim its reader must make first.
    page = client.get(case_url(unattended["reference"])).get_data(as_text=True)
    assert 'id="unattended-banner"' in page and _leftovers(page, refs) == {}

    # Every action on my case, and what each answers.
    ref = mine["reference"]
    actions = [
        ("claim", {}),
        ("note", {"body": "Перевірила карту"}),
        ("reply", {"body": "Ми вас чуємо"}),
        ("classify", {"category": "surrender", "caller_type": "serviceman",
                      "affiliation": "russia", "urgency": "immediate", "language": "ru"}),
        ("status", {"status": "waiting"}),
        ("callback", {"outcome": "no_answer", "note": "Перезвонила"}),
        ("flag", {"flag": "hostile"}),
    ]
    for action, fields in actions:
        response = post_action(client, ref, action, **fields)
        assert response.status_code == 303, (action, response.status_code)
        page = client.get(response.headers["Location"]).get_data(as_text=True)
        assert 'class="flash flash-success"' in page, action
        assert _leftovers(page, refs) == {}, action

    # Refusals and conflicts: each answers the page with the reason, in the language.
    refusals = [
        ("note", {"body": ""}, 400),
        ("reply", {"body": " "}, 400),
        ("status", {"status": "closed"}, 400),
        ("status", {"status": "new"}, 400),
        ("classify", {"category": "surrender", "caller_type": "serviceman",
                      "affiliation": "russia", "urgency": "immediate", "language": "ru"}, 400),
        ("status", {"status": "in_progress", "seen": "status:triaged"}, 409),
        ("claim", {"version": 1, "seen": "assigned:"}, 409),
        ("callback", {"outcome": ""}, 400),
    ]
    for action, fields, status in refusals:
        response = post_action(client, ref, action, **fields)
        page = response.get_data(as_text=True)
        assert response.status_code == status, (action, status, response.status_code)
        assert 'id="action-error"' in page, action
        assert _leftovers(page, refs) == {}, re.search(
            r'id="action-error">([^<]*)', page).group(1)

    # The full timeline: caller message, reply, note, status change, classification,
    # callback logged and through the line, an inbound call, a reply not sent, handover.
    _full_timeline(app, mine, me, colleague)
    queue = client.get("/dashboard/").get_data(as_text=True)
    ended = client.post("/dashboard/shift/end", data={"csrf_token": csrf_token(queue)})
    assert ended.status_code == 303
    assert _leftovers(client.get(ended.headers["Location"]).get_data(as_text=True),
                      refs) == {}
    page = client.get(case_url(ref)).get_data(as_text=True)
    for kind in ("message_in", "message_out", "note", "status_change",
                 "classification_change", "callback", "call", "assignment"):
        assert f'<li class="{kind}"' in page, kind
    assert 'id="reply-failed"' in page
    assert _leftovers(page, refs) == {}

    # A case that is not there, and a form that expired: the styled pages.
    missing = client.get(case_url("ZZZZ-ZZZZ"))
    assert missing.status_code == 404 and _leftovers(missing.get_data(as_text=True)) == {}
    expired = client.post(case_url(ref, "note"), data={"note-body": "x"})
    assert expired.status_code == 400 and 'id="expired-form"' in expired.get_data(
        as_text=True)
    assert _leftovers(expired.get_data(as_text=True), refs) == {}


@pytest.mark.parametrize("lang", STAFF_LANGUAGES)
def test_the_approved_replies_pages_have_no_english_left(app, make_user, lang):
    supervisor = make_user("supervisor", email="olena@hotline.test",
                           display_name="Олена К.", ui_language=lang)
    client = app.test_client()
    login_as(client, supervisor)
    page = client.get("/admin/replies/").get_data(as_text=True)
    assert _leftovers(page) == {}
    added = submit(client, "/admin/replies/", "/admin/replies/starter", {})
    assert added.status_code == 303
    page = client.get(added.headers["Location"]).get_data(as_text=True)
    # The starter set's names and texts are data (what callers read, in every language).
    templates = tuple(re.findall(r"<td[^>]*>([^<]*)</td>", page)) + tuple(
        re.findall(r'/admin/replies/\d+">([^<]*)</a>', page))
    assert templates and _leftovers(page, templates) == {}
    template_id = re.search(r'/admin/replies/(\d+)"', page).group(1)
    edit = client.get(f"/admin/replies/{template_id}").get_data(as_text=True)
    texts = tuple(re.findall(r"<textarea[^>]*>\s*([^<]*?)\s*</textarea>", edit))
    assert _leftovers(edit, templates + texts) == {}
    refused = submit(client, "/admin/replies/", "/admin/replies/",
                     {"name": "", "text_en": ""})
    assert refused.status_code == 400 and _leftovers(refused.get_data(as_text=True),
                                                     templates) == {}
