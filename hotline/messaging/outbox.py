"""The outbox: staff replies stored in the request, sent through Twilio outside it.

``queue_reply`` stores a ``message_out`` (delivery status ``queued``, or
``published`` for web cases, which the follow-up page shows) in the current
transaction: **the caller commits**, together with its audit record. The worker
(``flask outbox work`` or, in development, a background thread) then sends it:

1. A message is claimed with one atomic ``UPDATE … WHERE delivery_status='queued'``
   → ``sending``; only the worker whose update hit the row sends it, so two workers
   never send the same message.
2. Opted-out, blocked or number-less callers are never sent to (``not_sent`` with the
   reason); neither is anything when Twilio is not configured.
3. A failed send is retried with exponential backoff up to ``MAX_SEND_ATTEMPTS``;
   Twilio's 4xx refusals (bad number, opted out at Twilio) are not retried.
4. A claim older than ``SENDING_LEASE_SECONDS`` means a worker died mid-send; whether
   Twilio got the message is unknown, so it is marked ``not_sent`` for staff to check
   rather than sent a second time.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import or_, select, update

from hotline.database import rowcount
from hotline.extensions import db
from hotline.intake.webhooks import public_url
from hotline.messaging.delivery import best_recorded, ours
from hotline.models import Case, Interaction, User, utcnow
from hotline.twilio_client import is_configured, twilio_client

log = logging.getLogger(__name__)

MAX_SEND_ATTEMPTS = 5
RETRY_BASE_SECONDS = 30
RETRY_MAX_SECONDS = 3600
SENDING_LEASE_SECONDS = 600
BATCH_SIZE = 50
# Twilio concatenates up to 1600 characters into one SMS; WhatsApp allows more.
REPLY_MAX_CHARS = 1600

NOT_CONFIGURED = "not sent: Twilio is not configured"
NO_SENDER = "not sent: TWILIO_MESSAGING_FROM is not set"
OPTED_OUT = "not sent: the caller opted out (STOP)"
BLOCKED = "not sent: the caller is blocked"
NO_NUMBER = "not sent: the caller has no phone number"
INTERRUPTED = "not sent: interrupted while sending; check before sending again"
OUTBOX_WAKE_KEY = "hotline_outbox_wake"


class OutboxError(ValueError):
    """The reply cannot be queued (empty or too long)."""


def queue_reply(case: Case, body: str, author: User | None) -> Interaction:
    """Store a staff reply on ``case``; the caller commits (see the module docstring).

    Web cases get a ``published`` message on channel ``web``; every other case a
    ``queued`` message on the caller's SMS or WhatsApp channel. Sets
    ``case.first_response_at`` if unset. Raises OutboxError.
    """
    body = (body or "").strip()
    if not body:
        raise OutboxError("the reply is empty")
    if len(body) > REPLY_MAX_CHARS:
        raise OutboxError(f"the reply is longer than {REPLY_MAX_CHARS} characters")
    message = store_outgoing(case, body, author)
    if case.first_response_at is None:
        case.first_response_at = message.created_at
    return message


def store_outgoing(case: Case, body: str, author: User | None,
                   meta: dict | None = None) -> Interaction:
    """Add a ``message_out`` to ``case`` in the current transaction (no commit)."""
    now = utcnow()
    if case.channel == "web":
        channel, status = "web", "published"
    else:
        channel = "whatsapp" if case.caller.address_kind == "whatsapp" else "sms"
        status = "queued"
    message = Interaction(
        case=case, kind="message_out", channel=channel, body=body, meta=dict(meta or {}),
        author_id=author.id if author is not None else None, created_at=now,
        delivery_status=status, send_attempts=0,
    )
    db.session.add(message)
    case.updated_at = now
    db.session.flush()
    if status == "queued":
        db.session.info[OUTBOX_WAKE_KEY] = True
    return message


@dataclass
class OutboxReport:
    """What one pass over the outbox did."""

    sent: int = 0
    retrying: int = 0
    failed: int = 0
    not_sent: int = 0
    interrupted: int = 0

    @property
    def handled(self) -> int:
        return self.sent + self.retrying + self.failed + self.not_sent + self.interrupted


def backoff(attempts: int) -> timedelta:
    """Delay before the next try after ``attempts`` failed ones."""
    return timedelta(seconds=min(RETRY_BASE_SECONDS * 2 ** max(attempts - 1, 0),
                                 RETRY_MAX_SECONDS))


def work_once(now: datetime | None = None, limit: int = BATCH_SIZE) -> OutboxReport:
    """Send every due queued message once; commits after each message."""
    now = now or utcnow()
    report = OutboxReport()
    report.interrupted = _expire_stale_claims(now)
    due = db.session.execute(
        select(Interaction.id).where(
            Interaction.kind == "message_out", Interaction.delivery_status == "queued",
            or_(Interaction.next_attempt_at.is_(None), Interaction.next_attempt_at <= now),
        ).order_by(Interaction.id).limit(limit)
    ).scalars().all()
    db.session.commit()
    for message_id in due:
        if claim(message_id, now):
            outcome = _send(message_id, now)
            setattr(report, outcome, getattr(report, outcome) + 1)
    return report


def claim(message_id: int, now: datetime) -> bool:
    """Atomically move one message from ``queued`` to ``sending``; True if this call won."""
    result = db.session.execute(
        update(Interaction)
        .where(Interaction.id == message_id, Interaction.delivery_status == "queued")
        .values(delivery_status="sending",
                next_attempt_at=now + timedelta(seconds=SENDING_LEASE_SECONDS))
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return rowcount(result) == 1


def _expire_stale_claims(now: datetime) -> int:
    result = db.session.execute(
        update(Interaction)
        .where(Interaction.kind == "message_out", Interaction.delivery_status == "sending",
               Interaction.next_attempt_at < now)
        .values(delivery_status="not_sent", last_error=INTERRUPTED, next_attempt_at=None)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return rowcount(result)


def _refusal(message: Interaction) -> str | None:
    """Why this message must not be sent, or None."""
    caller = message.case.caller
    if caller.opted_out:
        return OPTED_OUT
    if caller.flag == "blocked":
        return BLOCKED
    if caller.address_kind not in ("phone", "whatsapp") or not caller.address:
        return NO_NUMBER
    if not is_configured():
        return NOT_CONFIGURED
    if not current_app.config.get("TWILIO_MESSAGING_FROM"):
        return NO_SENDER
    return None


def _addresses(message: Interaction) -> tuple[str, str]:
    """(to, from) for Twilio, ``whatsapp:``-prefixed on the WhatsApp channel."""
    to = message.case.caller.address or ""
    sender = current_app.config["TWILIO_MESSAGING_FROM"]
    if message.channel == "whatsapp":
        to = "whatsapp:" + to
        if not sender.lower().startswith("whatsapp:"):
            sender = "whatsapp:" + sender
    return to, sender


def _send(message_id: int, now: datetime) -> str:
    message = db.session.get_one(Interaction, message_id, populate_existing=True)
    reason = _refusal(message)
    if reason is not None:
        message.delivery_status = "not_sent"
        message.last_error = reason
        message.next_attempt_at = None
        db.session.commit()
        return "not_sent"
    to, sender = _addresses(message)
    kwargs = {"to": to, "from_": sender, "body": message.body or ""}
    if current_app.config.get("PUBLIC_BASE_URL"):
        kwargs["status_callback"] = public_url("twilio_sms.message_status")
    message.send_attempts = (message.send_attempts or 0) + 1
    try:
        created = twilio_client().messages.create(**kwargs)
    except Exception as exc:  # noqa: BLE001 - any failure of the send is retried or recorded
        return _failed(message, exc, now)
    message.external_id = created.sid
    try:
        first = ours(created.status or "accepted")
    except ValueError:
        first = "accepted"
    message.delivery_status = best_recorded(created.sid, first)
    message.last_error = None
    message.next_attempt_at = None
    db.session.commit()
    return "sent"


def _failed(message: Interaction, exc: Exception, now: datetime) -> str:
    status = getattr(exc, "status", None)
    code = getattr(exc, "code", None)
    # Only numbers and the exception type: Twilio's message may quote the recipient.
    detail = f"Twilio error {code} (HTTP {status})" if status else type(exc).__name__
    permanent = isinstance(status, int) and 400 <= status < 500 and status != 429
    if permanent or message.send_attempts >= MAX_SEND_ATTEMPTS:
        message.delivery_status = "failed"
        message.next_attempt_at = None
        message.last_error = f"failed after {message.send_attempts} attempt(s): {detail}"
        outcome = "failed"
    else:
        message.delivery_status = "queued"
        message.next_attempt_at = now + backoff(message.send_attempts)
        message.last_error = f"attempt {message.send_attempts} failed: {detail}; will retry"
        outcome = "retrying"
    log.warning("outbox message %s: %s", message.id, message.last_error)
    db.session.commit()
    return outcome
