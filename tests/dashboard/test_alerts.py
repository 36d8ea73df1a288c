"""Alerts and no lost typing, server side: the poll's JSON (counts only, 401 when signed
out), the styled expired-form page with the way back, ``next`` after sign-in, and the
``data-sent`` mark that lets staff.js forget a sent draft."""

from __future__ import annotations

import re

from hotline.extensions import db
from hotline.models import Interaction, utcnow
from tests.conftest import login_as
from tests.dashboard_support import case_url, csrf_token, form_version, make_case, post_action

JSON = {"Accept": "application/json"}


def test_a_signed_out_poll_gets_a_json_401_not_the_sign_in_page(client):
    response = client.get("/dashboard/queue/poll?since=0", headers=JSON)
    assert response.status_code == 401 and response.is_json
    assert response.json == {"error": "signed_out", "login": "/login"}
    # A browser asking for the page is still sent to sign in.
    assert client.get("/dashboard/").status_code == 302


def test_poll_counts_new_cases_and_messages_on_own_cases_only(app, client, staff, make_user):
    colleague = make_user("staff", email="other@example.org")
    mine = make_case(app, assigned_to=staff, status="in_progress", body="old words")
    theirs = make_case(app, assigned_to=colleague, status="in_progress")
    login_as(client, staff)
    page = client.get("/dashboard/").get_data(as_text=True)
    since = re.search(r'data-latest-id="(\d+)"', page).group(1)
    since_message = re.search(r'data-latest-message="(\d+)"', page).group(1)
    make_case(app, body="a brand new case")
    with app.app_context():
        for case in (mine, theirs):
            db.session.add(Interaction(case_id=case["id"], kind="message_in", channel="sms",
                                       body="secret words from the caller", meta={},
                                       created_at=utcnow()))
        db.session.commit()
    answer = client.get(f"/dashboard/queue/poll?since={since}&since_message={since_message}",
                        headers=JSON)
    data = answer.json
    assert data["arrived"] == 1 and data["fresh_cases"] == 1
    assert data["mine_messages"] == 1 and data["fresh_messages"] == 1
    assert "secret words" not in answer.get_data(as_text=True)
    again = client.get(
        f"/dashboard/queue/poll?since={since}&since_message={since_message}"
        f"&seen={data['latest_id']}&seen_message={data['latest_message_id']}", headers=JSON)
    # Still counted since the page was drawn, but nothing fresh to alert about twice.
    assert again.json["arrived"] == 1 and again.json["mine_messages"] == 1
    assert again.json["fresh_cases"] == 0 and again.json["fresh_messages"] == 0


def test_a_sent_note_marks_its_draft_to_forget(app, client, staff):
    case = make_case(app)
    login_as(client, staff)
    response = post_action(client, case["reference"], "note", body="checked the map")
    assert response.status_code == 303
    page = client.get(case_url(case["reference"])).get_data(as_text=True)
    assert 'data-sent="note"' in page
    assert ">note<" not in page  # the mark is not shown as a message
    assert 'data-sent=""' in client.get(case_url(case["reference"])).get_data(as_text=True)


def test_an_expired_form_gets_a_styled_page_with_the_way_back(app, client, staff):
    case = make_case(app)
    login_as(client, staff)
    html = client.get(case_url(case["reference"])).get_data(as_text=True)
    token, version = csrf_token(html), form_version(html, "reply")
    logout_token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    assert client.post("/logout", data={"csrf_token": logout_token}).status_code in (302, 303)
    response = client.post(case_url(case["reference"], "reply"), data={
        "reply-csrf_token": token, "reply-version": str(version), "reply-body": "typed"})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert '<link rel="stylesheet"' in page and 'id="expired-form"' in page
    assert "The form expired" in page
    login = re.search(r'id="expired-login" href="([^"]+)"', page).group(1)
    assert login == f"/login?next=/dashboard/cases/{case['reference']}"


def test_a_form_sent_after_the_session_ended_leads_back_to_its_case(app, client, staff):
    case = make_case(app)
    response = client.post(case_url(case["reference"], "note"), data={"note-body": "x"})
    # Refused before anything is read: either the CSRF page or sign-in, both leading back.
    assert response.status_code in (302, 400)
    target = (response.location if response.status_code == 302 else
              re.search(r'id="expired-login" href="([^"]+)"',
                        response.get_data(as_text=True)).group(1))
    assert target == f"/login?next=/dashboard/cases/{case['reference']}"


def test_an_unsafe_next_is_ignored_after_sign_in(client):
    page = client.get("/login?next=//evil.example/x").get_data(as_text=True)
    assert "evil.example" not in page
