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


def test_simulate_call_back_plays_twilio_against_a_running_server(app, live_server,
                                                                  make_user):
    from tests.dashboard_support import make_case

    make_user("staff", email="olena@hotline.test", phone="+380501112233", languages="ru")
    case = make_case(app, address="+79161234567", channel="voice", callback_needed=True)
    result = app.test_cli_runner().invoke(args=[
        "simulate", "call-back", "--case", case["reference"], "--staff", "olena@hotline.test",
        "--url", live_server])
    assert result.exit_code == 0, result.output
    assert "Calls.json" in result.output and "Participants.json" in result.output
    assert "(pressed 1) -> 200" in result.output and "<Conference" in result.output
    assert f"call-back on {case['reference']}: reached" in result.output
    # The numbers are masked in what it prints.
    assert "+79161234567" not in result.output and "+380501112233" not in result.output
    with app.app_context():
        stored = db.session.get(Case, case["id"])
        assert not stored.callback_needed
        entry = db.session.execute(
            select(Interaction).where(Interaction.kind == "callback")).scalar_one()
        assert entry.meta["outcome"] == "reached" and entry.meta["duration"] == 42


def test_simulate_call_back_refuses_an_unknown_case(app):
    result = app.test_cli_runner().invoke(args=[
        "simulate", "call-back", "--case", "AAAA-AAAA", "--staff", "x@y.z"])
    assert result.exit_code != 0 and "no such case" in result.output
