"""``demo seed``: bulk fake data that the app can read and that keeps the Case invariants."""

from __future__ import annotations

import importlib.util
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from hotline.cases.references import parse_reference
from hotline.cases.vocabularies import CHANNELS, LANGUAGES
from hotline.cases.workflow import OPEN_STATUSES, RESOLUTIONS
from hotline.crypto import address_index, cipher
from hotline.demo import CASES_PER_DAY_SMALL, DEMO_EMAIL_DOMAIN, PHRASES, seed
from hotline.extensions import db
from hotline.intake.service import receive
from hotline.models import Caller, Case, Interaction, User

N_CASES = 300
UNATTENDED_MIGRATION = (Path(__file__).resolve().parents[2] / "migrations" / "versions"
                        / "0034_unattended.py")


@pytest.fixture
def seeded(app_ctx):
    report = seed(N_CASES, n_staff=4, n_supervisors=1, seed_value=11, batch_cases=120)
    db.session.expire_all()
    return report


def test_counts_match_the_report(seeded) -> None:
    assert seeded.cases == N_CASES
    assert seeded.batches == 3
    assert db.session.scalar(select(func.count()).select_from(Case)) == N_CASES
    assert db.session.scalar(select(func.count()).select_from(Caller)) == seeded.callers
    assert db.session.scalar(select(func.count()).select_from(Interaction)) == seeded.interactions
    # Some callers come back with a second case; most cases have several entries.
    assert N_CASES * 0.6 < seeded.callers < N_CASES
    assert seeded.interactions > 2 * N_CASES
    roles = Counter(db.session.scalars(select(User.role)))
    assert roles == {"staff": 4, "supervisor": 1}


def test_data_covers_every_channel_language_and_status(seeded) -> None:
    cases = db.session.scalars(select(Case)).all()
    assert {c.channel for c in cases} == set(CHANNELS)
    assert {c.language for c in cases} == set(LANGUAGES)
    assert {c.status for c in cases} >= {"closed", "in_progress", "waiting"}
    assert len({c.category for c in cases if c.category}) >= 5
    assert any(c.assigned_to_id for c in cases)
    kinds = set(db.session.scalars(select(Interaction.kind)))
    assert {"message_in", "message_out", "call", "note", "assignment"} <= kinds
    span = max(c.created_at for c in cases) - min(c.created_at for c in cases)
    assert span.days >= N_CASES // CASES_PER_DAY_SMALL - 1  # two a day for a small line


def test_encrypted_fields_decrypt_under_the_app_key(seeded) -> None:
    callers = db.session.scalars(select(Caller)).all()
    for caller in callers:
        assert caller.address  # decrypted by the column type
        assert caller.address_index == address_index(caller.address_kind, caller.address)
    assert any(caller.name for caller in callers)
    bodies = db.session.scalars(select(Interaction.body).where(
        Interaction.kind == "message_in")).all()
    assert bodies and all(bodies)
    all_phrases = [p for words in PHRASES.values() for p in words]
    assert all(any(phrase in body for phrase in all_phrases) for body in bodies[:50])
    raw = db.session.execute(select(func.min(Caller.id))).scalar_one()
    token = db.session.execute(
        text("SELECT address FROM callers WHERE id = :id"), {"id": raw}).scalar_one()
    assert token.startswith("gAAAA")  # a Fernet token at rest
    assert cipher().decrypt(token) == db.session.get(Caller, raw).address


def test_case_invariants_hold(seeded) -> None:
    cases = db.session.scalars(select(Case)).all()
    assert len({c.reference for c in cases}) == N_CASES
    assert all(parse_reference(c.reference) == c.reference for c in cases)
    for case in cases:
        if case.status == "closed":
            assert case.closed_at is not None and case.resolution in RESOLUTIONS
            assert case.closed_at >= case.created_at
        else:
            assert case.closed_at is None and case.resolution is None
        if case.first_response_at is not None:
            assert case.first_response_at > case.created_at
        assert case.updated_at >= case.created_at
    assert any(c.callback_needed for c in cases if c.channel == "voice")
    assert not any(c.callback_needed for c in cases if c.channel != "voice")
    assert not any(c.callback_needed for c in cases if c.status == "closed")
    open_per_caller = Counter(c.caller_id for c in cases if c.status in OPEN_STATUSES)
    assert max(open_per_caller.values()) == 1
    # Ids grow with time, as in a live system.
    ordered = sorted(cases, key=lambda c: c.id)
    assert all(a.created_at <= b.created_at for a, b in zip(ordered, ordered[1:], strict=False))
    for item in db.session.scalars(select(Interaction)).all():
        assert item.created_at >= item.case.created_at


def test_awaiting_staff_since_is_what_the_timeline_says(seeded) -> None:
    """Seeded as the intake and the staff actions would have left it: migration 0034's
    backfill, run over the seeded timelines, finds exactly the stamps the seed wrote."""
    seeded_stamps = dict(db.session.execute(select(Case.id, Case.awaiting_staff_since)).all())
    spec = importlib.util.spec_from_file_location("unattended_migration", UNATTENDED_MIGRATION)
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    db.session.execute(text("UPDATE cases SET awaiting_staff_since = NULL"))
    db.session.execute(text(migration.BACKFILL))
    db.session.expire_all()
    backfilled = dict(db.session.execute(select(Case.id, Case.awaiting_staff_since)).all())
    assert backfilled == seeded_stamps
    cases = db.session.scalars(select(Case)).all()
    assert all(c.awaiting_staff_since is None for c in cases if c.status == "closed")
    # Nobody has answered a new case yet: its caller waits since the first contact.
    new = [c for c in cases if c.status == "new"]
    assert new and all(c.awaiting_staff_since == c.created_at for c in new)
    # Some assigned open cases wait on their assignee: unattended while the demo staff
    # are away, so the unattended view of a seeded line is not empty.
    waiting_on_assignee = [c for c in cases if c.status in OPEN_STATUSES
                           and c.assigned_to_id and c.awaiting_staff_since]
    assert waiting_on_assignee
    # Whoever answered a case is a staff member, claimed or not.
    staff_kinds = ("message_out", "note", "assignment")
    assert not db.session.scalar(select(func.count()).select_from(Interaction).where(
        Interaction.kind.in_(staff_kinds), Interaction.author_id.is_(None)))


def test_seeding_again_adds_more_and_intake_carries_on(seeded) -> None:
    again = seed(40, n_staff=4, n_supervisors=1, seed_value=12)
    assert again.users == 0  # the demo staff exist already
    assert db.session.scalar(select(func.count()).select_from(Case)) == N_CASES + 40
    result = receive(channel="sms", address="+79161234567", body="Привет",
                     external_id="SM" + "f" * 32)
    assert result.created and result.case_opened
    assert result.case.id > N_CASES + 40 - 1


def test_no_plaintext_in_the_sqlite_file(app, make_app, tmp_path: Path) -> None:
    # Always on a SQLite file of its own, whichever database the suite runs on (``app``
    # is requested first so that the fixture cleans up the suite database as usual).
    from flask_migrate import upgrade

    path = tmp_path / "plain-check.sqlite3"
    sqlite_app = make_app(SQLALCHEMY_DATABASE_URI=f"sqlite:///{path}")
    with sqlite_app.app_context():
        upgrade()
        seed(120, n_staff=2, n_supervisors=1, seed_value=13)
        addresses = [c.address for c in db.session.scalars(select(Caller).limit(50))]
        bodies = [b for b in db.session.scalars(select(Interaction.body).limit(50)) if b]
        db.session.remove()
        db.engine.dispose()  # checkpoint the WAL into the file
    raw = b"".join(p.read_bytes() for p in tmp_path.glob(path.name + "*"))
    assert addresses and bodies
    for value in addresses + bodies:
        assert value.encode() not in raw
    for phrase in PHRASES["ru"] + PHRASES["ko"]:
        assert phrase.encode() not in raw


def test_cli_seeds_and_reports(app) -> None:
    result = app.test_cli_runner().invoke(args=["demo", "seed", "--cases", "25", "--staff", "2",
                                                "--supervisors", "1", "--quiet"])
    assert result.exit_code == 0, result.output
    assert "seeded 25 cases" in result.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Case)) == 25
        assert db.session.scalar(select(func.count()).select_from(User).where(
            User.email.like(f"%@{DEMO_EMAIL_DOMAIN}"))) == 3
