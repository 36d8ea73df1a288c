"""``flask telegram set-webhook|info`` and ``flask simulate telegram``.

``set-webhook`` tells Telegram where to deliver updates: ``PUBLIC_BASE_URL`` +
``/telegram/webhook``, with the secret it must send back in every request and only the
update kinds Hotline takes in; updates Telegram holds already are kept
(``drop_pending_updates=false``: a message sent while the webhook was being changed is
still delivered). ``info`` prints ``getWebhookInfo``. Neither ever prints the bot token.

``simulate telegram`` posts a correctly formed update, with the secret header, to a
running server, like ``simulate sms`` does for Twilio.
"""

from __future__ import annotations

import json
import secrets
import time
import urllib.error
import urllib.request
from typing import Any

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext

from hotline.channels.telegram import api
from hotline.channels.telegram.updates import MESSAGE_KEYS
from hotline.channels.telegram.webhook import SECRET_HEADER
from hotline.intake.webhooks import public_url

telegram_cli = AppGroup("telegram", help="Set up the Telegram bot's webhook.")

ALLOWED_UPDATES = list(MESSAGE_KEYS)
SIMULATE_TIMEOUT_SECONDS = 20
INFO_FIELDS = ("url", "pending_update_count", "last_error_date", "last_error_message",
               "last_synchronization_error_date", "max_connections", "allowed_updates",
               "ip_address", "has_custom_certificate")


def set_webhook_params() -> dict[str, Any]:
    """The ``setWebhook`` parameters of this deployment; ClickException when incomplete."""
    base = current_app.config.get("PUBLIC_BASE_URL")
    if not base or not base.startswith("https://"):
        raise click.ClickException("PUBLIC_BASE_URL must be set to the https origin "
                                   "Telegram can reach (Telegram calls only https URLs)")
    secret = current_app.config.get("TELEGRAM_WEBHOOK_SECRET")
    if not secret:
        raise click.ClickException("TELEGRAM_WEBHOOK_SECRET is not set")
    return {"url": public_url("telegram.webhook"), "secret_token": secret,
            "allowed_updates": ALLOWED_UPDATES, "drop_pending_updates": False}


def _call(method: str, params: dict[str, Any] | None = None) -> Any:
    if not api.is_configured():
        raise click.ClickException("TELEGRAM_BOT_TOKEN is not set")
    try:
        return api.call(method, params)
    except api.TelegramRefused as exc:
        raise click.ClickException(f"Telegram refused {method}: {exc.error_code} "
                                   f"{exc.description}") from None
    except api.TelegramError as exc:
        raise click.ClickException(f"Telegram could not be reached for {method} "
                                   f"({exc})") from None


@telegram_cli.command("set-webhook")
def set_webhook() -> None:
    """Point the bot's webhook at this server (PUBLIC_BASE_URL + /telegram/webhook)."""
    params = set_webhook_params()
    _call("setWebhook", params)
    click.echo(f"webhook set: {params['url']} (updates: {', '.join(ALLOWED_UPDATES)}; "
               "pending updates kept)")


@telegram_cli.command("info")
def info() -> None:
    """Show what Telegram knows of the webhook (getWebhookInfo), without the token."""
    result = _call("getWebhookInfo") or {}
    for name in INFO_FIELDS:
        if name in result:
            value = result[name]
            if name.endswith("_date") and isinstance(value, int):
                value = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(value))
            click.echo(f"{name}: {value}")
    expected = public_url("telegram.webhook") if current_app.config.get(
        "PUBLIC_BASE_URL") else None
    if expected and result.get("url") != expected:
        click.echo(f"note: this server expects {expected}; run telegram set-webhook")


def update_json(chat_id: int, text: str, *, update_id: int | None = None,
                language_code: str | None = None) -> dict[str, Any]:
    """A private-chat text message as Telegram would deliver it.

    A given ``update_id`` also fixes the message id, so sending it twice is a redelivery.
    """
    update_id = update_id if update_id is not None else secrets.randbelow(2 ** 31)
    sender: dict[str, Any] = {"id": chat_id, "is_bot": False, "first_name": "Simulated"}
    if language_code:
        sender["language_code"] = language_code
    return {"update_id": update_id, "message": {
        "message_id": update_id % 2 ** 31 + 1, "date": int(time.time()),
        "chat": {"id": chat_id, "type": "private", "first_name": "Simulated"},
        "from": sender, "text": text}}


@click.command("telegram")
@with_appcontext
@click.option("--chat-id", type=click.IntRange(min=1), required=True,
              help="The caller's private chat id (any positive number).")
@click.option("--text", required=True)
@click.option("--language-code", default=None, help="The caller's app language, e.g. ru.")
@click.option("--update-id", type=click.IntRange(min=0), default=None,
              help="Repeat one to see a redelivery change nothing (default: random).")
@click.option("--url", default=None, help="The running server (default: http://127.0.0.1:PORT).")
def simulate_telegram(chat_id: int, text: str, language_code: str | None,
                      update_id: int | None, url: str | None) -> None:
    """Send one Telegram message to a running server, as Telegram would."""
    if url is None:
        url = f"http://127.0.0.1:{current_app.config['PORT']}"
    if not url.startswith(("http://", "https://")):
        raise click.BadParameter("must start with http:// or https://", param_hint="--url")
    secret = current_app.config.get("TELEGRAM_WEBHOOK_SECRET")
    if not secret:
        raise click.ClickException("TELEGRAM_WEBHOOK_SECRET is not set (with "
                                   "TELEGRAM_BOT_TOKEN set, local runs generate one)")
    body = json.dumps(update_json(chat_id, text, update_id=update_id,
                                  language_code=language_code)).encode()
    path = "/telegram/webhook"
    request = urllib.request.Request(  # noqa: S310 - the scheme is checked above
        url.rstrip("/") + path, data=body, method="POST",
        headers={SECRET_HEADER: secret, "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=SIMULATE_TIMEOUT_SECONDS) as answer:  # noqa: S310
            status = answer.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    except urllib.error.URLError as exc:
        raise click.ClickException(f"cannot reach {url}: {exc.reason}") from exc
    click.echo(f"POST {path} -> {status}")
    if status == 404:
        raise click.ClickException("the server has the Telegram channel off: set "
                                   "TELEGRAM_BOT_TOKEN for it")
    if status >= 400:
        raise click.ClickException(f"{path} answered {status}")
