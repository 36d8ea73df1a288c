"""Continuity across a shift change in headless Chromium (issue 13).

An unattended case claimed by another staff member: Olena claims a case and goes home
(off duty); the caller writes "I'm in danger now"; Ivan, on duty, sees it marked in the
queue and in the Unattended view and claims it. A conflict-free note: Ivan types a note
while the caller writes twice more, and the note is added, not refused. The handover:
Olena, back on duty, claims a case and presses *End my shift*; the case goes back to the
team queue with the handover on its timeline, and she is off duty.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from sqlalchemy import update

from hotline.extensions import db
from hotline.intake.service import receive
from hotline.models import Case, User
from tests.browser import signed_in_context

pytestmark = pytest.mark.browser

NOTE_FIELD = "Internal note (never sent to the caller)"


def _writes(app, caller: str, body: str, sid: str) -> str:
    with app.app_context():
        return receive(channel="sms", address=caller, body=body, external_id=sid).reference


def _set_duty(app, user: User, on_duty: bool) -> None:
    with app.app_context():
        db.session.execute(update(User).where(User.id == user.id).values(on_duty=on_duty))
        db.session.commit()


def test_unattended_case_claimed_by_a_colleague_a_note_while_the_caller_writes_and_handover(
        app, chromium, live_server, make_user):
    olena = make_user("staff", display_name="Olena K.", on_duty=True, phone="+79160000001")
    ivan = make_user("staff", display_name="Ivan T.", on_duty=True, phone="+79160000002")
    reference = _writes(app, "+79165550001", "Помогите, я хочу сдаться", "SM-b1")
    hers = signed_in_context(chromium, app, olena, live_server)
    his = signed_in_context(chromium, app, ivan, live_server)
    try:
        page = hers.new_page()
        page.goto(f"{live_server}/dashboard/cases/{reference}")
        page.get_by_role("button", name="Claim this case").click()
        expect(page.get_by_text("You took the case.")).to_be_visible()
        assert "in progress" in page.locator("h1").inner_text()  # the status followed

        # Olena goes home; the caller writes; Ivan, on duty, sees it and claims it.
        _set_duty(app, olena, False)
        _writes(app, "+79165550001", "Срочно! Я в опасности", "SM-b2")
        other = his.new_page()
        other.goto(f"{live_server}/dashboard/")
        row = other.locator("tr", has_text=reference)
        expect(row.locator(".badge-unattended")).to_be_visible()
        other.get_by_role("link", name="Unattended (1)").click()
        other.get_by_role("link", name=reference).click()
        expect(other.locator("#unattended-banner")).to_contain_text("Olena K.")
        assert other.get_by_label(NOTE_FIELD).count() == 0  # claim first
        other.get_by_role("button", name="Claim this case").click()
        expect(other.get_by_text("You took the case.")).to_be_visible()
        assert "Ivan T." in other.locator("#case-facts").inner_text()

        # A note typed while the caller writes twice: nothing conflicts, it is added.
        other.get_by_label(NOTE_FIELD).fill("Caller is near Kursk; staying on the line.")
        _writes(app, "+79165550001", "Вы здесь?", "SM-b3")
        _writes(app, "+79165550001", "Ответьте", "SM-b4")
        with other.expect_response(lambda r: r.request.method == "POST") as posted:
            other.get_by_role("button", name="Add note").click()
        assert posted.value.status == 303
        expect(other.get_by_text("Note added.")).to_be_visible()
        timeline = other.locator(".timeline").inner_text()
        assert "Ответьте" in timeline and "Caller is near Kursk" in timeline

        # The handover: back on duty, Olena claims a new case and ends her shift.
        _set_duty(app, olena, True)
        second = _writes(app, "+79165550002", "Мой сын в армии", "SM-b5")
        page.goto(f"{live_server}/dashboard/cases/{second}")
        page.get_by_role("button", name="Claim this case").click()
        expect(page.get_by_text("You took the case.")).to_be_visible()
        page.goto(f"{live_server}/dashboard/")
        page.get_by_role("button", name="End my shift").click()
        expect(page.get_by_text("Shift ended: 1 of your cases went back to the team queue"
                                )).to_be_visible()
        other.goto(f"{live_server}/dashboard/cases/{second}")
        expect(other.locator(".timeline")).to_contain_text(
            "Olena K. ended their shift and handed the case back to the team queue")
        assert "unassigned" in other.locator("#case-facts").inner_text()
    finally:
        hers.close()
        his.close()
    with app.app_context():
        assert db.session.get(User, olena.id).on_duty is False
        first = db.session.query(Case).filter(Case.assigned_to_id == ivan.id).one()
        assert first.display_reference == reference and first.awaiting_staff_since is None
