"""``flask simulate sms|call``: signed Twilio webhooks against a running server.

``simulate`` sends correctly signed webhook requests (signed with
``TWILIO_AUTH_TOKEN``) to a running server, so the intake can be watched without a
Twilio account. It uses only the standard library.
"""

from __future__ import annotations

import secrets
import urllib.error
import urllib.request
from urllib.parse import urlencode

import click
from flask import current_app
from flask.cli import AppGroup
from twilio.request_validator import RequestValidator

from hotline.intake.signature import SIGNATURE_HEADER

simulate_cli = AppGroup(
    "simulate", help="Send signed webhooks (Twilio, Telegram) to a running server.")

SIMULATE_TIMEOUT_SECONDS = 20
URL_HELP = "The running server (default: http://127.0.0.1:PORT, the port make run serves on)."
HOTLINE_NUMBER = "+15005550006"


def _post(base_url: str, path: str, params: dict[str, str]) -> tuple[int, str]:
    """POST a form signed as Twilio would sign it; (status, body)."""
    token = current_app.config.get("TWILIO_AUTH_TOKEN")
    if not token:
        raise click.ClickException("TWILIO_AUTH_TOKEN is not set; nothing to sign with")
    # The server checks against PUBLIC_BASE_URL when it is set, so sign that URL.
    signed_base = current_app.config.get("PUBLIC_BASE_URL") or base_url.rstrip("/")
    signature = RequestValidator(token).compute_signature(signed_base + path, params)
    request = urllib.request.Request(  # noqa: S310 - the URL scheme is checked by the caller
        base_url.rstrip("/") + path, data=urlencode(params).encode(), method="POST",
        headers={SIGNATURE_HEADER: signature,
                 "Content-Type": "application/x-www-form-urlencoded"},
    )
    try:
        with urllib.request.urlopen(request, timeout=SIMULATE_TIMEOUT_SECONDS) as answer:  # noqa: S310
            return answer.status, answer.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8", "replace")
    except urllib.error.URLError as exc:
        raise click.ClickException(f"cannot reach {base_url}: {exc.reason}") from exc


def _check_url(url: str | None) -> str:
    if url is None:
        return f"http://127.0.0.1:{current_app.config['PORT']}"
    if not url.startswith(("http://", "https://")):
        raise click.BadParameter("must start with http:// or https://", param_hint="--url")
    return url


def _show(path: str, status: int, body: str) -> None:
    click.echo(f"POST {path} -> {status}")
    if body.strip():
        click.echo(body.strip())


def _sid(prefix: str) -> str:
    return prefix + secrets.token_hex(16)


@simulate_cli.command("sms")
@click.option("--from", "sender", required=True, help="+7… or whatsapp:+7…")
@click.option("--body", required=True)
@click.option("--to", default=HOTLINE_NUMBER, show_default=True)
@click.option("--url", default=None, help=URL_HELP)
def simulate_sms(sender: str, body: str, to: str, url: str | None) -> None:
    """Send one inbound SMS (or WhatsApp message) as Twilio would."""
    url = _check_url(url)
    params = {"MessageSid": _sid("SM"), "AccountSid": _sid("AC"), "From": sender, "To": to,
              "Body": body, "NumMedia": "0"}
    _show("/twilio/sms", *_post(url, "/twilio/sms", params))


@simulate_cli.command("call")
@click.option("--from", "sender", required=True)
@click.option("--digits", default="1", show_default=True, help="The menu key pressed.")
@click.option("--answered", is_flag=True, help="Pretend a staff member took the call.")
@click.option("--to", default=HOTLINE_NUMBER, show_default=True)
@click.option("--url", default=None, help=URL_HELP)
def simulate_call(sender: str, digits: str, answered: bool, to: str, url: str | None) -> None:
    """Walk one call through the menu, the ringing and the end of the call."""
    url = _check_url(url)
    base = {"CallSid": _sid("CA"), "AccountSid": _sid("AC"), "From": sender, "To": to,
            "Direction": "inbound"}
    steps = [
        ("/twilio/voice", {**base, "CallStatus": "ringing"}),
        ("/twilio/voice/language", {**base, "CallStatus": "in-progress", "Digits": digits}),
        ("/twilio/voice/dial-result", {**base, "CallStatus": "in-progress",
                                       "DialCallStatus": "completed" if answered else "no-answer"}),
        ("/twilio/voice/status", {**base, "CallStatus": "completed", "CallDuration": "42"}),
    ]
    body = ""
    for path, params in steps:
        if path.endswith("/dial-result") and "<Dial" not in body:
            continue  # nobody on duty: the caller went straight to voicemail
        status, body = _post(url, path, params)
        _show(path, status, body)
        if status >= 400:
            raise click.ClickException(f"{path} answered {status}")
