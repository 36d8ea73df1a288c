"""The hotline's languages, declared once: codes, names, voice, and guessing from script.

Every table that needs a language property reads it from ``LANGUAGES`` here: the public
pages (their own names), the staff side (English names), the IVR (the default key order
and Twilio's ``<Say>`` language), the case vocabulary, and ``script_language`` for a text
message. Adding a language is one row (plus its two catalogues in ``translations/``:
``messages.po`` for the pages, ``callers.po`` for what a caller is sent or hears).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


def _hangul(ch: str) -> bool:
    return "\uac00" <= ch <= "\ud7a3" or "\u1100" <= ch <= "\u11ff" or "\u3130" <= ch <= "\u318f"


def _ukrainian(ch: str) -> bool:
    return ch in "іїєґІЇЄҐ"


def _cyrillic(ch: str) -> bool:
    return "\u0400" <= ch <= "\u04ff"


@dataclass(frozen=True)
class Language:
    """One language of the hotline."""

    code: str  # ISO 639-1: stored on cases and callers, in URLs (/ko/) and settings
    name: str  # its own name, shown to callers and visitors
    english: str  # its English name (admin forms; the staff prompts' fallback)
    say: str  # Twilio <Say> language
    # A character that gives the language away (checked in table order), or None.
    script: Callable[[str], bool] | None = None


# In the IVR's default key order (digit 1 = first): ``IVR_LANGUAGES`` may reorder.
# Ukrainian comes before Russian in the script check: its letters are a sign, Cyrillic
# alone is not.
LANGUAGES: tuple[Language, ...] = (
    Language("ko", "한국어", "Korean", "ko-KR", _hangul),
    Language("ru", "Русский", "Russian", "ru-RU", _cyrillic),
    Language("uk", "Українська", "Ukrainian", "uk-UA", _ukrainian),
    Language("en", "English", "English", "en-US"),
)
BY_CODE: dict[str, Language] = {language.code: language for language in LANGUAGES}
CODES: tuple[str, ...] = tuple(BY_CODE)
NAMES: dict[str, str] = {language.code: language.name for language in LANGUAGES}
IVR_ORDER: tuple[str, ...] = CODES
# The language of anything said or sent when the caller's is unknown.
DEFAULT = "en"
_SCRIPT_ORDER = ("ko", "uk", "ru")


def say_language(code: str) -> str:
    """Twilio's ``<Say language=…>`` for ``code``."""
    return BY_CODE[code].say


def script_language(text: str | None) -> str | None:
    """The language the script of ``text`` reveals, or None when it reveals none.

    Hangul → ko; Cyrillic with і/ї/є/ґ → uk; other Cyrillic → ru.
    """
    text = text or ""
    for code in _SCRIPT_ORDER:
        test = BY_CODE[code].script
        if test is not None and any(test(ch) for ch in text):
            return code
    return None
