"""Telegram ``Update`` JSON, read strictly into a small typed model.

Only the fields Hotline uses are read: the update id, one ``message`` or
``edited_message``, its chat (id and type), the sender's ``is_bot`` and
``language_code``, the text or caption, the attachments' ``file_id`` and type, a
shared location or contact. Everything is checked on the way in, so a body Telegram
would never send is refused with a short reason (400) instead of failing later as a
500, and a message that cannot be stored (a lone surrogate in its text) never reaches
the spool, which would replay it for ever.

What is deliberately *not* read: the sender's names and username (the hotline does not
need them, and a leaked database must not hold them), forwarded-from data, file names
(``passport_ivanov.pdf``) and the replied-to message.

Why not ``telegram.Update.de_json`` from python-telegram-bot: its ``Bot`` is async-only
(httpx and asyncio) while the webhook and the outbox are synchronous, and ``de_json``
trusts its input (a missing field becomes ``None`` or a ``TypeError`` somewhere later),
so the checks that give a clear 400 would still have to be written here. For a dozen
fields a typed model of our own is smaller than the dependency and states exactly what
is read.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeGuard

# The update kinds ``setWebhook`` asks for (``allowed_updates``); anything else is ignored.
MESSAGE_KEYS = ("message", "edited_message")
# Telegram ids fit in 52 bits; JSON numbers beyond 2**53 lose precision anyway.
MAX_ID = 2 ** 53
# Message contents stored as an attachment: key → the media type when Telegram gives none.
FILE_KINDS = {
    "photo": "image/jpeg",
    "document": "application/octet-stream",
    "voice": "audio/ogg",
    "audio": "audio/mpeg",
    "video": "video/mp4",
    "video_note": "video/mp4",
    "animation": "video/mp4",
}
# Contents a person sends that Hotline records as "a message it cannot show".
UNSHOWN_KINDS = ("sticker", "poll", "dice", "game", "story", "paid_media", "giveaway",
                 "invoice", "checklist")
COMMANDS = ("start", "stop")
MAX_ATTACHMENTS = 10
MAX_MIME_LENGTH = 100
MAX_FILE_ID_LENGTH = 256


class BadUpdate(ValueError):
    """The body is not an update Telegram would send; the message is the short reason."""


@dataclass(frozen=True)
class TelegramFile:
    """One attachment, known by its ``file_id`` (fetched only when staff open it)."""

    kind: str  # a FILE_KINDS key
    file_id: str
    content_type: str
    size: int | None = None


@dataclass(frozen=True)
class IncomingMessage:
    """A private-chat message (or an edit of one) to take in."""

    update_id: int
    message_id: int
    chat_id: int
    edited: bool
    edit_date: int | None
    text: str  # text or caption, or a shared location / contact written out; may be ""
    language_code: str | None
    command: str | None  # "start" or "stop"
    files: tuple[TelegramFile, ...] = ()
    unshown: str | None = None  # e.g. "poll": a content Hotline does not show


@dataclass(frozen=True)
class Ignored:
    """An update Hotline answers 200 and does not store (group chat, bot, other type)."""

    update_id: int
    reason: str


def parse_update(raw: bytes) -> IncomingMessage | Ignored:
    """Read one webhook body; BadUpdate with a short reason when it is malformed."""
    try:
        data = json.loads(raw.decode("utf-8"), parse_constant=_no_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise BadUpdate("the body is not UTF-8 JSON") from exc
    if not isinstance(data, dict):
        raise BadUpdate("the body is not a JSON object")
    update_id = _id(data, "update_id", minimum=0)
    present = [key for key in MESSAGE_KEYS if key in data]
    if not present:
        return Ignored(update_id, "update_type")
    key = present[0]
    message = data[key]
    if not isinstance(message, dict):
        raise BadUpdate(f"malformed {key}")
    return _message(update_id, message, edited=key == "edited_message")


def _message(update_id: int, message: Mapping[str, Any], *, edited: bool
             ) -> IncomingMessage | Ignored:
    message_id = _id(message, "message_id", minimum=1, where="message")
    chat = message.get("chat")
    if not isinstance(chat, dict):
        raise BadUpdate("missing or malformed message.chat")
    chat_type = _required_text(chat, "type", where="chat")
    chat_id = _id(chat, "id", minimum=-MAX_ID, where="chat")
    if chat_type != "private":
        return Ignored(update_id, "not_private")
    if chat_id <= 0:
        raise BadUpdate("malformed chat.id")
    sender = message.get("from")
    if sender is not None and not isinstance(sender, dict):
        raise BadUpdate("malformed message.from")
    sender = sender or {}
    if sender.get("is_bot") is True:
        return Ignored(update_id, "bot")
    language_code = _text(sender, "language_code", where="from")
    edit_date = message.get("edit_date")
    if edit_date is not None and not _is_int(edit_date):
        raise BadUpdate("malformed message.edit_date")

    text = _text(message, "text", where="message") or _text(message, "caption",
                                                              where="message") or ""
    shared = _shared(message)
    if shared:
        text = f"{text}\n{shared}" if text else shared
    files = _files(message)
    unshown = next((kind for kind in UNSHOWN_KINDS if kind in message), None)
    if not text and not files and unshown is None:
        # A service message (pinned message, access granted, …): nothing the caller wrote.
        return Ignored(update_id, "service_message")
    return IncomingMessage(
        update_id=update_id, message_id=message_id, chat_id=chat_id, edited=edited,
        edit_date=edit_date, text=text, language_code=language_code,
        command=None if edited else command_of(text), files=files, unshown=unshown)


def command_of(text: str) -> str | None:
    """``start`` or ``stop`` for ``/start``, ``/start payload``, ``/stop@SomeBot``; else None."""
    if not text.startswith("/"):
        return None
    word = text[1:].split(maxsplit=1)[0] if len(text) > 1 else ""
    word = word.partition("@")[0].lower()
    return word if word in COMMANDS else None


def _files(message: Mapping[str, Any]) -> tuple[TelegramFile, ...]:
    found: list[TelegramFile] = []
    for kind, default_type in FILE_KINDS.items():
        if kind not in message:
            continue
        item = message[kind]
        if kind == "photo":
            # Several sizes of one picture, smallest first: keep the largest.
            if not isinstance(item, list) or not item or not all(
                    isinstance(size, dict) for size in item):
                raise BadUpdate("malformed message.photo")
            item = item[-1]
        if not isinstance(item, dict):
            raise BadUpdate(f"malformed message.{kind}")
        file_id = _required_text(item, "file_id", where=kind)
        if len(file_id) > MAX_FILE_ID_LENGTH or not file_id.isascii():
            raise BadUpdate(f"malformed {kind}.file_id")
        mime = _text(item, "mime_type", where=kind) or default_type
        size = item.get("file_size")
        found.append(TelegramFile(kind, file_id, _mime(mime, default_type),
                                  size if _is_int(size) else None))
    return tuple(found[:MAX_ATTACHMENTS])


def _mime(value: str, default: str) -> str:
    value = value.strip().lower()
    major, _, minor = value.partition("/")
    if (len(value) > MAX_MIME_LENGTH or not value.isascii() or not major or not minor
            or not all(ch.isalnum() or ch in "-+." for ch in major + minor)):
        return default
    return value


def _shared(message: Mapping[str, Any]) -> str:
    """A shared location, venue or contact, written out for staff (stored encrypted)."""
    parts = []
    venue = message.get("venue")
    location = message.get("location")
    if isinstance(venue, dict):
        title = _text(venue, "title", where="venue") or ""
        address = _text(venue, "address", where="venue") or ""
        parts.append("Venue: " + ", ".join(p for p in (title, address) if p))
        location = venue.get("location", location)
    if location is not None:
        if not isinstance(location, dict):
            raise BadUpdate("malformed message.location")
        lat, lon = location.get("latitude"), location.get("longitude")
        if not (_is_number(lat) and _is_number(lon)) or abs(lat) > 90 or abs(lon) > 180:
            raise BadUpdate("malformed location")
        live = " (live)" if location.get("live_period") else ""
        parts.append(f"Location{live}: {lat:.6f}, {lon:.6f}")
    contact = message.get("contact")
    if contact is not None:
        if not isinstance(contact, dict):
            raise BadUpdate("malformed message.contact")
        name = " ".join(p for p in (_text(contact, "first_name", where="contact"),
                                    _text(contact, "last_name", where="contact")) if p)
        number = _text(contact, "phone_number", where="contact") or ""
        parts.append("Contact: " + ", ".join(p for p in (name, number) if p))
    return "\n".join(parts)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> TypeGuard[float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _id(data: Mapping[str, Any], name: str, *, minimum: int, where: str | None = None) -> int:
    value = data.get(name)
    label = f"{where}.{name}" if where else name
    if not _is_int(value) or not minimum <= value < MAX_ID:
        raise BadUpdate(f"missing or malformed {label}")
    return int(value)


def _text(data: Mapping[str, Any], name: str, *, where: str) -> str | None:
    """A string field that can be stored (UTF-8-encodable), or None when absent."""
    value = data.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadUpdate(f"malformed {where}.{name}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise BadUpdate(f"malformed {where}.{name}") from exc
    return value


def _required_text(data: Mapping[str, Any], name: str, *, where: str) -> str:
    """A string field that must be there and not empty."""
    value = _text(data, name, where=where)
    if not value:
        raise BadUpdate(f"missing {where}.{name}")
    return value
