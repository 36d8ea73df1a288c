"""Delivery status of outbound messages: Twilio's callbacks mapped onto ours.

Twilio reports a message's life as a series of statuses that may arrive late,
twice or out of order. Each (MessageSid, status) is recorded once as a
``MessageStatusEvent``; the message's own ``delivery_status`` only ever moves
forward, so a late ``sent`` after ``delivered`` changes nothing.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from hotline.cases import reply_policy
from hotline.channels.twilio.message_errors import words
from hotline.database import rowcount
from hotline.extensions import db
from hotline.models import Interaction, MessageStatusEvent, utcnow

# Twilio's MessageStatus values → our DELIVERY_STATUSES. Twilio's own "queued" and
# "sending" mean Twilio has the message; ours mean it has not left the outbox yet,
# so they must never be written back (the outbox would send again).
TWILIO_STATUSES = {
    "accepted": "accepted",
    "scheduled": "accepted",
    "queued": "accepted",
    "sending": "accepted",
    "sent": "sent",
    "delivered": "delivered",
    "read": "read",
    "undelivered": "undelivered",
    "failed": "failed",
    "canceled": "failed",
    "partially_delivered": "delivered",
}
# Higher ranks win; equal ranks keep the first (a final status never moves back).
RANK = {"queued": 0, "sending": 1, "accepted": 2, "sent": 3, "undelivered": 4, "failed": 4,
        "delivered": 5, "read": 6}
# Outbox states that no Twilio callback may change.
LOCAL_STATUSES = frozenset({"queued", "sending", "not_sent", "published"})


class UnknownStatus(ValueError):
    """Twilio sent a MessageStatus this app does not know."""


def ours(twilio_status: str) -> str:
    """Our delivery status for a Twilio MessageStatus; UnknownStatus otherwise."""
    try:
        return TWILIO_STATUSES[twilio_status.strip().lower()]
    except KeyError as exc:
        raise UnknownStatus(f"unknown MessageStatus {twilio_status!r}") from exc


def advance(current: str | None, new: str) -> str:
    """The status after ``new`` arrives on top of ``current`` (never backwards)."""
    if current is None or RANK.get(new, -1) > RANK.get(current, -1):
        return new
    return current


def best_recorded(message_sid: str, start: str) -> str:
    """``start`` advanced by every status already recorded for ``message_sid``."""
    status = start
    for raw in db.session.execute(
        select(MessageStatusEvent.status).where(MessageStatusEvent.message_sid == message_sid)
    ).scalars():
        if raw in TWILIO_STATUSES:
            status = advance(status, TWILIO_STATUSES[raw])
    return status


def record_status(message_sid: str, twilio_status: str, error_code: str | None) -> bool:
    """Record one status callback and move the message forward (the webhook commits).

    Returns True when this (Sid, status) was new. Raises UnknownStatus.
    """
    raw = twilio_status.strip().lower()
    mapped = ours(raw)
    now = utcnow()
    values = {"message_sid": message_sid, "status": raw, "error_code": error_code,
              "created_at": now}
    table = MessageStatusEvent.__table__
    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    result = db.session.execute(
        insert(table).values(**values).on_conflict_do_nothing(
            index_elements=["message_sid", "status"])
    )
    created = bool(rowcount(result))
    message = db.session.execute(
        select(Interaction).where(Interaction.kind == "message_out",
                                  Interaction.external_id == message_sid)
        .with_for_update().execution_options(populate_existing=True)
    ).scalar_one_or_none()
    if message is not None and message.delivery_status not in LOCAL_STATUSES:
        message.delivery_status = advance(message.delivery_status, mapped)
        if mapped in ("failed", "undelivered") and message.delivery_status == mapped:
            message.last_error = f"{mapped}: {words(error_code)}"
        db.session.flush()
        # Only now, with Twilio's word that it left, does it count as a response.
        reply_policy.reply_left(message, now)
        reply_policy.refresh_alert(message.case_id)
    return created
