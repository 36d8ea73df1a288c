"""Negative cases of issue 5, swept over the URL map so a route added later is covered
too: no access without sign-in, CSRF refusal, wrong role, IDOR, an expired session
posting an action, and text with ``<script>`` shown as text on every page that shows it.

Each sweep compares a snapshot of every table before and after: a refused request
writes nothing at all (not even an audit row).
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask, session, url_for
from flask_wtf.csrf import generate_csrf
from sqlalchemy import func, select

from hotline.api.tokens import create_token
from hotline.cases.queries import encode_cursor
from hotline.dashboard.actions import ACTIONS as FORM_CLASSES
from hotline.extensions import db
from hotline.models import Case, Interaction, ReplyTemplate
from tests.auth_flow import FakeClock
from tests.conftest import csrf_token, login_as
from tests.dashboard_support import case_url, make_case, post_action
from tests.web_helpers import followup_login, reference_and_receipt, send_contact

STAFF_AREA = ("/dashboard", "/admin", "/reports", "/account")
# Signature-checked webhooks (Telegram's: a secret header, tested in
# tests/channels/telegram) and the token-authenticated API carry no CSRF token.
CSRF_EXEMPT = ("/twilio/", "/telegram/", "/api/", "/static/")
# Field values that would make each form valid if a request ever got through.
ACTION_FIELDS = {"assign": {}, "claim": {}, "status": {"status": "triaged"},
                 "classify": {"category": "hostile", "urgency": "immediate"},
                 "note": {"body": "should never be stored"},
                 "reply": {"body": "should never be sent"},
                 "callback": {"outcome": "reached"}, "flag": {"flag": "blocked"}}
FORM_FIELDS = {"role": "admin", "email": "intruder@hotline.test", "display_name": "Intruder",
               "name": "intruder-token", "phone": "+15005550009", "languages": "en",
               "on_duty": "y", "current": "whatever", "password": "x" * 24,
               "confirm": "x" * 24, "message": "should never be stored", "reference": "X",
               "receipt": "1", "code": "123456", "language": "en", "contact_ok": "no"}
SCRIPT = "<script>alert('x')</script>"


def _snapshot(app: Flask) -> dict[str, list[tuple]]:
    """Every row of every table."""
    with app.app_context():
        return {table.name: [tuple(row) for row in db.session.execute(
                    select(table).order_by(*table.primary_key.columns))]
                for table in db.metadata.sorted_tables}


@pytest.fixture
def world(app, make_user) -> dict[str, Any]:
    """A staff member, a colleague, an open case for anyone, the colleague's case (both
    with a voicemail), an API token: the values every route's URL needs."""
    staff = make_user("staff", display_name="Olena K.")
    colleague = make_user("staff", display_name="Ivan T.")
    open_case = make_case(app, channel="voice")
    theirs = make_case(app, channel="voice", assigned_to=colleague)
    with app.app_context():
        voicemails = {}
        for case in (open_case, theirs):
            row = Interaction(case_id=case["id"], kind="voicemail", channel="voice", meta={},
                              external_id="RE" + case["stored"])
            db.session.add(row)
            db.session.flush()
            voicemails[case["id"]] = row.id
        token_row, _clear = create_token("sweep", "staff")
        template = ReplyTemplate(name="Sweep", text_en="Received.")
        db.session.add(template)
        db.session.commit()
        token_id, template_id = token_row.id, template.id
    return {"staff": staff, "colleague": colleague, "open": open_case, "theirs": theirs,
            "voicemails": voicemails, "token_id": token_id, "template_id": template_id}


def _urls(app: Flask, method: str, case: dict, world: dict,
          prefixes: tuple[str, ...] = ("/",)) -> list[str]:
    """A concrete URL for every rule answering ``method`` under ``prefixes``."""
    values = {"reference": case["reference"], "interaction_id": world["voicemails"][case["id"]],
              "user_id": world["colleague"].id, "token_id": world["token_id"], "lang": "en",
              "template_id": world["template_id"],
              "n": 0}
    urls = []
    with app.test_request_context():
        for rule in app.url_map.iter_rules():
            if method not in rule.methods or not rule.rule.startswith(prefixes):
                continue
            if rule.rule.startswith(CSRF_EXEMPT) and method == "POST":
                continue
            args = {name: values[name] for name in rule.arguments if name != "action"}
            actions = FORM_CLASSES if "action" in rule.arguments else [None]
            for action in actions:
                extra = {"action": action} if action else {}
                urls.append(url_for(rule.endpoint, **args, **extra))
    assert urls, (method, prefixes)
    return urls


def _payload(app: Flask, token: str | None) -> dict[str, str]:
    """Fields for every form at once (each form reads its own), versions current."""
    with app.app_context():
        version = db.session.execute(select(func.max(Case.version))).scalar_one()
    data = dict(FORM_FIELDS)
    for action, fields in ACTION_FIELDS.items():
        data[f"{action}-version"] = str(version)
        data.update({f"{action}-{k}": v for k, v in fields.items()})
        if token is not None:
            data[f"{action}-csrf_token"] = token
    if token is not None:
        data["csrf_token"] = token
    return data


def _anonymous_csrf(app: Flask, client) -> str:
    """A valid CSRF token planted in an anonymous session: only the sign-in check is left."""
    with app.test_request_context():
        token = generate_csrf()
        raw = session["csrf_token"]
    with client.session_transaction() as sess:
        sess["csrf_token"] = raw
    return token


def _signed_in_csrf(client) -> str:
    return csrf_token(client.get("/account/password").get_data(as_text=True))


def test_no_staff_route_answers_without_sign_in(app, client, world):
    before = _snapshot(app)
    for url in _urls(app, "GET", world["open"], world, STAFF_AREA):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response.location.startswith("/login?next="), url
    token = _anonymous_csrf(app, client)
    for url in _urls(app, "POST", world["open"], world, STAFF_AREA):
        response = client.post(url, data=_payload(app, token))
        assert response.status_code == 302 and response.location.startswith("/login"), url
    for url in _urls(app, "GET", world["open"], world, ("/api/",)):
        assert client.get(url).status_code == 401, url
    assert _snapshot(app) == before


def test_every_form_post_without_a_valid_csrf_token_is_refused(app, client, world,
                                                               make_user):
    admin = make_user("admin")
    login_as(client, admin)
    _signed_in_csrf(client)  # the session holds a real token the posts do not carry
    before = _snapshot(app)
    urls = _urls(app, "POST", world["open"], world)
    assert {"/logout", "/login", "/", "/followup/message", "/admin/users"} <= set(urls)
    for url in urls:
        for token in (None, "forged-token"):
            response = client.post(url, data=_payload(app, token))
            if url == "/followup/leave":  # public pages answer a refusal with the form again
                assert response.status_code == 303 and response.location == "/en/", token
            else:
                assert response.status_code == 400, (url, token, response.status_code)
    assert _snapshot(app) == before
    # The refused logout and /followup/leave (which clears the session) did nothing.
    assert client.get("/dashboard/").status_code == 200


# Approved replies (/admin/replies) are kept by supervisors too (issue 15).
SUPERVISORS_MAY = "/admin/replies"


@pytest.mark.parametrize(("role", "area"), [("staff", ("/admin", "/reports")),
                                            ("supervisor", ("/admin",))])
def test_a_role_too_low_gets_403_on_every_route_of_the_area(app, client, world, make_user,
                                                            role, area):
    login_as(client, make_user(role))
    token = _signed_in_csrf(client)
    before = _snapshot(app)

    def refused(url: str) -> bool:
        return role == "staff" or not url.startswith(SUPERVISORS_MAY)

    for url in filter(refused, _urls(app, "GET", world["open"], world, area)):
        assert client.get(url).status_code == 403, url
    for url in filter(refused, _urls(app, "POST", world["open"], world, area)):
        assert client.post(url, data=_payload(app, token)).status_code == 403, url
    if role == "staff":  # revealing a caller's number is for supervisors and admins
        reveal = case_url(world["open"]["reference"], "reveal")
        assert client.post(reveal, data={"csrf_token": token}).status_code == 403
    assert _snapshot(app) == before


_CSRF_VALUE = re.compile(r'(?<=name="csrf_token" )value="[^"]*"')


def test_a_colleagues_case_is_404_on_every_case_route_like_a_missing_one(app, client, world):
    login_as(client, world["staff"])
    token = _signed_in_csrf(client)
    # The styled 404 page carries the sign-out form, whose CSRF token is stamped per
    # request; everything else must be the same bytes as for a missing case.
    def page(response) -> str:
        return _CSRF_VALUE.sub('value="…"', response.get_data(as_text=True))

    missing = page(client.get(case_url("ZZZZ-ZZZZ")))
    assert "No case with that reference" in missing
    before = _snapshot(app)
    case_area = ("/dashboard/cases/",)
    for url in _urls(app, "GET", world["theirs"], world, case_area):
        response = client.get(url)
        assert response.status_code == 404, url
        assert page(response) == missing, url
    for url in _urls(app, "POST", world["theirs"], world, case_area):
        assert client.post(url, data=_payload(app, token)).status_code == 404, url
    # Their voicemail through a case this user may open is no way round either.
    mine = case_url(world["open"]["reference"])
    vm = world["voicemails"][world["theirs"]["id"]]
    assert client.get(f"{mine}/voicemail/{vm}").status_code == 404
    queue = client.get(f"/dashboard/?status=all&assignee={world['colleague'].id}")
    assert queue.status_code == 200
    assert world["theirs"]["reference"] not in queue.get_data(as_text=True)
    assert _snapshot(app) == before


@pytest.mark.parametrize("body", ['"\\ud800"', '"ab"', "[1]", "7", "null"])
def test_a_json_body_that_is_not_an_object_is_a_400(app, client, make_user, body):
    # A signed-in admin with a valid CSRF token (in the header) posts JSON: Flask-WTF
    # reads a JSON body as form data and crashed (500) on anything but an object.
    login_as(client, make_user("admin"))
    token = _signed_in_csrf(client)
    before = _snapshot(app)
    response = client.post("/admin/users", data=body, headers={
        "Content-Type": "application/json", "X-CSRFToken": token})
    assert response.status_code == 400
    assert _snapshot(app) == before


def test_an_expired_session_cannot_post_an_action(make_app, make_user):
    clock = FakeClock()
    app = make_app(AUTH_CLOCK=clock, SESSION_IDLE_MINUTES=20, SESSION_MAX_HOURS=2)
    staff = make_user("staff")
    case = make_case(app)
    client = app.test_client()
    login_as(client, staff, at=clock.now)
    page = client.get(case_url(case["reference"])).get_data(as_text=True)
    token = csrf_token(page)
    before = _snapshot(app)
    clock.advance(minutes=21)  # idle past the limit, the page still open
    response = client.post(case_url(case["reference"], "note"), data={
        "note-csrf_token": token, "note-version": "1", "note-body": "after the timeout"})
    assert response.status_code == 302 and response.location.startswith("/login")
    with client.session_transaction() as sess:
        assert "_user_id" not in sess
    after = _snapshot(app)
    # At most the expiry itself is audited; the case and its timeline are untouched.
    assert after["cases"] == before["cases"]
    assert after["interactions"] == before["interactions"]
    # Signed in again, the same kind of post is accepted: only the expiry stopped it.
    login_as(client, staff, at=clock.now)
    assert post_action(client, case["reference"], "note", body="fresh").status_code == 303


def _escaped_everywhere(html: str, where: str) -> None:
    assert SCRIPT not in html, where
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html, where
    scripts = [tag for tag in html.split("<script")[1:] if not tag.startswith(" src=\"/static/")]
    assert scripts == [], where


def test_script_in_every_kind_of_text_shows_as_text(app, make_user):
    # Text from the caller (web form message and name), from staff (reply, note,
    # callback note) and an admin-chosen display name, on every page that shows it.
    staff = make_user("staff", display_name=f"Olena {SCRIPT}")
    visitor = app.test_client()
    sent = send_contact(visitor, "en", message=f"Help me {SCRIPT}", name=SCRIPT)
    assert sent.status_code == 200
    reference, receipt = reference_and_receipt(sent.get_data(as_text=True))
    client = app.test_client()
    login_as(client, staff)
    for action, fields in [("claim", {}), ("reply", {"body": f"We read you {SCRIPT}"}),
                           ("note", {"body": f"Note {SCRIPT}"}),
                           ("callback", {"outcome": "no_answer", "note": f"Tried {SCRIPT}",
                                         "confirm_unsafe": "y"})]:
        assert post_action(client, reference, action, **fields).status_code == 303, action
    case_page = client.get(case_url(reference)).get_data(as_text=True)
    _escaped_everywhere(case_page, "case page")
    for text in ("Help me", "We read you", "Note ", "Tried "):
        assert f"{text} &lt;script&gt;" in case_page or f"{text}&lt;script&gt;" in case_page
    _escaped_everywhere(client.get("/dashboard/?status=all").get_data(as_text=True), "queue")

    admin = app.test_client()
    login_as(admin, make_user("admin"))
    _escaped_everywhere(admin.get("/admin/users").get_data(as_text=True), "admin users")

    assert followup_login(visitor, reference, receipt).status_code in (200, 303)
    thread = visitor.get("/followup?lang=en").get_data(as_text=True)
    assert "We read you" in thread
    _escaped_everywhere(thread, "follow-up thread")
    with app.app_context():
        stored = db.session.execute(select(Interaction.body).where(
            Interaction.kind == "message_out")).scalar_one()
        assert stored == f"We read you {SCRIPT}"  # stored as typed, escaped when shown


def test_an_id_beyond_the_database_integer_range_is_a_404(app, client, world, make_user):
    # PostgreSQL refuses such an id with an error, which used to surface as a 500.
    login_as(client, make_user("admin"))
    token = _signed_in_csrf(client)
    huge = 2**31
    mine = case_url(world["open"]["reference"])
    assert client.get(f"/admin/users/{huge}").status_code == 404
    assert client.post(f"/admin/tokens/{huge}/revoke",
                       data={"csrf_token": token}).status_code == 404
    assert client.post(f"/admin/users/{huge}/deactivate",
                       data={"csrf_token": token}).status_code == 404
    assert client.get(f"{mine}/voicemail/{huge}").status_code == 404
    assert client.get(f"/admin/users/{world['colleague'].id}").status_code == 200


@pytest.mark.parametrize("number", [str(2**31), "9" * 30])
def test_a_number_beyond_the_database_range_in_a_query_is_a_400(app, client, world,
                                                                 make_user, number):
    # PostgreSQL refuses integers beyond 32 bits and SQLite's driver beyond 64: both
    # used to surface as a 500.
    with app.app_context():
        _row, token = create_token("range", "admin")
        db.session.commit()
    # Refused the same way on SQLite, which could store the number, as on PostgreSQL.
    expected = 400
    bearer = {"Authorization": f"Bearer {token}"}
    cursor = encode_cursor([int(number)])
    for url in (f"/api/v1/cases?cursor={cursor}", f"/api/v1/cases?assigned={number}"):
        response = client.get(url, headers=bearer)
        assert response.status_code == expected, url
        if expected == 400:
            assert response.json == {"error": "A value in the request is out of range."}
    login_as(client, make_user("admin"))
    for url in (f"/dashboard/queue/poll?since={number}", f"/dashboard/?assignee={number}"):
        assert client.get(url).status_code == expected, url
    assert client.get("/dashboard/queue/poll?since=0").status_code == 200
