"""Migration 0030: the contact section of pre-timeline web cases moves out of the body.

The old rows are made as the old form left them: a web case sent through the public
form, its first message rewritten to the old ``compose_body`` text, on a database at
the migration before; then ``flask db upgrade`` runs (twice: it must be idempotent).
"""

from __future__ import annotations

import pytest
from alembic.script import ScriptDirectory
from cryptography.fernet import Fernet
from flask_migrate import downgrade, stamp, upgrade
from sqlalchemy import select, text

from hotline.extensions import db
from hotline.models import Case, Interaction
from tests.dashboard_support import make_case
from tests.web_helpers import reference_and_receipt, send_contact

MIGRATION = "0030_web_contact_section"
BEFORE = "0029_user_language"
SECTION = "\n\n[Contact details given on the web form: {}]"


def _web_case(app, message: str, contact: str = "") -> str:
    """A web case sent through the form; returns its stored reference."""
    sent = send_contact(app.test_client(), message=message, contact=contact)
    return reference_and_receipt(sent.get_data(as_text=True))[0].replace("-", "")


def _make_old(app, reference: str, body: str, contact_details: str | None) -> None:
    """Give the case's first message the old body and set what the case held then."""
    with app.app_context():
        case = db.session.execute(select(Case).where(Case.reference == reference)).scalar_one()
        case.interactions[0].body = body
        case.contact_details = contact_details
        db.session.commit()


def _state(app, reference: str) -> tuple[list[str | None], str | None]:
    with app.app_context():
        db.session.remove()
        case = db.session.execute(select(Case).where(Case.reference == reference)).scalar_one()
        return [i.body for i in case.interactions], case.contact_details


def _raw_bodies(app) -> list[str]:
    with app.app_context():
        return [row[0] for row in db.session.execute(text(
            "SELECT body FROM interactions WHERE body IS NOT NULL UNION ALL "
            "SELECT contact_details FROM cases WHERE contact_details IS NOT NULL"))]


def test_old_contact_sections_move_into_contact_details_once(app):
    plain = _web_case(app, "Please help, they took my passport.")
    _make_old(app, plain, "Please help, they took my passport." + SECTION.format(
        "+380 67 123 4567"), None)
    # A case that already holds contact details keeps them and gains the section's.
    both = _web_case(app, "Write to me.", contact="Signal @kind_owl")
    _make_old(app, both, "Write to me.\n\nAgain: write." + SECTION.format("tg: @owl_2"),
              "Signal @kind_owl")
    # Text that merely mentions the label, not at the end, is the caller's: untouched.
    quoted = "I saw [Contact details given on the web form: x] somewhere.\n\nWhat is it?"
    mention = _web_case(app, quoted)
    _make_old(app, mention, quoted, None)
    # Other channels never had the section: an SMS that looks like one is left alone.
    sms_body = "Hi" + SECTION.format("+79160000000")
    sms = make_case(app, body=sms_body)["stored"]
    with app.app_context():
        downgrade(revision=BEFORE)
    assert not any("+380 67 123 4567" in value for value in _raw_bodies(app))  # encrypted

    with app.app_context():
        upgrade()
    assert _state(app, plain) == (["Please help, they took my passport."], "+380 67 123 4567")
    assert _state(app, both) == (["Write to me.\n\nAgain: write."],
                                 "Signal @kind_owl\ntg: @owl_2")
    assert _state(app, mention) == ([quoted], None)
    assert _state(app, sms) == ([sms_body], None)
    raw = _raw_bodies(app)
    assert not any("+380" in value or "owl" in value for value in raw)  # still encrypted

    # Run again from the migration before: nothing changes.
    with app.app_context():
        stamp(revision=BEFORE)
        upgrade(revision=MIGRATION)  # this migration again, not the later ones
        assert db.session.execute(text("SELECT version_num FROM alembic_version")
                                  ).scalar_one() == MIGRATION
        db.session.remove()
        stamp(revision=ScriptDirectory(app.extensions["migrate"].directory).get_current_head())
    assert _state(app, plain) == (["Please help, they took my passport."], "+380 67 123 4567")
    assert _state(app, both) == (["Write to me.\n\nAgain: write."],
                                 "Signal @kind_owl\ntg: @owl_2")


def test_a_follow_up_message_and_a_later_section_keep_every_word(app):
    """Only a body ending with the section changes; a follow-up without one stays."""
    reference = _web_case(app, "first")
    _make_old(app, reference, "first" + SECTION.format("me@example.org"), "me@example.org")
    with app.app_context():
        case = db.session.execute(select(Case).where(Case.reference == reference)).scalar_one()
        db.session.add(Interaction(case_id=case.id, kind="message_in", channel="web",
                                   body="second, no section", meta={}))
        db.session.commit()
        downgrade(revision=BEFORE)
        upgrade()
    # The case already held exactly this contact: it is not written twice.
    assert _state(app, reference) == (["first", "second, no section"], "me@example.org")


def test_a_body_no_key_opens_stops_the_upgrade_and_changes_nothing(app):
    reference = _web_case(app, "hello")
    _make_old(app, reference, "hello" + SECTION.format("+380671234567"), None)
    foreign = Fernet(Fernet.generate_key()).encrypt(b"not ours").decode()
    with app.app_context():
        downgrade(revision=BEFORE)
        db.session.execute(text("INSERT INTO interactions (case_id, kind, channel, body, meta,"
                                " created_at, send_attempts) SELECT id, 'message_in', 'web',"
                                " :body, '{}', CURRENT_TIMESTAMP, 0 FROM cases"),
                           {"body": foreign})
        db.session.commit()
        db.session.remove()
        with pytest.raises(SystemExit, match="cannot decrypt its body"):
            upgrade()
        db.session.remove()
        assert db.session.execute(text("SELECT version_num FROM alembic_version")
                                  ).scalar_one() == BEFORE
        first = db.session.execute(select(Interaction).order_by(Interaction.id).limit(1)
                                   ).scalar_one()
        assert first.body == "hello" + SECTION.format("+380671234567")  # rolled back
        # Raw SQL: the ORM's Case has columns of later migrations this schema lacks.
        assert db.session.execute(text("SELECT contact_details FROM cases WHERE id = :id"),
                                  {"id": first.case_id}).scalar_one() is None
        db.session.remove()
        db.session.execute(text("DELETE FROM interactions WHERE body = :body"),
                           {"body": foreign})
        db.session.commit()
        upgrade()
    assert _state(app, reference) == (["hello"], "+380671234567")
