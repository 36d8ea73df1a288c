"""A Telegram message taken in through the one intake service.

The caller's address is the private chat's id (address kind ``telegram``: encrypted, found
by its blind index). The chat id never leaves that column: the interaction's
``external_id`` is ``tg-<update_id>-<keyed hash of chat, message and edit>``, which makes
a redelivered update (same id, same message) a no-op and keeps two different messages
apart even if Telegram ever hands out an update id again (it picks a random one after a
week without updates).

``/start`` (with or without a deep-link payload) is an ordinary first message: it opens
or continues the case, gets the SMS auto-reply rule, and opts a caller who had sent
``/stop`` back in. ``/stop`` opts out like STOP. Edits are new entries marked ``edited``.
The auto-reply is queued in the outbox in the same transaction (Telegram's webhook answer
cannot carry a message whose delivery we could see).
"""

from __future__ import annotations

from flask import current_app

from hotline import languages
from hotline.cases.timeline import Media, MessageInMeta, message_in_meta, message_out_meta
from hotline.channels.auto_reply import apply_opt, auto_reply_for, auto_reply_interval
from hotline.channels.telegram.updates import IncomingMessage
from hotline.crypto import cipher
from hotline.intake.service import IntakeResult, receive
from hotline.languages import script_language
from hotline.messaging.outbox import store_outgoing

CHANNEL = "telegram"
STOP_KEYWORD = "/stop"
START_KEYWORD = "/start"
# The attachment list of a message's meta names where each file lives.
FILE_SOURCE = "telegram"


def external_id(message: IncomingMessage) -> str:
    """The interaction's idempotency key; see the module docstring."""
    keyed = cipher().blind_index(
        f"telegram-message:{message.chat_id}:{message.message_id}:{message.edit_date or 0}")
    return f"tg-{message.update_id}-{keyed[:16]}"


def language_of(message: IncomingMessage) -> str | None:
    """The language the text's script shows, else the one the caller's Telegram app uses."""
    found = script_language(message.text)
    if found:
        return found
    code = (message.language_code or "").split("-")[0].lower()
    return code if code in languages.CODES else None


def message_meta(message: IncomingMessage, *, truncated: bool) -> MessageInMeta:
    """The interaction's meta: attachments by ``file_id``, edited, command, truncation."""
    return message_in_meta(
        media=[Media(source=FILE_SOURCE, file_id=f.file_id, content_type=f.content_type,
                     kind=f.kind) for f in message.files],
        edited=message.edited, command=message.command or None,
        opt="out" if message.command == "stop" else None,
        unshown=message.unshown or None, truncated=truncated)


def take_in(message: IncomingMessage) -> IntakeResult:
    """Store one private-chat message; commits once (with its auto-reply, if any)."""
    body = message.text
    limit = current_app.config["MESSAGE_MAX_CHARS"]
    truncated = len(body) > limit
    if truncated:
        body = body[:limit]  # keep what fits: a refused message is a lost message
    replies: list[str] = []

    def prepare(result: IntakeResult) -> None:
        replies.clear()  # a delivery receive() starts over decides again
        if message.command == "stop":
            apply_opt(result.caller, "out", STOP_KEYWORD)
        elif message.command == "start" and result.caller_opted_out:
            apply_opt(result.caller, "in", START_KEYWORD)
            result.caller_opted_out = False
            result.meta["opt"] = "in"
        if message.edited:
            return
        reply = auto_reply_for(result, keyword=message.command == "stop")
        if reply is not None:
            replies.append(reply)
            result.meta["auto_reply"] = True

    def finish(result: IntakeResult) -> None:
        if replies:
            store_outgoing(result.case, replies[0], None,
                           meta=message_out_meta(auto_reply=True))

    return receive(
        channel=CHANNEL, address=str(message.chat_id), body=body or None,
        external_id=external_id(message), meta=message_meta(message, truncated=truncated),
        language=language_of(message),
        fallback_language=languages.DEFAULT,
        prepare=prepare, finish=finish,
        auto_reply_every=auto_reply_interval(message.command == "stop" or message.edited))
