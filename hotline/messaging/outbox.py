"""The outbox: staff replies stored in the request, sent by each channel's sender outside it.

``queue_reply`` stores a ``message_out`` (delivery status ``queued``, or
``published`` for web cases, which the follow-up page shows) in the current
transaction: **the caller commits**, together with its audit record. The worker
(``flask outbox work`` or, in development, a background thread) then sends it, through
the sender of its channel (``messaging.senders``: Twilio for SMS and WhatsApp, the Bot
API for Telegram), in one flow for every channel:

1. A message is claimed with one atomic ``UPDATE … WHERE delivery_status='queued'``
   → ``sending``; only the worker whose update hit the row sends it, so two workers
   never send the same message.
2. Opted-out, blocked or unreachable callers are never sent to (``not_sent`` with the
   reason); neither is anything on a channel whose provider is not configured.
3. The attempt is counted and committed *before* the provider is called, so a crash
   mid-send still shows that a send was tried.
4. The sender's ``Outcome`` is recorded: ``sent`` (the provider's id and first status);
   ``retry`` (again after the provider's ``retry_after`` or exponential backoff, up to
   ``MAX_SEND_ATTEMPTS``); ``failed`` (the provider refused; a caller who blocked us is
   marked opted out); ``unknown`` (the provider may have the message: it is never sent
   again by itself, staff see why).
5. A claim older than ``SENDING_LEASE_SECONDS`` means a worker died mid-send; whether
   the provider got the message is unknown, so it is marked ``not_sent`` for staff to
   check rather than sent a second time.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError

from hotline.cases.timeline import MessageOutMeta, message_out_meta
from hotline.database import rowcount
from hotline.extensions import db
from hotline.messaging import senders
from hotline.models import Case, Interaction, User, utcnow

log = logging.getLogger(__name__)

MAX_SEND_ATTEMPTS = 5
RETRY_BASE_SECONDS = 30
RETRY_MAX_SECONDS = 3600
SENDING_LEASE_SECONDS = 600
BATCH_SIZE = 50
# Twilio concatenates up to 1600 characters into one SMS; WhatsApp and Telegram (4096)
# allow more; one limit for every channel keeps a reply sendable wherever the caller is.
REPLY_MAX_CHARS = 1600

OPTED_OUT = "not sent: the caller opted out (STOP)"
BLOCKED = "not sent: the caller is blocked"
NO_NUMBER = "not sent: the caller cannot be reached on this channel"
INTERRUPTED = "not sent: interrupted while sending; check before sending again"
UNKNOWN_RESULT = "check with the caller before sending again"
OUTBOX_WAKE_KEY = "hotline_outbox_wake"
# The opt-out keyword recorded when a provider says the caller blocked us.
BLOCKED_KEYWORD = "BLOCKED"


class OutboxError(ValueError):
    """The reply cannot be queued (empty or too long)."""


def queue_reply(case: Case, body: str, author: User | None) -> Interaction:
    """Store a staff reply on ``case``; the caller commits (see the module docstring).

    Web cases get a ``published`` message on channel ``web``; every other case a
    ``queued`` message on the caller's channel (SMS, WhatsApp or Telegram). Sets
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
                   meta: MessageOutMeta | None = None) -> Interaction:
    """Add a ``message_out`` to ``case`` in the current transaction (no commit).

    ``meta`` comes from ``timeline.message_out_meta`` (a plain reply when omitted).
    """
    now = utcnow()
    if case.channel == "web":
        channel, status = "web", "published"
    else:
        channel = senders.reply_channel(case.caller.address_kind) or "sms"
        status = "queued"
    message = Interaction(
        case=case, kind="message_out", channel=channel, body=body,
        meta=dict(meta if meta is not None else message_out_meta()),
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


def _refusal(message: Interaction, sender: senders.Sender | None) -> str | None:
    """Why this message must not be sent, or None."""
    caller = message.case.caller
    if caller.opted_out:
        return OPTED_OUT
    if caller.flag == "blocked":
        return BLOCKED
    if (sender is None or senders.reply_channel(caller.address_kind) != message.channel
            or not caller.address):
        return NO_NUMBER
    return sender.refusal(message)


def _send(message_id: int, now: datetime) -> str:
    message = db.session.get_one(Interaction, message_id, populate_existing=True)
    sender = senders.sender_for(message.channel)
    reason = _refusal(message, sender)
    if reason is not None or sender is None:
        message.delivery_status = "not_sent"
        message.last_error = reason or NO_NUMBER
        message.next_attempt_at = None
        db.session.commit()
        return "not_sent"
    # Recorded before the provider is called (see the module docstring, step 3).
    message.send_attempts = (message.send_attempts or 0) + 1
    db.session.commit()
    outcome = sender.send(message)
    return _record(message, outcome, now)


def _record(message: Interaction, outcome: senders.Outcome, now: datetime) -> str:
    """Write what the send came to; commits. Returns the report's counter name."""
    if outcome.result == senders.SENT:
        message.external_id = outcome.external_id
        message.delivery_status = outcome.delivery_status
        message.last_error = None
        message.next_attempt_at = None
        result = "sent"
    elif outcome.result == senders.UNKNOWN:
        message.delivery_status = "unknown"
        message.next_attempt_at = None
        message.last_error = _short(f"{outcome.detail}; {UNKNOWN_RESULT}")
        result = "interrupted"
    elif outcome.result == senders.RETRY and message.send_attempts < MAX_SEND_ATTEMPTS:
        message.delivery_status = "queued"
        wait = backoff(message.send_attempts)
        if outcome.retry_after is not None:
            wait = timedelta(seconds=min(max(outcome.retry_after, 1), RETRY_MAX_SECONDS))
        message.next_attempt_at = now + wait
        message.last_error = _short(
            f"attempt {message.send_attempts} failed: {outcome.detail}; will retry")
        result = "retrying"
    else:
        message.delivery_status = "failed"
        message.next_attempt_at = None
        message.last_error = _short(
            f"failed after {message.send_attempts} attempt(s): {outcome.detail}")
        if outcome.opted_out:
            _mark_opted_out(message.case.caller)
        result = "failed"
    if result != "sent":
        log.warning("outbox message %s: %s", message.id, result)
    try:
        db.session.commit()
    except IntegrityError:
        # The provider's id is already on another message (a provider that repeats ids):
        # the send happened all the same, so record it without the id.
        db.session.rollback()
        message = db.session.get_one(Interaction, message.id, populate_existing=True)
        message.delivery_status, message.last_error = outcome.delivery_status, None
        message.next_attempt_at = None
        db.session.commit()
    return result


def _mark_opted_out(caller) -> None:
    if not caller.opted_out:
        caller.opted_out = True
        caller.opted_out_at = utcnow()
        caller.opt_out_keyword = BLOCKED_KEYWORD


def _short(text: str) -> str:
    """Fits ``Interaction.last_error``."""
    return text if len(text) <= LAST_ERROR_MAX else text[:LAST_ERROR_MAX - 1] + "…"


LAST_ERROR_MAX = 255
