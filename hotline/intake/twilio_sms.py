"""Twilio SMS and WhatsApp webhooks: the messaging front door of the intake service."""

from __future__ import annotations

import re

from flask import Blueprint, Response, abort, current_app
from sqlalchemy.orm.attributes import flag_modified
from twilio.twiml.messaging_response import MessagingResponse

from hotline.extensions import db
from hotline.intake.language import detect_language
from hotline.intake.replies import auto_reply
from hotline.intake.service import IntakeError, receive
from hotline.intake.signature import twilio_form, twilio_webhook

bp = Blueprint("twilio_sms", __name__, url_prefix="/twilio")

SID_PATTERN = re.compile(r"^[A-Za-z0-9]{2,64}$")
MAX_MEDIA = 10


def twiml(response: MessagingResponse | str) -> Response:
    """A TwiML answer as ``text/xml``."""
    return Response(str(response), mimetype="text/xml")


def required(form, name: str, pattern: re.Pattern[str] | None = None) -> str:  # noqa: ANN001
    """A required form field, or 400 naming it."""
    value = (form.get(name) or "").strip()
    if not value:
        abort(400, description=f"missing {name}")
    if pattern is not None and not pattern.match(value):
        abort(400, description=f"malformed {name}")
    return value


@bp.post("/sms")
@twilio_webhook
def inbound_message() -> Response:
    """Take in one SMS or WhatsApp message; answer with at most one discreet auto-reply."""
    form = twilio_form()
    sender = required(form, "From")
    message_sid = required(form, "MessageSid", SID_PATTERN)
    body = form.get("Body", "")
    if len(body) > current_app.config["MESSAGE_MAX_CHARS"]:
        abort(413, description="message body too long")
    channel = "whatsapp" if sender.lower().startswith("whatsapp:") else "sms"
    meta: dict = {}
    media = [form.get(f"MediaUrl{i}") for i in range(MAX_MEDIA) if form.get(f"MediaUrl{i}")]
    if media:
        meta["media"] = [
            {"url": url, "content_type": form.get(f"MediaContentType{i}", "")}
            for i, url in enumerate(media)
        ]
    try:
        result = receive(
            channel=channel, address=sender, body=body, external_id=message_sid,
            meta=meta, language=detect_language(body),
        )
    except IntakeError as exc:
        abort(400, description=str(exc))

    response = MessagingResponse()
    case, interaction = result.case, result.interaction
    opened = result.case_opened or result.case_reopened
    if result.created and opened and _may_auto_reply(case):
        interaction.meta = {**interaction.meta, "auto_reply": True}
        flag_modified(interaction, "meta")
        db.session.commit()
    if interaction.meta.get("auto_reply"):
        response.message(auto_reply(case.language, case.display_reference))
    return twiml(response)


def _may_auto_reply(case) -> bool:  # noqa: ANN001
    caller = case.caller
    return (current_app.config["AUTO_REPLY_ENABLED"] and not caller.opted_out
            and caller.flag != "blocked")
