"""The outbox's sender for SMS and WhatsApp: Twilio's Messages API.

Twilio's 4xx refusals (a bad number, a recipient who opted out at Twilio) are final; any
other failure (5xx, 429, the network) is retried by the outbox's backoff. The delivery
status then moves on with Twilio's status callbacks (``messaging.delivery``).
"""

from __future__ import annotations

from flask import current_app

from hotline.intake.webhooks import public_url
from hotline.messaging.delivery import best_recorded, ours
from hotline.messaging.senders import FAILED, RETRY, SENT, Outcome
from hotline.models import Interaction
from hotline.twilio_client import is_configured, twilio_client

NOT_CONFIGURED = "not sent: Twilio is not configured"
NO_SENDER = "not sent: TWILIO_MESSAGING_FROM is not set"


class TwilioSender:
    """SMS and WhatsApp replies through Twilio."""

    def refusal(self, message: Interaction) -> str | None:
        """Twilio credentials and a sender number are needed."""
        if not is_configured():
            return NOT_CONFIGURED
        if not current_app.config.get("TWILIO_MESSAGING_FROM"):
            return NO_SENDER
        return None

    def send(self, message: Interaction) -> Outcome:
        """One ``messages.create``; its first status advanced by callbacks already in."""
        to, sender = _addresses(message)
        kwargs = {"to": to, "from_": sender, "body": message.body or ""}
        if current_app.config.get("PUBLIC_BASE_URL"):
            kwargs["status_callback"] = public_url("twilio_sms.message_status")
        try:
            created = twilio_client().messages.create(**kwargs)
        except Exception as exc:
            return _failure(exc)
        try:
            first = ours(created.status or "accepted")
        except ValueError:
            first = "accepted"
        return Outcome(SENT, external_id=created.sid,
                       delivery_status=best_recorded(created.sid, first))


def _addresses(message: Interaction) -> tuple[str, str]:
    """(to, from) for Twilio, ``whatsapp:``-prefixed on the WhatsApp channel."""
    to = message.case.caller.address or ""
    sender = current_app.config["TWILIO_MESSAGING_FROM"]
    if message.channel == "whatsapp":
        to = "whatsapp:" + to
        if not sender.lower().startswith("whatsapp:"):
            sender = "whatsapp:" + sender
    return to, sender


def _failure(exc: Exception) -> Outcome:
    status = getattr(exc, "status", None)
    code = getattr(exc, "code", None)
    # Only numbers and the exception type: Twilio's message may quote the recipient.
    detail = f"Twilio error {code} (HTTP {status})" if status else type(exc).__name__
    permanent = isinstance(status, int) and 400 <= status < 500 and status != 429
    return Outcome(FAILED if permanent else RETRY, detail=detail)
