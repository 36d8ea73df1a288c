"""Case actions as plain functions: each change, its timeline entry, audit, and refusals."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, text, update

from hotline.cases import actions, reply_policy
from hotline.extensions import db
from hotline.intake.service import receive
from hotline.models import AuditEvent, Caller, Case, Interaction, User, utcnow
from tests.dashboard_support import make_case


def _load(case_id: int) -> Case:
    return db.session.get(Case, case_id)


def _user(user: User) -> User:
    return db.session.get(User, user.id)


def _audit_actions(case_id: int) -> list[str]:
    return list(db.session.execute(
        select(AuditEvent.action).where(AuditEvent.case_id == case_id).order_by(AuditEvent.id)
    ).scalars())


def _last(case_id: int, kind: str | None = None) -> Interaction:
    stmt = select(Interaction).where(Interaction.case_id == case_id)
    if kind is not None:
        stmt = stmt.where(Interaction.kind == kind)
    return db.session.execute(stmt.order_by(Interaction.id.desc()).limit(1)).scalar_one()


def test_claim_assigns_writes_timeline_updated_by_and_audit(app, staff):
    ids = make_case(app)
    with app.app_context():
        case, me = _load(ids["id"]), _user(staff)
        actions.claim(case, me, case.version)
        assert case.assigned_to_id == me.id and case.updated_by_id == me.id
        entry = _last(case.id, "assignment")
        assert (entry.kind, entry.author_id, entry.meta["to_name"]) == ("assignment", me.id,
                                                                         "Olena K.")
        # Claiming a new case puts it in progress, as the system's change after the claim.
        moved = _last(case.id)
        assert (moved.kind, moved.author_id, moved.meta) == (
            "status_change", None, {"from": "new", "to": "in_progress", "reason": "work"})
        assert moved.id > entry.id and case.status == "in_progress"
        assert _audit_actions(case.id) == ["case.claim"]


def test_staff_may_take_or_release_but_not_give_to_others(app, make_user, staff):
    other = make_user("staff")
    ids = make_case(app)
    with app.app_context():
        case, me = _load(ids["id"]), _user(staff)
        with pytest.raises(actions.NotAllowed):
            actions.assign(case, me, case.version, other.id)
        assert case.assigned_to_id is None
        actions.assign(case, me, case.version, me.id)
        actions.assign(case, me, case.version, None)
        assert case.assigned_to_id is None


def test_supervisor_assigns_to_anyone_but_not_to_inactive_users(app, make_user):
    boss = make_user("supervisor")
    worker = make_user("staff")
    gone = make_user("staff", active=False)
    ids = make_case(app)
    with app.app_context():
        case = _load(ids["id"])
        actions.assign(case, _user(boss), case.version, worker.id)
        assert case.assigned_to_id == worker.id
        with pytest.raises(actions.InvalidAction):
            actions.assign(case, _user(boss), case.version, gone.id)
        assert case.assigned_to_id == worker.id


def test_status_follows_the_workflow_and_closing_needs_a_resolution(app, staff):
    ids = make_case(app)
    with app.app_context():
        case, me = _load(ids["id"]), _user(staff)
        with pytest.raises(actions.TransitionRefused, match="cannot become waiting"):
            actions.change_status(case, me, case.version, "waiting")
        with pytest.raises(actions.TransitionRefused, match="requires a resolution"):
            actions.change_status(case, me, case.version, "closed")
        assert case.status == "new" and case.closed_at is None
        actions.change_status(case, me, case.version, "triaged")
        actions.change_status(case, me, case.version, "closed", "information_provided")
        assert case.status == "closed" and case.resolution == "information_provided"
        assert case.closed_at is not None
        actions.change_status(case, me, case.version, "in_progress")
        assert case.closed_at is None and case.resolution is None
        changes = [(i.meta["from"], i.meta["to"]) for i in db.session.execute(
            select(Interaction).where(Interaction.kind == "status_change")).scalars()]
        assert changes == [("new", "triaged"), ("triaged", "closed"), ("closed", "in_progress")]
        assert _audit_actions(case.id) == ["case.status"] * 3


def test_classify_checks_vocabularies_and_records_each_change(app, staff):
    ids = make_case(app)
    with app.app_context():
        case, me = _load(ids["id"]), _user(staff)
        with pytest.raises(actions.InvalidAction):
            actions.classify(case, me, case.version, {"category": "smuggling"})
        with pytest.raises(actions.InvalidAction):
            actions.classify(case, me, case.version, {"urgency": ""})
        with pytest.raises(actions.InvalidAction, match="nothing changed"):
            actions.classify(case, me, case.version, {"urgency": "normal"})
        actions.classify(case, me, case.version, {"category": "surrender", "urgency": "high",
                                                  "affiliation": "dprk", "language": "ko"})
        assert (case.category, case.urgency, case.affiliation, case.language) == (
            "surrender", "high", "dprk", "ko")
        entry = _last(case.id, "classification_change")
        assert entry.meta["changes"]["urgency"] == ["normal", "high"]
        # Classified only: the new case is triaged, by the system.
        moved = _last(case.id)
        assert (moved.kind, moved.author_id, moved.meta["to"]) == ("status_change", None,
                                                                   "triaged")
        assert case.status == "triaged" and case.queue_rank == 4  # triaged + high


def test_configured_vocabulary_overrides_apply(make_app, make_user):
    app = make_app(CLASSIFICATION_VOCABULARIES={"category": ["desertion", "other"]})
    with app.app_context():
        user = User(email="s@x.test", display_name="S", role="staff", password_hash="x",
                    session_token="t")
        db.session.add(user)
        db.session.commit()
        user_id = user.id
    ids = make_case(app)
    with app.app_context():
        case, me = _load(ids["id"]), db.session.get(User, user_id)
        actions.classify(case, me, case.version, {"category": "desertion"})
        with pytest.raises(actions.InvalidAction):
            actions.classify(case, me, case.version, {"category": "surrender"})


def test_note_is_encrypted_text_with_author(app, staff):
    ids = make_case(app)
    with app.app_context():
        case, me = _load(ids["id"]), _user(staff)
        with pytest.raises(actions.InvalidAction):
            actions.add_note(case, me, case.version, "   ")
        with pytest.raises(actions.InvalidAction):
            actions.add_note(case, me, case.version, "x" * (actions.MAX_NOTE_LENGTH + 1))
        actions.add_note(case, me, case.version, "Asked about the route")
        entry = _last(case.id)
        assert (entry.kind, entry.body, entry.author_id) == ("note", "Asked about the route",
                                                             me.id)
        raw = db.session.execute(text("SELECT body FROM interactions WHERE id = :id"),
                                 {"id": entry.id}).scalar()
        assert "route" not in raw


def test_reply_goes_to_the_outbox_and_is_no_response_until_it_left(app, staff):
    ids = make_case(app)
    with app.app_context():
        case, me = _load(ids["id"]), _user(staff)
        with pytest.raises(actions.InvalidAction):
            actions.reply(case, me, case.version, "x" * (reply_policy.MAX_REPLY_CHARS + 1))
        sent = actions.reply(case, me, case.version, "We read you. Stay safe.")
        assert (sent.kind, sent.channel, sent.delivery_status) == ("message_out", "sms",
                                                                   "queued")
        assert _load(ids["id"]).first_response_at is None  # queued is not answered
        actions.reply(case, me, case.version, "Second")
        assert _audit_actions(case.id) == ["case.reply", "case.reply"]


def test_web_reply_is_published_and_opted_out_callers_get_nothing(app, staff):
    web = make_case(app, kind="web", channel="web")
    sms = make_case(app)
    with app.app_context():
        me = _user(staff)
        case = _load(web["id"])
        assert actions.reply(case, me, case.version, "Answer").delivery_status == "published"
        assert _load(web["id"]).first_response_at is not None  # saved on the follow-up page
        case = _load(sms["id"])
        case.caller.opted_out = True
        db.session.commit()
        with pytest.raises(actions.InvalidAction, match="opted out"):
            actions.reply(case, me, case.version, "Hello?")
        assert [i.kind for i in case.interactions] == ["message_in"]


def test_callback_reached_clears_the_flag_and_counts_as_first_response(app, staff):
    ids = make_case(app, callback_needed=True, channel="voice", body=None)
    with app.app_context():
        case, me = _load(ids["id"]), _user(staff)
        actions.log_callback(case, me, case.version, "no_answer")
        assert case.callback_needed and case.first_response_at is None
        with pytest.raises(actions.InvalidAction):
            actions.log_callback(case, me, case.version, "teleported")
        with pytest.raises(actions.InvalidAction, match="future"):
            actions.log_callback(case, me, case.version, "reached", utcnow() + timedelta(hours=1))
        when = utcnow() - timedelta(minutes=3)
        actions.log_callback(case, me, case.version, "reached", when, "Spoke in Russian")
        assert not case.callback_needed and case.first_response_at == when
        entry = _last(case.id)
        assert entry.kind == "callback" and entry.meta["outcome"] == "reached"
        assert entry.meta["outcome"] == "reached" and entry.body == "Spoke in Russian"


def test_flag_caller(app, staff):
    ids = make_case(app)
    with app.app_context():
        case, me = _load(ids["id"]), _user(staff)
        with pytest.raises(actions.InvalidAction):
            actions.flag_caller(case, me, case.version, "annoying")
        actions.flag_caller(case, me, case.version, "hostile")
        assert db.session.get(Caller, ids["caller_id"]).flag == "hostile"
        assert _last(case.id).meta["changes"]["caller_flag"] == [None, "hostile"]
        assert _audit_actions(case.id) == ["caller.flag"]


def test_stale_version_is_refused_naming_the_colleague_and_nothing_changes(app, make_user,
                                                                           staff):
    colleague = make_user("supervisor", display_name="Min-jun P.")
    ids = make_case(app)
    with app.app_context():
        case = _load(ids["id"])
        seen = case.version
        actions.classify(case, _user(colleague), seen, {"urgency": "immediate"})
        count = len(case.interactions)
        with pytest.raises(actions.StaleCase) as refused:
            actions.classify(case, _user(staff), seen, {"urgency": "normal"})
        assert refused.value.changed_by == "Min-jun P."
        assert "Min-jun P." in refused.value.message
        db.session.expire_all()
        case = _load(ids["id"])
        assert case.urgency == "immediate" and case.updated_by_id == colleague.id
        assert len(case.interactions) == count


def test_the_caller_writing_again_refuses_no_note(app, staff):
    with app.app_context():
        first = receive(channel="sms", address="+79160000001", body="one", external_id="SM1")
        case_id, seen = first.case.id, first.case.version
        receive(channel="sms", address="+79160000001", body="two", external_id="SM2")
        case = _load(case_id)
        assert case.version != seen
        actions.add_note(case, _user(staff), seen, "not too late")
        assert _last(case_id).body == "not too late"


def test_concurrent_write_between_load_and_commit_is_refused(app, make_user, staff):
    rival = make_user("staff", display_name="Rival R.")
    ids = make_case(app)
    with app.app_context():
        case, me = _load(ids["id"]), _user(staff)
        seen = case.version
        # Another request commits after this one loaded the row (keep our loaded copy
        # out of the session meanwhile): the optimistic lock must fire at our flush.
        db.session.expunge(case)
        db.session.rollback()
        with db.engine.begin() as conn:
            conn.execute(update(Case.__table__).where(Case.__table__.c.id == case.id)
                         .values(version=seen + 1, updated_by_id=rival.id, urgency="high",
                                 updated_at=utcnow()))
        db.session.add(case)
        me = _user(staff)
        with pytest.raises(actions.StaleCase) as refused:
            actions.classify(case, me, seen, {"urgency": "immediate"})
        assert refused.value.changed_by == "Rival R."
        db.session.expire_all()
        assert _load(ids["id"]).urgency == "high"
        assert db.session.execute(select(Interaction.kind).where(
            Interaction.kind == "classification_change")).first() is None


def test_staff_cannot_act_on_a_colleagues_case(app, make_user, staff):
    other = make_user("staff")
    ids = make_case(app, assigned_to=other)
    with app.app_context():
        case = _load(ids["id"])
        with pytest.raises(actions.NotAllowed):
            actions.add_note(case, _user(staff), case.version, "peek")
