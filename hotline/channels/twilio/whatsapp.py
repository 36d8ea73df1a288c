"""WhatsApp's rules for replies: the 24-hour window and the approved templates.

WhatsApp lets a business write freely only within 24 hours of the person's last message
(Twilio refuses later free text with error 63016); outside it only a template approved by
WhatsApp may be sent, by its Content SID. ``TWILIO_WHATSAPP_TEMPLATES`` names them per
language (``name/language=HX…``); the reply policy (``cases.reply_policy``) decides with
``window_until`` whether free text may go.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask import current_app
from sqlalchemy import func, select

from hotline.extensions import db
from hotline.models import Case, Interaction

WINDOW = timedelta(hours=24)


def templates() -> dict[str, dict[str, str]]:
    """The configured templates: name → {language: Content SID}."""
    found: dict[str, dict[str, str]] = {}
    for item in current_app.config.get("TWILIO_WHATSAPP_TEMPLATES") or ():
        key, _, sid = item.partition("=")
        name, _, language = key.partition("/")
        if name and language and sid:
            found.setdefault(name, {})[language] = sid
    return found


def content_sid(name: str, language: str) -> str | None:
    """The Content SID of template ``name`` in ``language``, or None."""
    return templates().get(name, {}).get(language)


def names_for(language: str) -> list[str]:
    """The template names configured in ``language``, sorted."""
    return sorted(name for name, sids in templates().items() if language in sids)


def window_until(case: Case) -> datetime | None:
    """When the caller's WhatsApp window closes (24 h after their last WhatsApp message to
    us, on any of their cases), or None when they never wrote on WhatsApp."""
    last = db.session.execute(
        select(func.max(Interaction.created_at)).join(Case, Case.id == Interaction.case_id)
        .where(Case.caller_id == case.caller_id, Interaction.kind == "message_in",
               Interaction.channel == "whatsapp")
    ).scalar_one_or_none()
    if last is None:
        return None
    if last.tzinfo is None:
        last = last.replace(tzinfo=UTC)
    return last + WINDOW
