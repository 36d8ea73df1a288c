"""What one SMS intake costs the database: one transaction, one commit, five statements
on SQLite; on PostgreSQL two for a new sender and three for a repeat message (the probe
folded into the caller upsert, the case's write and the message's insert in one CTE).

The intake runs for every message of a burst (bench/README.md); these tests keep a
change from quietly adding round trips or commits. They also pin the Core statements'
behaviour that the ORM used to provide: case versions, caller name and language.

The report roll-up (migration 0026) adds no statement: its triggers run inside the case
insert (one ``report_days`` upsert for a new case, ~0.03 ms in PostgreSQL, measured by
``bench/intake/rollup_cost.py``) and do not fire for a repeat message's update
(``tests/reports/test_rollup.py`` checks that it leaves the roll-up alone).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event, func, select

from hotline.extensions import db
from hotline.intake import service
from hotline.intake.service import receive
from hotline.models import Caller, Case, Interaction, utcnow

SENDER = "+79161234567"
# SQLite: idempotency probe, caller upsert, latest case, case insert or update,
# interaction insert. PostgreSQL: caller upsert with the probe; (latest case for a known
# caller;) case insert or update with the interaction insert.
STATEMENTS_PER_MESSAGE = 5
NEW_SENDER_STATEMENTS_PG = 2
REPEAT_STATEMENTS_PG = 3


def expected(app, sqlite: int, postgresql: int) -> int:
    """The statement count of the app's database."""
    with app.app_context():
        return postgresql if db.engine.dialect.name == "postgresql" else sqlite


def sms(sid: str, body: str, sender: str = SENDER) -> dict:
    return {"MessageSid": sid, "From": sender, "To": "+15005550006", "Body": body,
            "NumMedia": "0"}


@contextmanager
def counting(app) -> Iterator[dict[str, int]]:
    """Count statements (without SQLite's BEGIN) and commits on the app's engine."""
    counts = {"statements": 0, "commits": 0}
    with app.app_context():
        engine = db.engine

    def on_statement(_conn, _cursor, statement, *_args) -> None:
        if not statement.startswith("BEGIN"):
            counts["statements"] += 1

    def on_commit(_conn) -> None:
        counts["commits"] += 1

    event.listen(engine, "before_cursor_execute", on_statement)
    event.listen(engine, "commit", on_commit)
    try:
        yield counts
    finally:
        event.remove(engine, "before_cursor_execute", on_statement)
        event.remove(engine, "commit", on_commit)


def test_new_sender_is_one_commit_of_five_statements(app, twilio_post):
    with counting(app) as counts:
        answer = twilio_post("/twilio/sms", sms("SM" + "1" * 32, "Здравствуйте"))
    assert answer.status_code == 200 and "<Message>" in answer.text
    assert counts == {"statements": expected(app, STATEMENTS_PER_MESSAGE,
                                             NEW_SENDER_STATEMENTS_PG), "commits": 1}


def test_a_first_message_raising_urgency_costs_no_statement_more_on_postgresql(
        app, twilio_post):
    # "Хочу сдаться" matches the surrender rule: on PostgreSQL the case is inserted as
    # immediate and the system's entry rides in the same CTE; SQLite updates the case and
    # inserts the entry as two statements of their own.
    with counting(app) as counts:
        answer = twilio_post("/twilio/sms", sms("SM" + "4" * 32, "Хочу сдаться"))
    assert answer.status_code == 200
    assert counts == {"statements": expected(app, STATEMENTS_PER_MESSAGE + 2,
                                             NEW_SENDER_STATEMENTS_PG), "commits": 1}
    with app.app_context():
        case = db.session.execute(select(Case)).scalar_one()
        kinds = db.session.execute(select(Interaction.kind).order_by(Interaction.id)
                                   ).scalars().all()
        assert case.urgency == "immediate"
        assert kinds == ["message_in", "classification_change"]


def test_repeat_caller_is_one_commit_of_five_statements(app, twilio_post):
    twilio_post("/twilio/sms", sms("SM" + "1" * 32, "Здравствуйте"))
    with counting(app) as counts:
        answer = twilio_post("/twilio/sms", sms("SM" + "2" * 32, "Вы тут?"))
    assert answer.status_code == 200 and "<Message>" not in answer.text
    assert counts == {"statements": expected(app, STATEMENTS_PER_MESSAGE,
                                             REPEAT_STATEMENTS_PG), "commits": 1}


def test_retried_delivery_commits_nothing(app, twilio_post):
    params = sms("SM" + "3" * 32, "Привет")
    first = twilio_post("/twilio/sms", params)
    with counting(app) as counts:
        again = twilio_post("/twilio/sms", params)
    assert again.text == first.text
    assert counts["commits"] == 0


def test_retried_delivery_leaves_the_caller_and_case_alone(app_ctx):
    first = receive(channel="sms", address=SENDER, body="one", external_id="SM1")
    seen, version = first.caller.last_seen, first.case.version
    again = receive(channel="sms", address=SENDER, body="one", external_id="SM1")
    assert (again.created, again.case_id, again.interaction_id) == (
        False, first.case_id, first.interaction_id)
    caller = db.session.execute(select(Caller)).scalar_one()
    case = db.session.get_one(Case, first.case_id)
    db.session.refresh(caller)
    db.session.refresh(case)
    assert (caller.last_seen, case.version) == (seen, version)
    assert db.session.execute(select(func.count()).select_from(Interaction)).scalar_one() == 1


def test_a_drawn_reference_in_use_starts_the_delivery_over(app, twilio_post, monkeypatch):
    """The auto-reply names the reference the new case really got (PostgreSQL draws it
    before the reply is written; a clash must not leave the reply naming another case)."""
    twilio_post("/twilio/sms", sms("SM" + "1" * 32, "Здравствуйте"))
    with app.app_context():
        taken = db.session.execute(select(Case.reference)).scalar_one()
    draws = iter([taken, "ZZZZ2222"])
    monkeypatch.setattr(service, "new_reference", lambda: next(draws))
    answer = twilio_post("/twilio/sms", sms("SM" + "2" * 32, "Привет", sender="+79160000000"))
    assert answer.status_code == 200 and "ZZZZ-2222" in answer.text
    with app.app_context():
        references = set(db.session.execute(select(Case.reference)).scalars())
        count = db.session.execute(select(func.count()).select_from(Interaction)).scalar_one()
    assert references == {taken, "ZZZZ2222"} and count == 2


def test_each_intake_into_an_open_case_bumps_its_version(app_ctx):
    """Staff editing the case meanwhile then get the optimistic-lock conflict, as before."""
    first = receive(channel="sms", address=SENDER, body="one", external_id="SM1")
    version = first.case.version
    receive(channel="sms", address=SENDER, body="two", external_id="SM2")
    case = db.session.get(Case, first.case_id)
    db.session.refresh(case)
    assert case.version == version + 1
    assert case.updated_at >= case.created_at


def test_waiting_case_change_is_on_the_timeline_before_the_message(app_ctx):
    first = receive(channel="sms", address=SENDER, body="one", external_id="SM1")
    first.case.status = "waiting"
    db.session.commit()
    receive(channel="sms", address=SENDER, body="two", external_id="SM2")
    kinds = db.session.execute(select(Interaction.kind).order_by(Interaction.id)).scalars()
    assert list(kinds) == ["message_in", "status_change", "message_in"]
    assert db.session.get(Case, first.case_id).status == "in_progress"


def test_name_and_language_are_filled_in_once(app_ctx):
    receive(channel="web", address="web:key-1", body="x", external_id="W1", name="Ivan")
    receive(channel="web", address="web:key-1", body="y", external_id="W2", name="Petr",
            language="uk")
    caller = db.session.execute(select(Caller)).scalar_one()
    assert caller.name == "Ivan" and caller.preferred_language == "uk"
    receive(channel="web", address="web:key-1", body="z", external_id="W3", language="ru")
    db.session.refresh(caller)
    assert caller.preferred_language == "uk"
    assert caller.last_seen <= utcnow()
