"""The reply policy: the one home of the rules for whether, and what, may be sent to a caller.

Staff actions (``cases.actions.reply``) ask it before anything is stored; the outbox
(``messaging.outbox``) only stores and sends, asking ``send_refusal`` again at send time
(the caller may have written STOP meanwhile) and reporting what a send came to through
``reply_left`` and ``refresh_alert``. So the rules live here once:

- a reply is non-empty and at most ``MAX_REPLY_CHARS`` (Twilio concatenates up to 1600
  characters into one SMS; one limit for every channel keeps a reply sendable anywhere);
- nothing goes to a caller who opted out (STOP) or is blocked, or who cannot be reached
  on the case's channel (a web case publishes on the follow-up page instead);
- the case's first response is the first staff reply that actually **left**: a provider
  status in ``LEFT`` (Twilio ``sent`` / ``delivered`` / ``read``, Telegram ``sent``) or a
  follow-up message saved (``published``); queueing counts for nothing, auto-replies
  never count;
- on WhatsApp, free text goes only within 24 hours of the caller's last message
  (``whatsapp_refusal``); outside it only an approved WhatsApp template
  (``TWILIO_WHATSAPP_TEMPLATES``, sent by Content SID) may be sent;
- a staff reply whose status is in ``PROBLEMS`` (failed, undelivered, not sent, unknown)
  raises the case's ``reply_failed`` alert until it is retried or a later reply left.

The stamps are single UPDATEs of ``cases`` without the optimistic lock's version: a
delivery report is no edit of the case and must not refuse the next action of a staff
member who has the page open. The report roll-up's triggers see them like any update.
"""

from __future__ import annotations

from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import select, update

from hotline.channels.twilio import whatsapp
from hotline.extensions import db
from hotline.i18n import N_
from hotline.models import Caller, Case, Interaction

MAX_REPLY_CHARS = 1600
LEFT = frozenset({"sent", "delivered", "read", "published"})
PROBLEMS = frozenset({"failed", "undelivered", "not_sent", "unknown"})

# Stored in English as a reply's ``last_error``; the case page shows them translated.
OPTED_OUT = N_("not sent: the caller opted out (STOP)")
BLOCKED = N_("not sent: the caller is blocked")
NO_NUMBER = N_("not sent: the caller cannot be reached on this channel")


class ReplyRefused(ValueError):
    """The reply may not be sent; the message is safe to show to staff."""


def checked_text(body: str | None) -> str:
    """``body`` stripped; ReplyRefused when it is empty or longer than the limit."""
    text = (body or "").strip()
    if not text:
        raise ReplyRefused(_("the reply is empty"))
    if len(text) > MAX_REPLY_CHARS:
        raise ReplyRefused(_("the reply is longer than %(limit)d characters",
                             limit=MAX_REPLY_CHARS))
    return text


def send_refusal(caller: Caller, channel: str | None) -> str | None:
    """Why nothing may be sent to ``caller`` on ``channel`` now, or None (web: never)."""
    if channel == "web":
        return None
    if caller.opted_out:
        return OPTED_OUT
    if caller.flag == "blocked":
        return BLOCKED
    if not caller.address:
        return NO_NUMBER
    return None


def queue_refusal(case: Case) -> str | None:
    """Why a staff reply must be refused before it is queued, in words, or None."""
    if case.channel == "web":
        return None
    if case.caller.opted_out:
        return _("the caller opted out (STOP): no message can be sent")
    if case.caller.flag == "blocked":
        return _("the caller is blocked: no message can be sent")
    return None


WHATSAPP_CLOSED = N_("The WhatsApp 24-hour window is closed: the caller last wrote more than "
                   "24 hours ago, so WhatsApp accepts only an approved template. Choose a "
                   "WhatsApp template in the list, or wait for the caller to write again.")


def is_whatsapp(case: Case) -> bool:
    """A case whose replies go out on WhatsApp."""
    return case.channel != "web" and case.caller.address_kind == "whatsapp"


def whatsapp_window(case: Case) -> datetime | None:
    """Until when free text may go to this WhatsApp case's caller (None: not WhatsApp or
    the caller never wrote there)."""
    return whatsapp.window_until(case) if is_whatsapp(case) else None


def whatsapp_refusal(case: Case, now: datetime) -> str | None:
    """Why free text may not go to this case now (the window is closed), or None."""
    if not is_whatsapp(case):
        return None
    until = whatsapp_window(case)
    return _(WHATSAPP_CLOSED) if until is None or until <= now else None


def is_staff_reply(message: Interaction) -> bool:
    """A reply a staff member wrote (auto-replies are the line's, not a response)."""
    return not (message.meta or {}).get("auto_reply")


def reply_left(message: Interaction, at: datetime) -> None:
    """``message`` left (its status is in ``LEFT``): stamp the first response if unset."""
    if message.delivery_status not in LEFT or not is_staff_reply(message):
        return
    db.session.execute(
        update(Case).where(Case.id == message.case_id, Case.first_response_at.is_(None))
        .values(first_response_at=at).execution_options(synchronize_session=False))


def has_problem(case_id: int) -> bool:
    """True when a staff reply of the case did not leave and no later reply left."""
    rows = db.session.execute(
        select(Interaction.delivery_status, Interaction.meta)
        .where(Interaction.case_id == case_id, Interaction.kind == "message_out")
        .order_by(Interaction.id.desc())
    ).all()
    for status, meta in rows:
        if (meta or {}).get("auto_reply"):
            continue
        if status in LEFT:
            return False
        if status in PROBLEMS:
            return True
    return False


def refresh_alert(case_id: int) -> bool:
    """Set the case's ``reply_failed`` alert from its replies; returns it."""
    alert = has_problem(case_id)
    db.session.execute(
        update(Case).where(Case.id == case_id, Case.reply_failed.is_not(alert))
        .values(reply_failed=alert).execution_options(synchronize_session=False))
    return alert
