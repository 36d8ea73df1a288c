"""The one intake service: find-or-create caller and case, idempotency, concurrency."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from hotline.extensions import db
from hotline.intake.service import IntakeError, receive
from hotline.models import Caller, Case, Interaction, utcnow

NUMBER = "+79161234567"


def count(model) -> int:
    return db.session.execute(select(func.count()).select_from(model)).scalar_one()


def test_first_message_opens_a_case(app_ctx):
    result = receive(channel="sms", address=NUMBER, body="Помогите", external_id="SM1")
    assert result.created and result.case_opened
    case = result.case
    assert case.status == "new"
    assert case.channel == "sms"
    assert len(case.reference) == 8
    assert result.interaction.body == "Помогите"
    assert (count(Caller), count(Case), count(Interaction)) == (1, 1, 1)


def test_same_external_id_twice_writes_nothing_new(app_ctx):
    first = receive(channel="sms", address=NUMBER, body="one", external_id="SM1")
    again = receive(channel="sms", address=NUMBER, body="one", external_id="SM1")
    assert not again.created
    assert again.case.id == first.case.id
    assert again.interaction.id == first.interaction.id
    assert (count(Caller), count(Case), count(Interaction)) == (1, 1, 1)


def test_messages_from_one_number_thread_into_the_open_case(app_ctx):
    a = receive(channel="sms", address=NUMBER, body="one", external_id="SM1")
    b = receive(channel="sms", address="+7 916 123-45-67", body="two", external_id="SM2")
    assert a.case.id == b.case.id
    assert count(Caller) == 1 and count(Interaction) == 2


def test_whatsapp_and_sms_are_separate_threads(app_ctx):
    sms = receive(channel="sms", address=NUMBER, body="x", external_id="SM1")
    wa = receive(channel="whatsapp", address="whatsapp:" + NUMBER, body="y", external_id="SM2")
    assert sms.case.id != wa.case.id
    assert wa.case.caller.address_kind == "whatsapp"


def test_voice_and_sms_from_one_number_share_the_caller(app_ctx):
    sms = receive(channel="sms", address=NUMBER, body="x", external_id="SM1")
    call = receive(channel="voice", address=NUMBER, body=None, external_id="CA1", kind="call")
    assert call.case.id == sms.case.id


def test_closed_case_reopens_within_the_window(app_ctx):
    first = receive(channel="sms", address=NUMBER, body="one", external_id="SM1").case
    first.status, first.resolution = "closed", "information_provided"
    first.closed_at = utcnow() - timedelta(days=6)
    db.session.commit()
    result = receive(channel="sms", address=NUMBER, body="again", external_id="SM2")
    assert result.case.id == first.id and result.case_reopened
    assert result.case.status == "in_progress"
    assert result.case.closed_at is None and result.case.resolution is None
    kinds = [i.kind for i in result.case.interactions]
    assert "status_change" in kinds


def test_contact_after_the_window_opens_a_new_case_for_the_same_caller(app_ctx):
    first = receive(channel="sms", address=NUMBER, body="one", external_id="SM1").case
    first.status, first.resolution = "closed", "no_contact"
    first.closed_at = utcnow() - timedelta(days=8)
    db.session.commit()
    result = receive(channel="sms", address=NUMBER, body="later", external_id="SM2")
    assert result.case_opened and result.case.id != first.id
    assert result.case.caller_id == first.caller_id


def test_reopen_window_is_configurable(make_app):
    app = make_app(REOPEN_WINDOW_DAYS=1)
    with app.app_context():
        first = receive(channel="sms", address=NUMBER, body="one", external_id="SM1").case
        first.status, first.resolution = "closed", "no_contact"
        first.closed_at = utcnow() - timedelta(days=2)
        db.session.commit()
        assert receive(channel="sms", address=NUMBER, body="x", external_id="SM2").case_opened


def test_waiting_case_returns_to_work_when_the_caller_writes(app_ctx):
    case = receive(channel="sms", address=NUMBER, body="one", external_id="SM1").case
    case.status = "waiting"
    db.session.commit()
    assert receive(channel="sms", address=NUMBER, body="two", external_id="SM2"
                   ).case.status == "in_progress"


@pytest.mark.parametrize("address", ["", "not-a-number", "+1", "client:alice"])
def test_bad_addresses_are_refused(app_ctx, address):
    with pytest.raises(IntakeError):
        receive(channel="sms", address=address, body="x", external_id="SM1")
    assert count(Case) == 0


def test_unknown_channel_is_refused(app_ctx):
    with pytest.raises(IntakeError):
        receive(channel="fax", address=NUMBER, body="x", external_id="SM1")


def test_concurrent_deliveries_from_a_new_number(app):
    """20 simultaneous deliveries: one caller, one open case, 20 interactions."""
    barrier = threading.Barrier(20)
    errors: list[BaseException] = []

    def deliver(n: int) -> None:
        with app.app_context():
            try:
                barrier.wait()
                receive(channel="sms", address=NUMBER, body=f"message {n}",
                        external_id=f"SM{n:032d}")
            except BaseException as exc:
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=deliver, args=(n,)) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with app.app_context():
        assert count(Caller) == 1
        assert count(Case) == 1
        assert count(Interaction) == 20


def test_concurrent_retries_of_one_delivery_store_it_once(app):
    barrier = threading.Barrier(10)
    cases: list[int] = []

    def deliver() -> None:
        with app.app_context():
            barrier.wait()
            cases.append(receive(channel="sms", address=NUMBER, body="same",
                                 external_id="SMsame").case.id)
            db.session.remove()

    threads = [threading.Thread(target=deliver) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(cases) == 10 and len(set(cases)) == 1
    with app.app_context():
        assert count(Interaction) == 1 and count(Case) == 1
