"""Continuity across shifts (issue 13): End my shift, unattended cases, the styled 404."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import delete, select, update

from hotline.extensions import db
from hotline.intake.service import receive
from hotline.models import AuditEvent, Case, Interaction, ServerSession, User, utcnow
from tests.conftest import login_as
from tests.dashboard_support import case_url, csrf_token, get_case, make_case, post_action

CALLER = "+79160000123"


def _on_duty(make_user, name: str, role: str = "staff") -> User:
    return make_user(role, display_name=name, on_duty=True, phone="+79160009999")


def _caller_writes(app, body: str, sid: str) -> dict:
    with app.app_context():
        result = receive(channel="sms", address=CALLER, body=body, external_id=sid)
        return {"id": result.case_id, "reference": result.reference}


def _claimed_by(app, client, user, sid: str = "SM-u1") -> dict:
    case = _caller_writes(app, "Помогите", sid)
    login_as(client, user)
    assert post_action(client, case["reference"], "claim").status_code == 303
    return case


def row_version(app, case: dict) -> int:
    return get_case(app, case["id"]).version


def _sign_out_everywhere(app, user: User) -> None:
    with app.app_context():
        db.session.execute(delete(ServerSession).where(ServerSession.user_id == user.id))
        db.session.commit()


def test_an_away_colleagues_case_the_caller_wrote_to_is_seen_and_claimed_by_staff_on_duty(
        app, make_user):
    olena, ivan = _on_duty(make_user, "Olena K."), _on_duty(make_user, "Ivan T.")
    hers, his = app.test_client(), app.test_client()
    case = _claimed_by(app, hers, olena)
    login_as(his, ivan)
    # Olena is working it (signed in, on duty) or nobody wrote since: it stays hers alone.
    assert his.get(case_url(case["reference"])).status_code == 404
    _caller_writes(app, "Срочно! Я в опасности", "SM-u2")
    assert his.get(case_url(case["reference"])).status_code == 404
    _sign_out_everywhere(app, olena)  # she went home
    listed = his.get("/dashboard/?view=unattended").get_data(as_text=True)
    assert case["reference"] in listed and "badge-unattended" in listed
    queue = his.get("/dashboard/").get_data(as_text=True)
    assert case["reference"] in queue and 'id="unattended-count">1<' in queue
    page = his.get(case_url(case["reference"]))
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and 'id="unattended-banner"' in html and "Olena K." in html
    # Only the claim: nothing else is his to do until the case is his.
    assert "/claim" in html and "/note" not in html
    refused = his.post(case_url(case["reference"], "note"), data={
        "note-csrf_token": csrf_token(html), "note-version": str(row_version(app, case)),
        "note-body": "peeking"})
    assert refused.status_code == 403
    assert post_action(his, case["reference"], "claim").status_code == 303
    row = get_case(app, case["id"])
    assert row.assigned_to_id == ivan.id and row.awaiting_staff_since is None
    # His now, no longer unattended: the view is empty again.
    assert case["reference"] not in his.get("/dashboard/?view=unattended").get_data(
        as_text=True)


def test_off_duty_deactivated_or_long_idle_assignees_leave_the_case_unattended(
        app, make_user):
    olena, ivan = _on_duty(make_user, "Olena K."), _on_duty(make_user, "Ivan T.")
    hers, his = app.test_client(), app.test_client()
    case = _claimed_by(app, hers, olena)
    login_as(his, ivan)
    _caller_writes(app, "Вы здесь?", "SM-u3")
    for change, value in (("on_duty", False), ("active", False)):
        with app.app_context():
            db.session.execute(update(User).where(User.id == olena.id).values(**{change: value}))
            db.session.commit()
        assert his.get(case_url(case["reference"])).status_code == 200, change
        with app.app_context():
            db.session.execute(update(User).where(User.id == olena.id).values(**{change: True}))
            db.session.commit()
        assert his.get(case_url(case["reference"])).status_code == 404, change
    minutes = app.config["UNATTENDED_AFTER_MINUTES"]
    with app.app_context():
        db.session.execute(update(ServerSession).where(ServerSession.user_id == olena.id)
                           .values(seen_at=utcnow() - timedelta(minutes=minutes + 1)))
        db.session.commit()
    assert his.get(case_url(case["reference"])).status_code == 200


def test_staff_off_duty_do_not_see_unattended_cases(app, make_user):
    olena = _on_duty(make_user, "Olena K.")
    resting = make_user("staff", display_name="Min-jun P.")  # not on duty
    hers, theirs = app.test_client(), app.test_client()
    case = _claimed_by(app, hers, olena)
    _sign_out_everywhere(app, olena)
    _caller_writes(app, "Алло", "SM-u4")
    login_as(theirs, resting)
    assert theirs.get(case_url(case["reference"])).status_code == 404
    assert case["reference"] not in theirs.get("/dashboard/?view=unattended").get_data(
        as_text=True)


def test_a_colleagues_case_is_a_styled_404_like_a_missing_one(app, make_user, staff):
    other = make_user("staff")
    hidden = make_case(app, assigned_to=other)
    client = app.test_client()
    login_as(client, staff)
    seen = client.get(case_url(hidden["reference"]))
    missing = client.get(case_url("ZZZZ-ZZZZ"))
    assert seen.status_code == missing.status_code == 404
    html = seen.get_data(as_text=True)
    assert html == missing.get_data(as_text=True)
    assert "staff.css" in html and "No case with that reference" in html
    assert 'href="/dashboard/"' in html


def test_end_my_shift_hands_open_cases_back_with_a_note_and_goes_off_duty(app, make_user):
    olena = _on_duty(make_user, "Olena K.")
    client = app.test_client()
    login_as(client, olena)
    first = make_case(app, assigned_to=olena, status="in_progress")
    second = make_case(app, assigned_to=olena, status="waiting")
    closed = make_case(app, assigned_to=olena, status="closed")
    queue = client.get("/dashboard/").get_data(as_text=True)
    # Without the form's CSRF token nothing happens.
    assert client.post("/dashboard/shift/end").status_code == 400
    assert get_case(app, first["id"]).assigned_to_id == olena.id
    response = client.post("/dashboard/shift/end", data={"csrf_token": csrf_token(queue)})
    assert response.status_code == 303
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Shift ended: 2 of your cases went back to the team queue" in page
    with app.app_context():
        assert db.session.get(User, olena.id).on_duty is False
        for ids in (first, second):
            case = db.session.get(Case, ids["id"])
            assert case.assigned_to_id is None and case.status != "new"
            entry = db.session.execute(
                select(Interaction).where(Interaction.case_id == ids["id"])
                .order_by(Interaction.id.desc()).limit(1)).scalar_one()
            assert (entry.kind, entry.author_id, entry.meta["reason"]) == (
                "assignment", olena.id, "shift_end")
        assert db.session.get(Case, closed["id"]).assigned_to_id == olena.id
        audited = db.session.execute(select(AuditEvent.action, AuditEvent.case_id).where(
            AuditEvent.action.in_(("case.handover", "shift.end")))
            .order_by(AuditEvent.id)).all()
    assert audited == [("case.handover", first["id"]), ("case.handover", second["id"]),
                       ("shift.end", None)]
    html = client.get(case_url(first["reference"])).get_data(as_text=True)
    assert "ended their shift and handed the case back to the team queue" in html


def test_a_handed_back_case_the_caller_waits_on_stays_waiting_and_alerts_the_team(
        app, make_user):
    """End my shift answers no one: the caller's wait (``awaiting_staff_since``) is kept,
    the case shows its waiting time to everyone, and the caller's next message alerts the
    team's open queues (it is nobody's own case, and not new)."""
    olena, ivan = _on_duty(make_user, "Olena K."), _on_duty(make_user, "Ivan T.")
    hers, his = app.test_client(), app.test_client()
    case = _claimed_by(app, hers, olena)
    _caller_writes(app, "Вы здесь? Мне страшно", "SM-h2")
    waiting = get_case(app, case["id"]).awaiting_staff_since
    assert waiting is not None
    queue = hers.get("/dashboard/").get_data(as_text=True)
    assert hers.post("/dashboard/shift/end",
                     data={"csrf_token": csrf_token(queue)}).status_code == 303
    row = get_case(app, case["id"])
    assert row.assigned_to_id is None and row.status == "in_progress"
    assert row.awaiting_staff_since == waiting
    login_as(his, ivan)
    page = his.get("/dashboard/").get_data(as_text=True)
    assert case["reference"] in page
    # Worked already, so not one of the "new cases waiting"; but its wait is shown.
    assert 'id="new-count">0<' in page
    assert re.search(r'<td class="waiting"><time datetime="', page)
    since = re.search(r'data-latest-id="(\d+)"', page).group(1)
    since_message = re.search(r'data-latest-message="(\d+)"', page).group(1)
    _caller_writes(app, "Ответьте, пожалуйста", "SM-h3")
    data = his.get(f"/dashboard/queue/poll?since={since}&since_message={since_message}",
                   headers={"Accept": "application/json"}).json
    assert (data["team_messages"], data["fresh_team_messages"]) == (1, 1)
    assert data["mine_messages"] == 0 and data["arrived"] == 0
    again = his.get(f"/dashboard/queue/poll?since={since}&since_message={since_message}"
                    f"&seen_message={data['latest_message_id']}",
                    headers={"Accept": "application/json"}).json
    assert (again["team_messages"], again["fresh_team_messages"]) == (1, 0)
    # Given to someone away (Olena is off duty now), the waiting caller makes it
    # unattended at once: the team still sees it.
    with app.app_context():
        db.session.execute(update(Case).where(Case.id == case["id"])
                           .values(assigned_to_id=olena.id))
        db.session.commit()
    assert case["reference"] in his.get("/dashboard/?view=unattended").get_data(
        as_text=True)
