"""What one SMS intake costs the database: one transaction, one commit, five statements.

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

from sqlalchemy import event, select

from hotline.extensions import db
from hotline.intake.service import receive
from hotline.models import Caller, Case, Interaction, utcnow

SENDER = "+79161234567"
# Idempotency probe, caller upsert, latest case, case insert or update, interaction insert.
STATEMENTS_PER_MESSAGE = 5


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
    assert counts == {"statements": STATEMENTS_PER_MESSAGE, "commits": 1}


def test_repeat_caller_is_one_commit_of_five_statements(app, twilio_post):
    twilio_post("/twilio/sms", sms("SM" + "1" * 32, "Здравствуйте"))
    with counting(app) as counts:
        answer = twilio_post("/twilio/sms", sms("SM" + "2" * 32, "Вы тут?"))
    assert answer.status_code == 200 and "<Message>" not in answer.text
    assert counts == {"statements": STATEMENTS_PER_MESSAGE, "commits": 1}


def test_retried_delivery_commits_nothing(app, twilio_post):
    params = sms("SM" + "3" * 32, "Привет")
    first = twilio_post("/twilio/sms", params)
    with counting(app) as counts:
        again = twilio_post("/twilio/sms", params)
    assert again.text == first.text
    assert counts["commits"] == 0


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
