"""Caller-facing auto-replies, one short, discreet template per language.

Each stays within 70 characters once the reference is filled in, so Hangul and
Cyrillic fit one SMS segment (UCS-2). The wording names no organisation or topic:
the phone may be read by someone else.
"""

from __future__ import annotations

SMS_SEGMENT_UCS2 = 70

AUTO_REPLY = {
    "ko": "메시지를 받았습니다. 번호: {reference}. 곧 답장드리겠습니다.",
    "ru": "Сообщение получено. Номер: {reference}. Скоро ответим.",
    "uk": "Повідомлення отримано. Номер: {reference}. Скоро відповімо.",
    "en": "Message received. Ref: {reference}. We will reply soon.",
}


def auto_reply(language: str | None, reference: str) -> str:
    """The auto-reply in ``language`` (English when unknown) for a display reference."""
    template = AUTO_REPLY.get(language or "en", AUTO_REPLY["en"])
    return template.format(reference=reference)
