"""Twilio SMS and WhatsApp webhooks: the messaging front door of the intake service.

``/twilio/sms`` takes a message in (``whatsapp:`` senders on the WhatsApp channel),
records STOP/START on the caller, and answers with at most one short auto-reply in
the caller's language. ``/twilio/sms/status`` records delivery of our replies.
``/twilio/sms/fallback`` (Twilio calls it when ``/twilio/sms`` fails) only spools.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from flask import Blueprint, Response, abort, current_app
from twilio.twiml.messaging_response import MessagingResponse
from werkzeug.datastructures import ImmutableMultiDict

from hotline import languages
from hotline.cases.timeline import Media, message_in_meta, message_out_meta
from hotline.channels.auto_reply import apply_opt, auto_reply_for, auto_reply_interval
from hotline.channels.replies import auto_reply
from hotline.channels.twilio.twiml import twiml
from hotline.extensions import db
from hotline.intake.service import IntakeError, IntakeResult, receive
from hotline.intake.signature import twilio_form, twilio_webhook
from hotline.intake.spool import SpoolError, durable, is_replay, spool_current_request
from hotline.intake.webhooks import ERROR_CODE_PATTERN, SID_PATTERN, required
from hotline.languages import script_language
from hotline.messaging.delivery import UnknownStatus, record_status
from hotline.messaging.outbox import store_outgoing

bp = Blueprint("twilio_sms", __name__, url_prefix="/twilio")

MAX_MEDIA = 10
MAX_MEDIA_URL = 500
# Twilio's standard opt-out / opt-in keywords, plus the Russian/Ukrainian and Korean
# word for "stop": a caller on a monitored phone must be able to make replies stop.
OPT_OUT_KEYWORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT",
                              "OPTOUT", "REVOKE", "СТОП", "중지"})
OPT_IN_KEYWORDS = frozenset({"START", "YES", "UNSTOP", "OPTIN"})


def opt_keyword(form: ImmutableMultiDict) -> tuple[str, str] | None:
    """("out"|"in", keyword) when the message is an opt-out or opt-in, else None."""
    twilio_type = (form.get("OptOutType") or "").strip().upper()
    word = (form.get("Body") or "").strip().strip(".!").upper()
    if twilio_type == "STOP" or word in OPT_OUT_KEYWORDS:
        return "out", (word if word in OPT_OUT_KEYWORDS else "STOP")[:32]
    if twilio_type == "START" or word in OPT_IN_KEYWORDS:
        return "in", (word if word in OPT_IN_KEYWORDS else "START")[:32]
    return None


def media_of(form: ImmutableMultiDict) -> list[Media]:
    """The media attachments Twilio listed (URL and content type)."""
    try:
        count = min(int(form.get("NumMedia") or 0), MAX_MEDIA)
    except ValueError:
        abort(400, description="malformed NumMedia")
    media = []
    for i in range(max(count, 0)):
        url = (form.get(f"MediaUrl{i}") or "").strip()
        if not url:
            continue
        if urlsplit(url).scheme != "https" or len(url) > MAX_MEDIA_URL:
            abort(400, description=f"malformed MediaUrl{i}")
        media.append(Media(url=url,
                           content_type=(form.get(f"MediaContentType{i}") or "")[:100]))
    return media


@dataclass
class Taken:
    """One inbound message taken in: the intake result and the TwiML reply."""

    result: IntakeResult
    reply: str | None = None


def take_in(form: ImmutableMultiDict, *, answer: bool = False) -> Taken:
    """Intake one inbound message (shared by ``/sms`` and the replay of its fallback).

    Everything a new message changes (the interaction, the case's language, the
    caller's opt-out, the auto-reply flag) is written in the intake's one transaction.
    With ``answer`` the auto-reply is decided there too; ``Taken.reply`` is its text for
    the TwiML answer, also for a retried delivery of a message that got one.
    """
    sender = required(form, "From")
    message_sid = required(form, "MessageSid", SID_PATTERN)
    body = form.get("Body", "")
    limit = current_app.config["MESSAGE_MAX_CHARS"]
    # Keep what fits rather than refuse: a refused message is a lost message.
    truncated = len(body) > limit
    body = body[:limit]
    channel = "whatsapp" if sender.lower().startswith("whatsapp:") else "sms"
    keyword = opt_keyword(form)
    meta = message_in_meta(media=media_of(form), truncated=truncated,
                           opt=keyword[0] if keyword else None)
    replies: list[str] = []

    def prepare(result: IntakeResult) -> None:
        replies.clear()  # a delivery receive() starts over decides again
        if keyword:
            apply_opt(result.caller, *keyword)
        reply = auto_reply_for(result, keyword=keyword is not None) if answer else None
        if reply is not None:
            replies.append(reply)
            # Set before the interaction's INSERT, so the flag costs no UPDATE.
            result.meta["auto_reply"] = True

    def finish(result: IntakeResult) -> None:
        if replies and is_replay():
            # Twilio got an empty answer while the database was away: send it now.
            store_outgoing(result.case, replies[0], None,
                           meta=message_out_meta(auto_reply=True))

    try:
        result = receive(channel=channel, address=sender, body=body, external_id=message_sid,
                         meta=meta, language=script_language(body),
                         fallback_language=languages.DEFAULT,
                         prepare=prepare, finish=finish,
                         auto_reply_every=auto_reply_interval(keyword is not None)
                         if answer else None)
    except IntakeError as exc:
        abort(400, description=str(exc))
    taken = Taken(result, replies[0] if replies and not is_replay() else None)
    if not result.created and answer and result.interaction.meta.get("auto_reply"):
        # A retried delivery: the same answer as the first time.
        case = result.case
        taken.reply = None if is_replay() else auto_reply(case.language,
                                                          case.display_reference)
    return taken


def _empty(_form: ImmutableMultiDict | None = None) -> Response:
    return twiml(MessagingResponse())


@bp.post("/sms")
@twilio_webhook
@durable(offline=_empty)
def inbound_message() -> Response:
    """Take in one SMS or WhatsApp message; answer with at most one discreet auto-reply."""
    taken = take_in(twilio_form(), answer=True)
    response = MessagingResponse()
    if taken.reply is not None:
        response.message(taken.reply)
    return twiml(response)


@bp.post("/sms/status")
@twilio_webhook
@durable(offline=lambda _form: Response(status=204))
def message_status() -> Response:
    """Record one delivery-status callback for an outbound message; 204."""
    form = twilio_form()
    sid = required(form, "MessageSid", SID_PATTERN)
    status = required(form, "MessageStatus")
    error_code = (form.get("ErrorCode") or "").strip() or None
    if error_code is not None and not ERROR_CODE_PATTERN.match(error_code):
        abort(400, description="malformed ErrorCode")
    try:
        record_status(sid, status, error_code)
    except UnknownStatus as exc:
        abort(400, description=str(exc))
    db.session.commit()
    return Response(status=204)


@bp.post("/sms/fallback")
@twilio_webhook
def message_fallback() -> Response:
    """Twilio's fallback for ``/sms``: spool the raw request, answer empty; no database.

    When the spool replays it, the message goes through the same intake as ``/sms``.
    """
    if is_replay():
        take_in(twilio_form())
        return _empty()
    try:
        spool_current_request()
    except SpoolError:
        abort(503, description="temporarily unavailable")
    return _empty()
