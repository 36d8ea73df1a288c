"""The outbox: staff replies are stored first and sent outside the request.

A reply is a ``message_out`` interaction on the case's channel. Phone channels wait
as ``queued`` for the sender; web replies are ``published`` at once (the caller reads
them at ``/followup``). The caller (the dashboard action) commits.
"""

from __future__ import annotations

from hotline.extensions import db
from hotline.models import Case, Interaction, User, utcnow


def reply_channel(case: Case) -> str:
    """The channel a reply to ``case`` goes out on."""
    if case.channel == "web":
        return "web"
    return "whatsapp" if case.caller.address_kind == "whatsapp" else "sms"


def queue_reply(case: Case, body: str, author: User) -> Interaction:
    """Store a reply to the caller of ``case`` for sending; returns the interaction."""
    channel = reply_channel(case)
    now = utcnow()
    interaction = Interaction(
        case=case, kind="message_out", channel=channel, body=body, meta={},
        author_id=author.id, created_at=now,
        delivery_status="published" if channel == "web" else "queued",
        next_attempt_at=None if channel == "web" else now,
    )
    db.session.add(interaction)
    if case.first_response_at is None:
        case.first_response_at = now
    return interaction
