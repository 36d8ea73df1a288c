"""``flask simulate sms|call`` send correctly signed requests to a running server."""

from __future__ import annotations

from sqlalchemy import select

from hotline.extensions import db
from hotline.models import Case, Interaction


def test_simulate_sms_reaches_a_running_server(app, live_server):
    result = app.test_cli_runner().invoke(args=[
        "simulate", "sms", "--from", "+380501234567", "--body", "Допоможіть", "--url", live_server])
    assert result.exit_code == 0, result.output
    assert "POST /twilio/sms -> 200" in result.output and "<Message>" in result.output
    with app.app_context():
        case = db.session.execute(select(Case)).scalar_one()
        assert case.channel == "sms" and case.language == "uk"


def test_simulate_whatsapp(app, live_server):
    result = app.test_cli_runner().invoke(args=[
        "simulate", "sms", "--from", "whatsapp:+79161234567", "--body", "hi", "--url", live_server])
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert db.session.execute(select(Case)).scalar_one().channel == "whatsapp"


def test_simulate_call_walks_the_ivr(app, live_server, make_user):
    make_user(on_duty=True, phone="+447700900001", languages="ru")
    result = app.test_cli_runner().invoke(args=[
        "simulate", "call", "--from", "+79161234567", "--digits", "2", "--url", live_server])
    assert result.exit_code == 0, result.output
    assert "<Dial" in result.output and "POST /twilio/voice/status -> 204" in result.output
    with app.app_context():
        case = db.session.execute(select(Case)).scalar_one()
        assert case.language == "ru" and case.callback_needed  # nobody answered
        assert [i.kind for i in db.session.execute(select(Interaction)).scalars()] == ["call"]


def test_simulate_refuses_a_bad_url(app):
    result = app.test_cli_runner().invoke(args=[
        "simulate", "sms", "--from", "+79161234567", "--body", "x", "--url", "ftp://x"])
    assert result.exit_code != 0
