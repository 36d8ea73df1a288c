"""Guessing a caller's language from the text they send."""

from __future__ import annotations

UKRAINIAN_LETTERS = set("іїєґІЇЄҐ")


def detect_language(text: str | None, known: str | None = None) -> str:
    """Hangul → ko; Cyrillic with і/ї/є/ґ → uk; other Cyrillic → ru; else ``known`` or en."""
    text = text or ""
    if any("\uac00" <= ch <= "\ud7a3" or "\u1100" <= ch <= "\u11ff"
           or "\u3130" <= ch <= "\u318f" for ch in text):
        return "ko"
    if any(ch in UKRAINIAN_LETTERS for ch in text):
        return "uk"
    if any("\u0400" <= ch <= "\u04ff" for ch in text):
        return "ru"
    return known or "en"
