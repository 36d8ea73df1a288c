"""The outbox's sender for SMS and WhatsApp: Twilio's Messages API.

Twilio's 4xx refusals (a bad number, a recipient who opted out at Twilio) are final, said
in words (``message_errors``); a connection that never reached Twilio, 5xx and 429 are
retried by the outbox's backoff; a timeout after the request left is ``unknown`` (Twilio
may have accepted it), and ``find_sent`` looks it up in Twilio's message list (same
recipient, sender and text, created since the attempt) instead of sending it again.
The delivery status then moves on with Twilio's status callbacks (``messaging.delivery``).
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import requests
from flask import current_app

from hotline.channels.twilio.message_errors import OPTED_OUT_CODES, words
from hotline.intake.webhooks import public_url
from hotline.messaging.delivery import best_recorded, ours
from hotline.messaging.senders import FAILED, RETRY, SENT, UNKNOWN, Lookup, Outcome
from hotline.models import Interaction
from hotline.twilio_client import is_configured, twilio_client

NOT_CONFIGURED = "not sent: Twilio is not configured"
NO_SENDER = "not sent: TWILIO_MESSAGING_FROM is not set"
# How many of the recipient's latest messages a lookup reads, and the clock skew allowed.
LOOKUP_LIMIT = 20
LOOKUP_SKEW = timedelta(minutes=2)


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
        meta = message.meta or {}
        kwargs: dict[str, Any] = {"to": to, "from_": sender}
        if meta.get("content_sid"):
            # An approved WhatsApp template: Twilio renders it from the Content SID.
            kwargs["content_sid"] = meta["content_sid"]
            kwargs["content_variables"] = json.dumps(meta.get("content_variables") or {})
        else:
            kwargs["body"] = message.body or ""
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

    def find_sent(self, message: Interaction) -> Lookup:
        """Twilio's latest messages from the line to the caller, matched on the text."""
        if self.refusal(message) is not None or (message.meta or {}).get("content_sid"):
            # A template's text is Twilio's rendering: nothing to match it on.
            return Lookup(checked=False)
        to, sender = _addresses(message)
        try:
            found = twilio_client().messages.list(to=to, from_=sender, limit=LOOKUP_LIMIT)
        except Exception:
            return Lookup(checked=False)
        since = message.created_at - LOOKUP_SKEW
        for item in found:
            created = item.date_created
            if item.body == (message.body or "") and (created is None or created >= since):
                try:
                    status = ours(item.status or "accepted")
                except ValueError:
                    status = "accepted"
                return Lookup(checked=True, outcome=Outcome(
                    SENT, external_id=item.sid,
                    delivery_status=best_recorded(item.sid, status)))
        return Lookup(checked=True)


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
    if isinstance(exc, requests.Timeout) and not isinstance(exc, requests.ConnectTimeout):
        # The request left: Twilio may have the message, so it must not be sent again.
        return Outcome(UNKNOWN, detail="no answer from Twilio in time")
    status = getattr(exc, "status", None)
    code = getattr(exc, "code", None)
    # Only numbers, words and the exception type: Twilio's message may quote the recipient.
    if not status:
        return Outcome(RETRY, detail=type(exc).__name__)
    permanent = isinstance(status, int) and 400 <= status < 500 and status != 429
    detail = (f"{words(code)}, HTTP {status}" if permanent
              else f"Twilio error {code} (HTTP {status})")
    return Outcome(FAILED if permanent else RETRY, detail=detail,
                   opted_out=permanent and code in OPTED_OUT_CODES)
