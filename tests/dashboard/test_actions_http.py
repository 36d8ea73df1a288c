"""Case actions through the pages: CSRF, permissions, IDOR, stale edits, messages."""

from __future__ import annotations

import re

from flask import session
from flask_wtf.csrf import generate_csrf
from sqlalchemy import func, select

from hotline.cases.reply_policy import MAX_REPLY_CHARS
from hotline.extensions import db
from hotline.models import AuditEvent, Caller, Interaction
from tests.conftest import csrf_token, login_as
from tests.dashboard_support import (
    case_url,
    form_version,
    get_case,
    make_case,
    post_action,
    timeline_kinds,
)


def _audit_count(app) -> int:
    with app.app_context():
        return db.session.execute(select(func.count()).select_from(AuditEvent)).scalar_one()


def _follow(client, response):
    assert response.status_code == 303, response.get_data(as_text=True)[:500]
    return client.get(response.headers["Location"]).get_data(as_text=True)


def test_a_shift_of_actions_through_the_forms(app, client, staff):
    case = make_case(app, callback_needed=True)
    ref = case["reference"]
    login_as(client, staff)
    html = _follow(client, post_action(client, ref, "claim"))
    assert "You took the case." in html and "assigned the case to Olena K." in html
    # The status follows the work: claimed, the new case is in progress (by the system).
    assert ("System</strong> changed the status from new to in progress "
            '<span class="muted">because the case is being worked') in html
    html = _follow(client, post_action(client, ref, "classify", category="surrender",
                                       caller_type="serviceman", affiliation="russia",
                                       urgency="high", language="ru"))
    assert "Classification saved." in html
    # The menu offers the natural next status first, closing last.
    assert re.search(r'name="status-status"[^>]*>\s*<option[^>]*value="waiting"', html)
    html = _follow(client, post_action(client, ref, "status", status="waiting"))
    assert "from in progress to waiting" in html
    html = _follow(client, post_action(client, ref, "note", body="Called from a shelter"))
    assert "Called from a shelter" in html
    html = _follow(client, post_action(client, ref, "reply", body="Мы на связи."))
    assert "Мы на связи." in html and "queued" in html
    html = _follow(client, post_action(client, ref, "callback", outcome="reached",
                                       at="2020-01-02T03:04", note="Spoke briefly"))
    assert "Callback by Olena K." in html and "Spoke briefly" in html
    html = _follow(client, post_action(client, ref, "flag", flag="hostile"))
    assert "caller flag from — to hostile" in html
    html = _follow(client, post_action(client, ref, "status", status="closed",
                                       resolution="handed_over"))
    row = get_case(app, case["id"])
    assert (row.status, row.resolution, row.category, row.urgency) == (
        "closed", "handed_over", "surrender", "high")
    assert row.closed_at is not None and not row.callback_needed
    assert row.assigned_to_id == staff.id and row.updated_by_id == staff.id
    with app.app_context():
        actions = db.session.execute(select(AuditEvent.action).where(
            AuditEvent.action != "case.view").order_by(AuditEvent.id)).scalars().all()
    assert actions == ["case.claim", "case.classify", "case.status", "case.note", "case.reply",
                       "case.callback", "caller.flag", "case.status"]


def test_actions_need_login(app, client):
    case = make_case(app)
    # A valid CSRF token for this anonymous session, so only the login check can stop it.
    with app.test_request_context():
        token = generate_csrf()
        raw = session["csrf_token"]
    with client.session_transaction() as sess:
        sess["csrf_token"] = raw
    response = client.post(case_url(case["reference"], "note"),
                           data={"note-body": "x", "note-version": "1",
                                 "note-csrf_token": token})
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    assert timeline_kinds(app, case["id"]) == ["message_in"]
    assert client.post(case_url(case["reference"], "note")).status_code == 400  # no token


def test_actions_need_a_csrf_token(app, client, staff):
    case = make_case(app)
    login_as(client, staff)
    html = client.get(case_url(case["reference"])).get_data(as_text=True)
    version = form_version(html, "note")
    response = client.post(case_url(case["reference"], "note"),
                           data={"note-version": version, "note-body": "forged"})
    assert response.status_code == 400
    response = client.post(case_url(case["reference"], "note"),
                           data={"note-version": version, "note-body": "forged",
                                 "note-csrf_token": "not-the-token"})
    assert response.status_code == 400
    assert timeline_kinds(app, case["id"]) == ["message_in"]
    # The same post with the page's token works.
    response = client.post(case_url(case["reference"], "note"),
                           data={"note-version": version, "note-body": "real",
                                 "note-csrf_token": csrf_token(html)})
    assert response.status_code == 303


def test_staff_get_404_acting_on_a_colleagues_case(app, client, make_user, staff):
    other = make_user("staff")
    mine = make_case(app)
    theirs = make_case(app, assigned_to=other)
    login_as(client, staff)
    html = client.get(case_url(mine["reference"])).get_data(as_text=True)
    before = _audit_count(app)
    for action, fields in (("claim", {}), ("note", {"body": "x"}), ("status",
                           {"status": "triaged"}), ("reply", {"body": "hi"})):
        data = {f"{action}-csrf_token": csrf_token(html), f"{action}-version": "1",
                **{f"{action}-{k}": v for k, v in fields.items()}}
        assert client.post(case_url(theirs["reference"], action), data=data).status_code == 404
    assert get_case(app, theirs["id"]).assigned_to_id == other.id
    assert timeline_kinds(app, theirs["id"]) == ["message_in"]
    assert _audit_count(app) == before
    assert client.post(case_url(mine["reference"], "explode"),
                       data={"csrf_token": csrf_token(html)}).status_code == 404


def test_staff_cannot_assign_to_others_supervisors_can(app, client, make_user, staff):
    other = make_user("staff", display_name="Ivan T.")
    case = make_case(app)
    login_as(client, staff)
    response = post_action(client, case["reference"], "assign", assignee=str(other.id))
    assert response.status_code in (400, 403)
    assert get_case(app, case["id"]).assigned_to_id is None
    login_as(client, make_user("supervisor"))
    html = _follow(client, post_action(client, case["reference"], "assign",
                                       assignee=str(other.id)))
    assert "assigned the case to Ivan T." in html
    assert get_case(app, case["id"]).assigned_to_id == other.id


def test_stale_edit_is_refused_naming_the_colleague_and_nothing_is_overwritten(
        app, make_user, staff):
    colleague = make_user("supervisor", display_name="Min-jun P.")
    case = make_case(app)
    mine, theirs = app.test_client(), app.test_client()
    login_as(mine, staff)
    login_as(theirs, colleague)
    page = mine.get(case_url(case["reference"])).get_data(as_text=True)
    stale_version = form_version(page, "classify")
    assert post_action(theirs, case["reference"], "classify", urgency="immediate",
                       category="conscription").status_code == 303
    response = mine.post(case_url(case["reference"], "classify"), data={
        "classify-csrf_token": csrf_token(page), "classify-version": stale_version,
        "classify-urgency": "normal", "classify-category": "hoax"})
    assert response.status_code == 409
    html = response.get_data(as_text=True)
    assert "This case was changed by Min-jun P. after you opened it" in html
    row = get_case(app, case["id"])
    assert (row.urgency, row.category, row.updated_by_id) == ("immediate", "conscription",
                                                              colleague.id)
    # The refusal page carries the current version, so a deliberate retry can succeed.
    assert form_version(html, "classify") == row.version


def test_a_colleagues_note_refuses_no_reply_and_a_refused_reply_keeps_its_text(
        app, make_user, staff):
    colleague = make_user("staff", display_name="Ana R.")
    case = make_case(app)
    mine, theirs = app.test_client(), app.test_client()
    login_as(mine, staff)
    login_as(theirs, colleague)
    page = mine.get(case_url(case["reference"])).get_data(as_text=True)
    post_action(theirs, case["reference"], "note", body="I am on it")
    response = mine.post(case_url(case["reference"], "reply"), data={
        "reply-csrf_token": csrf_token(page), "reply-version": form_version(page, "reply"),
        "reply-body": "The caller gets this"})
    assert response.status_code == 303
    assert "message_out" in timeline_kinds(app, case["id"])
    # Refused (too long for ten SMS), twice: the typed text comes back both times.
    draft = "Draft the caller must still get " + "x" * MAX_REPLY_CHARS
    for _ in range(2):
        response = mine.post(case_url(case["reference"], "reply"), data={
            "reply-csrf_token": csrf_token(page), "reply-version": form_version(page, "reply"),
            "reply-body": draft})
        html = response.get_data(as_text=True)
        assert response.status_code == 400
        assert f"{draft}</textarea>" in html
        page = html


def test_disallowed_transition_and_close_without_resolution(app, client, staff):
    case = make_case(app)
    login_as(client, staff)
    response = post_action(client, case["reference"], "status", status="waiting")
    assert response.status_code == 400
    assert "A new case cannot become waiting." in response.get_data(as_text=True)
    response = post_action(client, case["reference"], "status", status="closed")
    assert response.status_code == 400
    assert "requires a resolution" in response.get_data(as_text=True)
    response = post_action(client, case["reference"], "status", status="closed",
                           resolution="made_up")
    assert response.status_code == 400
    row = get_case(app, case["id"])
    assert row.status == "new" and row.closed_at is None


def test_invalid_input_is_a_clear_400(app, client, staff):
    case = make_case(app)
    login_as(client, staff)
    assert post_action(client, case["reference"], "note", body="").status_code == 400
    assert post_action(client, case["reference"], "classify", urgency="panic").status_code == 400
    assert post_action(client, case["reference"], "callback", outcome="").status_code == 400
    assert post_action(client, case["reference"], "callback", outcome="reached",
                       at="yesterday").status_code == 400
    assert post_action(client, case["reference"], "flag", flag="evil").status_code == 400
    assert timeline_kinds(app, case["id"]) == ["message_in"]


def test_note_with_script_shows_as_text(app, client, staff):
    case = make_case(app)
    login_as(client, staff)
    html = _follow(client, post_action(client, case["reference"], "note",
                                       body="<script>alert(1)</script>"))
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script>alert(1)</script>" not in html


def test_flag_blocked_is_stored_on_the_caller(app, client, staff):
    case = make_case(app)
    login_as(client, staff)
    _follow(client, post_action(client, case["reference"], "flag", flag="blocked"))
    with app.app_context():
        assert db.session.get(Caller, case["caller_id"]).flag == "blocked"
        outs = db.session.execute(select(Interaction).where(
            Interaction.kind == "classification_change")).scalars().all()
        assert outs[0].author_id == staff.id
