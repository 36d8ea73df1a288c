"""Security review, finding 1: a submission id never leads to somebody else's case.

The attack as reported: the victim sends the form; the attacker sends their own, signs in
at /followup with their own receipt and posts /followup/message with the victim's
submission id, hoping the duplicate check moves their session onto the victim's case.
"""

from __future__ import annotations

from flask_migrate import downgrade, upgrade
from sqlalchemy import func, select, text

from hotline.api.tokens import create_token
from hotline.channels.web.intake import submission_key
from hotline.extensions import db
from hotline.models import Case, Interaction
from tests.web_helpers import (
    contact_form,
    followup_login,
    form_data,
    hidden_fields,
    main_text,
    reference_and_receipt,
)

VICTIM_TEXT = "Victim: I am near the border, call me on +380 67 123 4567"
ATTACKER_TEXT = "Attacker's own message"


def _send(client, hidden: dict, message: str):
    response = client.post("/en/", data=form_data(hidden, message=message,
                                                  contact="+380671234567"),
                           follow_redirects=True)
    assert response.status_code == 200
    return reference_and_receipt(response.get_data(as_text=True))


def _victim_and_attacker(app):
    victim, attacker = app.test_client(), app.test_client()
    victim_form = contact_form(victim)
    victim_ref, _ = _send(victim, victim_form, VICTIM_TEXT)
    attacker_ref, attacker_receipt = _send(attacker, contact_form(attacker), ATTACKER_TEXT)
    return victim_form["submission_id"], victim_ref, attacker, attacker_ref, attacker_receipt


def _case_texts(app, reference: str) -> list[str]:
    with app.app_context():
        case = db.session.execute(select(Case).where(
            Case.reference == reference.replace("-", ""))).scalar_one()
        return [i.body.split("\n\n")[0] for i in case.interactions if i.kind == "message_in"]


def test_followup_message_with_a_victims_submission_id_stays_in_the_attackers_case(app):
    stolen_id, victim_ref, attacker, attacker_ref, receipt = _victim_and_attacker(app)
    assert followup_login(attacker, attacker_ref, receipt).status_code == 303
    hidden = hidden_fields(attacker.get("/followup").get_data(as_text=True))
    answer = attacker.post("/followup/message", data={
        **hidden, "submission_id": stolen_id, "message": "Attacker writes into the thread"})
    assert answer.status_code == 303
    page = main_text(attacker.get("/followup").get_data(as_text=True))
    assert "Victim" not in page and "+380 67 123 4567" not in page
    assert attacker_ref in page and victim_ref not in page
    assert _case_texts(app, victim_ref) == [VICTIM_TEXT]
    assert "Attacker writes into the thread" in _case_texts(app, attacker_ref)


def test_public_form_with_a_victims_submission_id_from_another_browser_is_a_new_case(app):
    victim = app.test_client()
    victim_form = contact_form(victim)
    victim_ref, _ = _send(victim, victim_form, VICTIM_TEXT)
    attacker = app.test_client()
    hidden = {**contact_form(attacker), "submission_id": victim_form["submission_id"]}
    response = attacker.post("/en/", data=form_data(hidden, message=ATTACKER_TEXT),
                             follow_redirects=True)
    page = response.get_data(as_text=True)
    attacker_ref, attacker_receipt = reference_and_receipt(page)  # a receipt: a new case
    assert attacker_ref != victim_ref and victim_ref not in page
    assert _case_texts(app, victim_ref) == [VICTIM_TEXT]


def test_the_same_browser_sending_its_form_twice_still_makes_one_case(app, client):
    hidden = contact_form(client)
    first = client.post("/en/", data=form_data(hidden, message="once"), follow_redirects=True)
    second = client.post("/en/", data=form_data(hidden, message="once"), follow_redirects=True)
    # Within minutes, this browser sees the receipt it was given, and no new one.
    assert reference_and_receipt(second.get_data(as_text=True)) == reference_and_receipt(
        first.get_data(as_text=True))
    with app.app_context():
        assert db.session.execute(select(func.count()).select_from(Case)).scalar_one() == 1


def test_a_followup_message_sent_twice_in_its_session_is_stored_once(app):
    _, _, attacker, reference, receipt = _victim_and_attacker(app)
    followup_login(attacker, reference, receipt)
    hidden = hidden_fields(attacker.get("/followup").get_data(as_text=True))
    for _ in range(2):
        attacker.post("/followup/message", data={**hidden, "message": "only once"})
    assert _case_texts(app, reference).count("only once") == 1


def test_submission_ids_are_stored_as_keyed_hashes_and_never_returned_by_the_api(app):
    stolen_id, victim_ref, *_ = _victim_and_attacker(app)
    client = app.test_client()
    with app.app_context():
        stored = db.session.execute(select(Interaction.external_id).where(
            Interaction.channel == "web")).scalars().all()
        tokens = [create_token(f"t-{role}", role)[1] for role in ("stats", "staff", "admin")]
        db.session.commit()
    assert all(len(value) == 64 and "web-" not in value for value in stored)
    assert stolen_id not in stored
    for token in tokens:
        data = client.get(f"/api/v1/cases/{victim_ref}",
                          headers={"Authorization": f"Bearer {token}"}).json
        assert data["interactions"] and all(
            item["external_id"] is None for item in data["interactions"])
        assert stolen_id not in str(data)


def test_migration_hashes_the_clear_ids_already_stored(app):
    with app.app_context():
        downgrade(revision="0016_open_queue")
        # Plain SQL: the ORM model describes the head schema, not this older one.
        assert db.session.execute(text("SELECT id FROM cases")).first() is None
        db.session.execute(text(
            "INSERT INTO callers (address_index, address_kind, opted_out, first_seen, last_seen)"
            " VALUES ('x', 'web', false, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"))
        db.session.execute(text(
            "INSERT INTO cases (reference, caller_id, channel, status, urgency, version,"
            " callback_needed, created_at, updated_at) VALUES ('AAAABBBB', 1, 'web', 'new',"
            " 'normal', 1, false, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"))
        db.session.execute(text(
            "INSERT INTO interactions (case_id, kind, channel, external_id, meta, created_at,"
            " send_attempts) VALUES (1, 'message_in', 'web', :clear, '{}', CURRENT_TIMESTAMP, 0),"
            " (1, 'message_in', 'sms', :sid, '{}', CURRENT_TIMESTAMP, 0)"),
            {"clear": "web-" + "a" * 32, "sid": "SM" + "b" * 32})
        db.session.commit()
        db.session.remove()
        upgrade()
        rows = dict(db.session.execute(text(
            "SELECT channel, external_id FROM interactions")).all())
        assert rows["sms"] == "SM" + "b" * 32
        assert len(rows["web"]) == 64 and "a" * 32 not in rows["web"]
        assert rows["web"] != submission_key("form:x", "web-" + "a" * 32)
