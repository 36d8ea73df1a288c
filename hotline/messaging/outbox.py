"""The outbox: staff replies stored in the request, sent by each channel's sender outside it.

``store_outgoing`` stores a ``message_out`` (delivery status ``queued``, or
``published`` for web cases, which the follow-up page shows) in the current
transaction: **the caller commits**, together with its audit record. The outbox stores
and sends; whether a reply may be sent, and what counts as a response, is the reply
policy's (``cases.reply_policy``). The worker
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

from hotline.cases import reply_policy
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
# A send whose outcome is unknown is looked up at the provider this long after.
UNKNOWN_CHECK_SECONDS = 60
NO_NUMBER = reply_policy.NO_NUMBER
NOT_FOUND = ("the provider has no such message, so it did not leave: "
             "Retry sends it once")
FOUND = "found at the provider after a timeout: it left once"
INTERRUPTED = "not sent: interrupted while sending; check before sending again"
UNKNOWN_RESULT = "check with the caller before sending again"
OUTBOX_WAKE_KEY = "hotline_outbox_wake"
# The opt-out keyword recorded when a provider says the caller blocked us.
BLOCKED_KEYWORD = "BLOCKED"


def store_outgoing(case: Case, body: str, author: User | None,
                   meta: MessageOutMeta | None = None) -> Interaction:
    """Add a ``message_out`` to ``case`` in the current transaction (no commit).

    Web cases get a ``published`` message on channel ``web`` (it left: the follow-up page
    shows it), every other case a ``queued`` one on the caller's channel. ``meta`` comes
    from ``timeline.message_out_meta`` (a plain reply when omitted). Whether it may be
    sent at all is the reply policy's question (``cases.reply_policy``), asked before.
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
    else:
        reply_policy.reply_left(message, now)
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
    check_unknown(now)
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
    stale = db.session.execute(
        select(Interaction.id, Interaction.case_id)
        .where(Interaction.kind == "message_out", Interaction.delivery_status == "sending",
               Interaction.next_attempt_at < now)
    ).all()
    expired = 0
    for message_id, case_id in stale:
        # Unknown, not failed: the provider may have it, so it is looked up, not resent.
        result = db.session.execute(
            update(Interaction)
            .where(Interaction.id == message_id, Interaction.delivery_status == "sending")
            .values(delivery_status="unknown", last_error=INTERRUPTED, next_attempt_at=now)
            .execution_options(synchronize_session=False)
        )
        expired += rowcount(result)
        reply_policy.refresh_alert(case_id)
    db.session.commit()
    return expired


def _refusal(message: Interaction, sender: senders.Sender | None) -> str | None:
    """Why this message must not be sent, or None."""
    caller = message.case.caller
    reason = reply_policy.send_refusal(caller, message.channel)
    if reason is not None:
        return reason
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
        reply_policy.refresh_alert(message.case_id)
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
        # Looked up at the provider then (``check_unknown``), never simply sent again.
        message.next_attempt_at = now + timedelta(seconds=UNKNOWN_CHECK_SECONDS)
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
        db.session.flush()
    except IntegrityError:
        # The provider's id is already on another message (a provider that repeats ids):
        # the send happened all the same, so record it without the id.
        db.session.rollback()
        message = db.session.get_one(Interaction, message.id, populate_existing=True)
        message.delivery_status, message.last_error = outcome.delivery_status, None
        message.next_attempt_at = None
    _settle(message, now)
    db.session.commit()
    return result


def _settle(message: Interaction, now: datetime) -> None:
    """The policy's consequences of a message's new status: first response, alert."""
    reply_policy.reply_left(message, now)
    reply_policy.refresh_alert(message.case_id)


def check_unknown(now: datetime | None = None, limit: int = BATCH_SIZE) -> int:
    """Look up at the provider each message whose send timed out; commits each.

    Found → recorded as sent (it left once; nothing is sent again). Not found → left
    ``unknown`` with the words that a Retry sends it once. A provider that cannot be
    asked (Telegram) leaves it to staff. Returns how many were found.
    """
    now = now or utcnow()
    due = db.session.execute(
        select(Interaction.id).where(
            Interaction.kind == "message_out", Interaction.delivery_status == "unknown",
            Interaction.next_attempt_at.is_not(None), Interaction.next_attempt_at <= now,
        ).order_by(Interaction.id).limit(limit)
    ).scalars().all()
    found = 0
    for message_id in due:
        message = db.session.get_one(Interaction, message_id, populate_existing=True)
        if look_up(message, now):
            found += 1
        message.next_attempt_at = None
        db.session.commit()
    return found


def look_up(message: Interaction, now: datetime) -> bool:
    """Ask the provider whether ``message`` left after all; records it when it did
    (no commit). False when it has no such message or cannot be asked."""
    sender = senders.sender_for(message.channel)
    lookup = sender.find_sent(message) if sender is not None else senders.CANNOT_TELL
    if lookup.outcome is not None:
        message.external_id = lookup.outcome.external_id
        message.delivery_status = lookup.outcome.delivery_status
        message.last_error = FOUND
        _settle(message, now)
        return True
    if lookup.checked:
        message.last_error = _short(f"{message.last_error or ''}; {NOT_FOUND}".lstrip("; "))
    return False


class RetryRefused(ValueError):
    """The message cannot be sent again (its state or the caller forbids it)."""


def retry(message: Interaction, now: datetime | None = None) -> str:
    """Queue a reply that did not leave for one more send (no commit); the caller audits.

    A message whose outcome is unknown is first looked up at the provider: found, it is
    recorded as sent and nothing is sent again (returns ``"found"``). Otherwise it goes
    back to ``queued`` with a fresh attempt count (returns ``"queued"``). RetryRefused
    when the message left or is on its way, or the caller may not be written to.
    """
    now = now or utcnow()
    if message.kind != "message_out" or message.delivery_status not in reply_policy.PROBLEMS:
        raise RetryRefused("only a reply that did not leave can be sent again")
    reason = reply_policy.send_refusal(message.case.caller, message.channel)
    if reason is not None:
        raise RetryRefused(reason)
    if message.delivery_status == "unknown" and look_up(message, now):
        return "found"
    message.delivery_status = "queued"
    message.send_attempts = 0
    message.next_attempt_at = None
    message.last_error = None
    message.external_id = None
    db.session.flush()
    reply_policy.refresh_alert(message.case_id)
    db.session.info[OUTBOX_WAKE_KEY] = True
    return "queued"


def _mark_opted_out(caller) -> None:
    if not caller.opted_out:
        caller.opted_out = True
        caller.opted_out_at = utcnow()
        caller.opt_out_keyword = BLOCKED_KEYWORD


def _short(text: str) -> str:
    """Fits ``Interaction.last_error``."""
    return text if len(text) <= LAST_ERROR_MAX else text[:LAST_ERROR_MAX - 1] + "…"


LAST_ERROR_MAX = 255
