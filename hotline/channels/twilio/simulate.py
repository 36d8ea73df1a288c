"""``flask simulate sms|call|call-back``: signed Twilio webhooks against a running server.

``simulate`` sends correctly signed webhook requests (signed with
``TWILIO_AUTH_TOKEN``) to a running server, so the intake can be watched without a
Twilio account. It uses only the standard library; ``call-back`` also plays Twilio's
REST API for the line's legs (``PlayedTwilio``), printing each request with its
numbers masked.
"""

from __future__ import annotations

import json
import logging
import secrets
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import func, select
from twilio.http import HttpClient
from twilio.http.response import Response as TwilioResponse
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from hotline.cases import queries
from hotline.channels.twilio import calls, dialer
from hotline.crypto import mask_number
from hotline.extensions import db
from hotline.intake.signature import SIGNATURE_HEADER
from hotline.models import CallLeg, Interaction, User
from hotline.twilio_client import is_configured

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


class PlayedTwilio(HttpClient):
    """Twilio's REST API as ``simulate call-back`` plays it: every request is printed
    (numbers masked) and answered with a fresh CallSid."""

    def __init__(self) -> None:
        super().__init__(logging.getLogger("hotline.simulate"), is_async=False)

    def request(self, method: str, uri: str, params: Any = None, data: Any = None,
                headers: Any = None, auth: Any = None, timeout: Any = None,
                allow_redirects: bool = False) -> TwilioResponse:
        """Print the request and answer it like Twilio."""
        fields = dict(data or {})
        shown = {key: mask_number(value) if key in ("To", "From") else value
                 for key, value in fields.items() if key != "Twiml"}
        click.echo(f"Twilio REST {method} {urlsplit(uri).path.split('/Accounts/')[-1]} {shown}")
        if "Twiml" in fields:
            click.echo(f"  TwiML: {fields['Twiml']}")
        sid = _sid("CA")
        return TwilioResponse(201, json.dumps({"sid": sid, "call_sid": sid, "status": "queued"}))


@dataclass(frozen=True)
class _Leg:
    id: int
    role: str
    call_sid: str | None
    error: str | None


def _leg_of(entry_id: int, role: str) -> _Leg:
    """The entry's newest leg of ``role``, read in a transaction ended at once (the
    server writes the same database meanwhile)."""
    db.session.expire_all()
    leg = db.session.execute(
        select(CallLeg).where(CallLeg.interaction_id == entry_id, CallLeg.role == role)
        .order_by(CallLeg.id.desc())).scalars().first()
    found = _Leg(leg.id, leg.role, leg.call_sid, leg.error) if leg is not None else None
    db.session.rollback()
    if found is None:
        raise click.ClickException(f"the server queued no {role} leg")
    return found


@simulate_cli.command("call-back")
@click.option("--case", "reference", required=True, help="The case whose caller is called.")
@click.option("--staff", "email", required=True,
              help="E-mail of the staff member calling back (their roster phone rings first).")
@click.option("--caller-answers/--caller-does-not-answer", default=True, show_default=True)
@click.option("--url", default=None, help=URL_HELP)
def simulate_call_back(reference: str, email: str, caller_answers: bool, url: str | None
                       ) -> None:
    """Walk one call-back through the line: ring staff, press 1, ring the caller, hang up.

    This command plays Twilio: it places each leg itself (printing the REST request,
    numbers masked) and sends Twilio's signed webhooks to the running server, which
    answers them and writes the case's timeline. Run it against a server without a
    Twilio account, whose worker then leaves the legs to this command.
    """
    url = _check_url(url)
    if is_configured():
        raise click.ClickException("TWILIO_ACCOUNT_SID is set: the server's worker would "
                                   "place real calls; simulate against a server without it")
    case = queries.find_case(reference)
    staff = db.session.execute(
        select(User).where(func.lower(User.email) == email.strip().lower())
    ).scalar_one_or_none()
    if case is None or staff is None:
        raise click.ClickException("no such case" if case is None else "no such staff member")
    if case.contact_ok is False:
        raise click.ClickException("the caller said it is not safe to contact them; "
                                   "call back from the case page, which asks to confirm")
    refusal = calls.call_back_refusal(case, staff, check_line=False)
    if refusal is not None:
        raise click.ClickException(refusal)
    current_app.config["TWILIO_VOICE_FROM"] = (current_app.config.get("TWILIO_VOICE_FROM")
                                               or HOTLINE_NUMBER)
    entry_id = calls.start_call_back(case, staff).id
    shown_reference = case.display_reference
    db.session.commit()
    played = Client("AC" + "0" * 32, "simulated", http_client=PlayedTwilio())

    def place(role: str) -> _Leg:
        leg = _leg_of(entry_id, role)
        with current_app.test_request_context(base_url=url):
            dialer.place_now(leg.id, played)
        db.session.rollback()
        return _leg_of(entry_id, role)

    def report(leg: _Leg, status: str, **extra: str) -> None:
        path = f"/twilio/voice/leg-status?leg={leg.id}"
        params = {"CallSid": leg.call_sid or "", "CallStatus": status,
                  "AccountSid": "AC" + "0" * 32, **extra}
        answer, body = _post(url, path, params)
        _show(f"{path} ({leg.role} {status})", answer, body)
        if answer >= 400:
            raise click.ClickException(f"{path} answered {answer}")

    staff_leg = place("staff")
    if staff_leg.call_sid is None:
        raise click.ClickException(f"the staff leg was not placed: {staff_leg.error}")
    for status in ("ringing", "in-progress"):
        report(staff_leg, status)
    path = f"/twilio/voice/screen?leg={staff_leg.id}"
    _show(path + " (pressed 1)", *_post(url, path, {"CallSid": staff_leg.call_sid,
                                                    "Digits": "1"}))
    caller_leg = place("caller")
    if caller_leg.call_sid is None:
        raise click.ClickException(f"the caller's leg was not placed: {caller_leg.error}")
    report(caller_leg, "ringing")
    if caller_answers:
        report(caller_leg, "in-progress")
        report(caller_leg, "completed", CallDuration="42")
    else:
        report(caller_leg, "no-answer")
    report(staff_leg, "completed", CallDuration="50")
    db.session.expire_all()
    outcome = (db.session.get_one(Interaction, entry_id).meta or {}).get("outcome")
    db.session.rollback()
    click.echo(f"call-back on {shown_reference}: {outcome}")
