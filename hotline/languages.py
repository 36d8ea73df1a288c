"""Guessing a caller's language from the text they send."""

from __future__ import annotations

UKRAINIAN_LETTERS = set("іїєґІЇЄҐ")


def _is_hangul(ch: str) -> bool:
    return "\uac00" <= ch <= "\ud7a3" or "\u1100" <= ch <= "\u11ff" or "\u3130" <= ch <= "\u318f"


def script_language(text: str | None) -> str | None:
    """The language the script of ``text`` reveals, or None when it reveals none.

    Hangul → ko; Cyrillic with і/ї/є/ґ → uk; other Cyrillic → ru.
    """
    text = text or ""
    if any(_is_hangul(ch) for ch in text):
        return "ko"
    if any(ch in UKRAINIAN_LETTERS for ch in text):
        return "uk"
    if any("\u0400" <= ch <= "\u04ff" for ch in text):
        return "ru"
    return None


def detect_language(text: str | None, known: str | None = None) -> str:
    """Hangul → ko; Cyrillic with і/ї/є/ґ → uk; other Cyrillic → ru; else ``known`` or en."""
    return script_language(text) or known or "en"
