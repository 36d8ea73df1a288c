"""``flask telegram set-webhook|info`` against the fake Bot API, and ``simulate telegram``
against a running server."""

from __future__ import annotations

from sqlalchemy import select

from hotline.extensions import db
from hotline.models import Case, Interaction
from tests.channels.telegram.conftest import BOT_TOKEN, SECRET, sent_requests
from tests.conftest import PUBLIC_BASE_URL


def test_set_webhook_sends_url_secret_and_update_kinds(tg_app, fake_api):
    fake_api.expect_request(f"/bot{BOT_TOKEN}/setWebhook", method="POST").respond_with_json(
        {"ok": True, "result": True, "description": "Webhook was set"})
    result = tg_app.test_cli_runner().invoke(args=["telegram", "set-webhook"])
    assert result.exit_code == 0, result.output
    assert sent_requests(fake_api, "setWebhook") == [{
        "url": PUBLIC_BASE_URL + "/telegram/webhook", "secret_token": SECRET,
        "allowed_updates": ["message", "edited_message"], "drop_pending_updates": False}]
    assert f"webhook set: {PUBLIC_BASE_URL}/telegram/webhook" in result.output
    assert BOT_TOKEN not in result.output and SECRET not in result.output


def test_set_webhook_needs_an_https_public_url(make_app, fake_api):
    app = make_app(TELEGRAM_BOT_TOKEN=BOT_TOKEN, TELEGRAM_WEBHOOK_SECRET=SECRET,
                   TELEGRAM_API_BASE=fake_api.url_for("").rstrip("/"), PUBLIC_BASE_URL=None)
    result = app.test_cli_runner().invoke(args=["telegram", "set-webhook"])
    assert result.exit_code != 0 and "PUBLIC_BASE_URL" in result.output
    assert fake_api.log == []


def test_set_webhook_reports_telegrams_refusal_without_the_token(tg_app, fake_api):
    fake_api.expect_request(f"/bot{BOT_TOKEN}/setWebhook").respond_with_json(
        {"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401)
    result = tg_app.test_cli_runner().invoke(args=["telegram", "set-webhook"])
    assert result.exit_code != 0 and "401 Unauthorized" in result.output
    assert BOT_TOKEN not in result.output


def test_info_prints_the_webhook_state_without_the_token(tg_app, fake_api):
    fake_api.expect_request(f"/bot{BOT_TOKEN}/getWebhookInfo").respond_with_json(
        {"ok": True, "result": {"url": PUBLIC_BASE_URL + "/telegram/webhook",
                                "has_custom_certificate": False, "pending_update_count": 3,
                                "last_error_date": 1767225600,
                                "last_error_message": "Connection timed out",
                                "max_connections": 40,
                                "allowed_updates": ["message", "edited_message"]}})
    result = tg_app.test_cli_runner().invoke(args=["telegram", "info"])
    assert result.exit_code == 0, result.output
    assert "pending_update_count: 3" in result.output
    assert "last_error_date: 2026-01-01 00:00:00 UTC" in result.output
    assert "last_error_message: Connection timed out" in result.output
    assert "run telegram set-webhook" not in result.output
    assert BOT_TOKEN not in result.output and BOT_TOKEN.split(":")[1] not in result.output


def test_commands_without_a_token_say_so(make_app):
    result = make_app().test_cli_runner().invoke(args=["telegram", "info"])
    assert result.exit_code != 0 and "TELEGRAM_BOT_TOKEN is not set" in result.output


def test_simulate_telegram_opens_a_case_on_a_running_server(tg_app, tg_live_server):
    runner = tg_app.test_cli_runner()
    args = ["simulate", "telegram", "--chat-id", "5550001", "--text", "Здравствуйте",
            "--update-id", "777", "--url", tg_live_server]
    first = runner.invoke(args=args)
    assert first.exit_code == 0, first.output
    assert "POST /telegram/webhook -> 200" in first.output
    assert runner.invoke(args=args).exit_code == 0  # the same update again: nothing new
    with tg_app.app_context():
        case = db.session.execute(select(Case)).scalar_one()
        assert case.channel == "telegram" and case.caller.address == "5550001"
        inbound = db.session.execute(select(Interaction).where(
            Interaction.kind == "message_in")).scalars().all()
        assert [i.body for i in inbound] == ["Здравствуйте"]


def test_simulate_against_a_server_with_telegram_off(make_app, live_server, fake_api):
    """live_server serves the default app (no token): the command says what is wrong."""
    app = make_app(TELEGRAM_BOT_TOKEN=BOT_TOKEN, TELEGRAM_WEBHOOK_SECRET=SECRET,
                   TELEGRAM_API_BASE=fake_api.url_for("").rstrip("/"))
    result = app.test_cli_runner().invoke(args=["simulate", "telegram", "--chat-id", "1",
                                                "--text", "x", "--url", live_server])
    assert result.exit_code != 0 and "TELEGRAM_BOT_TOKEN" in result.output
