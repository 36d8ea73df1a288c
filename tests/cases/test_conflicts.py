"""Conflicts only where there is one (issue 13): what refuses an action from an old page."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update

from hotline.cases import actions
from hotline.extensions import db
from hotline.intake.service import receive
from hotline.models import Case, Interaction, User

CALLER = "+79160000077"


def _fresh(case_id: int) -> Case:
    db.session.expire_all()
    return db.session.get(Case, case_id)


def _user(user: User) -> User:
    return db.session.get(User, user.id)


def _opened(app):
    """A case opened by the caller, as a page shows it: (case id, version, seen by action)."""
    first = receive(channel="sms", address=CALLER, body="one", external_id="SM-c1")
    case = _fresh(first.case_id)
    return case.id, case.version, {name: actions.state_seen(name, case)
                                   for name in actions.STATE_OF_ACTION}


def test_the_caller_writing_refuses_no_note_reply_callback_or_claim(app, staff):
    with app.app_context():
        case_id, version, seen = _opened(app)
        receive(channel="sms", address=CALLER, body="two", external_id="SM-c2")
        me = _user(staff)
        actions.add_note(_fresh(case_id), me, version, "a note")
        actions.reply(_fresh(case_id), me, version, "a reply")
        actions.log_callback(_fresh(case_id), me, version, "no_answer")
        receive(channel="sms", address=CALLER, body="three", external_id="SM-c3")
        actions.claim(_fresh(case_id), me, version, seen=seen["case.claim"])
        case = _fresh(case_id)
        assert case.assigned_to_id == me.id
        kinds = [i.kind for i in case.interactions if i.author_id == me.id]
        assert kinds == ["note", "message_out", "callback", "assignment"]


def test_a_colleagues_note_refuses_no_status_or_classification_change(app, make_user, staff):
    colleague = make_user("staff", display_name="Ana R.")
    with app.app_context():
        case_id, version, seen = _opened(app)
        actions.add_note(_fresh(case_id), _user(colleague), version, "I looked at it")
        me = _user(staff)
        actions.classify(_fresh(case_id), me, version, {"category": "surrender"},
                         seen=seen["case.classify"])
        case = _fresh(case_id)
        assert (case.category, case.status) == ("surrender", "triaged")


def test_a_status_changed_under_you_is_refused_and_nothing_is_written(app, make_user, staff):
    colleague = make_user("supervisor", display_name="Min-jun P.")
    with app.app_context():
        case_id, version, seen = _opened(app)
        actions.change_status(_fresh(case_id), _user(colleague), version, "in_progress",
                              seen=seen["case.status"])
        count = len(_fresh(case_id).interactions)
        with pytest.raises(actions.StaleCase) as refused:
            actions.change_status(_fresh(case_id), _user(staff), version, "triaged",
                                  seen=seen["case.status"])
        assert refused.value.changed_by == "Min-jun P."
        case = _fresh(case_id)
        assert case.status == "in_progress" and len(case.interactions) == count


def test_a_classification_changed_under_you_is_refused(app, make_user, staff):
    colleague = make_user("supervisor", display_name="Min-jun P.")
    with app.app_context():
        case_id, version, seen = _opened(app)
        actions.classify(_fresh(case_id), _user(colleague), version, {"urgency": "high"},
                         seen=seen["case.classify"])
        with pytest.raises(actions.StaleCase):
            actions.classify(_fresh(case_id), _user(staff), version, {"category": "hoax"},
                             seen=seen["case.classify"])
        assert _fresh(case_id).category is None


def test_an_assignment_taken_under_you_is_refused(app, make_user):
    first = make_user("supervisor", display_name="Min-jun P.")
    second = make_user("supervisor", display_name="Ivan T.")
    with app.app_context():
        case_id, version, seen = _opened(app)
        actions.claim(_fresh(case_id), _user(first), version, seen=seen["case.claim"])
        with pytest.raises(actions.StaleCase) as refused:
            actions.claim(_fresh(case_id), _user(second), version, seen=seen["case.claim"])
        assert refused.value.changed_by == "Min-jun P."
        assert _fresh(case_id).assigned_to_id == first.id


def test_a_note_racing_a_caller_message_is_written_once_not_refused(app, staff):
    with app.app_context():
        case_id, version, _ = _opened(app)
        case, me = _fresh(case_id), _user(staff)
        # The caller's message commits after this request loaded the case: the optimistic
        # lock fires at the note's flush, and the note is written on the fresh row.
        db.session.expunge(case)
        db.session.rollback()
        with db.engine.begin() as conn:
            conn.execute(update(Case.__table__).where(Case.__table__.c.id == case_id)
                         .values(version=version + 1))
        db.session.add(case)
        actions.add_note(case, _user(staff), version, "written anyway")
        notes = db.session.execute(select(Interaction.body).where(
            Interaction.case_id == case_id, Interaction.kind == "note")).scalars().all()
        assert notes == ["written anyway"] and me.id == staff.id


def test_status_menu_offers_the_natural_next_status_first_never_closing():
    from hotline.cases.workflow import STATUSES, next_statuses

    for status in STATUSES:
        offered = next_statuses(status)
        assert offered and offered[0] != "closed"
    assert next_statuses("new")[0] == "triaged" and next_statuses("in_progress")[0] == "waiting"
