"""Every caller-facing text in one place: SMS auto-replies and voice prompts.

The texts are English message ids marked ``C_(…)``; their Korean, Russian and Ukrainian
are in the ``callers`` catalogue domain (``hotline/translations/<lang>/LC_MESSAGES/
callers.po``, extracted with ``babel-callers.cfg``; README "Adding a language"), apart
from the staff pages' ``messages`` domain. A text is always rendered in the **caller's**
language, passed explicitly: never the request's locale (a webhook request has none of
its own, and a staff member's language must not leak into a reply), and the same in a
request, a CLI command, a background job or with no application at all.

SMS auto-replies stay within 70 characters once the reference is filled in, so
Hangul and Cyrillic fit one SMS segment (UCS-2). No text names an organisation or
a topic: the phone may be read or overheard by someone else. When an auto-reply is
sent is decided in ``hotline/channels/auto_reply.py``. Twilio's ``<Say>`` language per
caller language stays in ``hotline/languages.py`` (``say_language``).

The prompts played to staff (the call screen, a call-back's staff leg) are below too,
in the staff pages' ``messages`` domain (marked ``N_``), rendered in the language of the
staff member whose phone rings (``i18n.user_language``) and spoken with that language's
``<Say>`` voice.
"""

from __future__ import annotations

import logging
from functools import cache

from babel import Locale
from babel.support import NullTranslations, Translations

from hotline.catalogues import CALLERS_DOMAIN, MESSAGES_DOMAIN, TRANSLATIONS_DIR
from hotline.i18n import N_
from hotline.languages import BY_CODE, CODES, DEFAULT
from hotline.logging_setup import log_event

log = logging.getLogger(__name__)

SMS_SEGMENT_UCS2 = 70


def C_(message: str) -> str:  # noqa: N802 (gettext's convention: a marker, like N_)
    """Mark a caller text for the ``callers`` catalogue; ``text()`` translates it."""
    return message


AUTO_REPLY = C_("Message received. Ref: %(reference)s. We will reply soon.")
# The language menu: one prompt per language, spoken in that language.
# Translators: said in your language and naming it ("For Korean, press 1" in Korean).
MENU_PROMPT = C_("For English, press %(digit)s.")
CONNECTING = C_("Please hold while we connect you.")
VOICEMAIL_PROMPT = C_("No one can answer right now. Please leave a message after the tone "
                      "and we will call you back.")
VOICEMAIL_THANKS = C_("Your message has been saved. Thank you.")
APOLOGY = C_("Sorry, we are having a technical problem.")
# Every text the channels send a caller (the catalogue test checks each is translated).
CALLER_TEXTS = (AUTO_REPLY, MENU_PROMPT, CONNECTING, VOICEMAIL_PROMPT, VOICEMAIL_THANKS,
                APOLOGY)


@cache
def translations(language: str, domain: str = CALLERS_DOMAIN) -> NullTranslations:
    """The ``callers`` (or ``domain``) catalogue of one language, loaded once per process.

    Babel's own loader, the call Flask-Babel's ``Domain`` makes; not ``Domain`` itself,
    because it follows the current context's locale and gives English outside an
    application context. English (the message ids) and a missing ``.mo`` give
    ``NullTranslations``: the English text.
    """
    return Translations.load(str(TRANSLATIONS_DIR), [language], domain)


def uncompiled_languages() -> list[str]:
    """The languages (English aside) whose ``callers`` catalogue is not compiled: their
    callers would get English."""
    return [code for code in CODES
            if code != DEFAULT and not isinstance(translations(code), Translations)]


def warn_if_uncompiled() -> None:
    """At start-up: say in the log when a caller catalogue is missing (``.mo`` files are
    not in git; ``make translations`` or README "Production deployment" step 1)."""
    missing = uncompiled_languages()
    if missing:
        log_event(log, "callers.catalogue_missing", logging.WARNING, languages=missing)


def text(language: str | None, message: str, **variables: object) -> str:
    """``message`` in ``language`` (English when unknown), ``%(name)s`` filled in."""
    code = language if language in BY_CODE else DEFAULT
    translated = translations(code).ugettext(message)
    return translated % variables if variables else translated


def auto_reply(language: str | None, reference: str) -> str:
    """The auto-reply in ``language`` (English when unknown) for a display reference."""
    return text(language, AUTO_REPLY, reference=reference)


def menu_prompt(language: str, digit: int) -> str:
    """The menu line for ``language``, naming the key to press."""
    return text(language, MENU_PROMPT, digit=digit)


def connecting(language: str | None) -> str:
    """What the caller hears while staff phones ring."""
    return text(language, CONNECTING)


def voicemail_prompt(language: str | None) -> str:
    """The invitation to leave a voicemail."""
    return text(language, VOICEMAIL_PROMPT)


def voicemail_thanks(language: str | None) -> str:
    """Said after a voicemail was recorded."""
    return text(language, VOICEMAIL_THANKS)


def apology(language: str) -> str:
    """The fallback apology in one language."""
    return text(language, APOLOGY)


# Played to the staff member who picks up, never to the caller.
SCREEN_CALL = N_("Hotline call in %(language)s.")
SCREEN_ACCEPT = N_("Press 1 to accept.")
# Played to staff on a call-back's staff leg, never to the caller (who hears only staff).
CALL_BACK_PROMPT = N_("Hotline call-back for case %(reference)s. The caller speaks "
                      "%(language)s. Press 1 to call them now.")
CALL_BACK_CONNECTING = N_("Calling the caller now. Stay on the line.")
CALL_BACK_STOPPED = N_("This call-back cannot go on. Please check the case.")
CALL_BACK_ENDED = {
    "busy": N_("The caller's line is busy. The attempt is on the case."),
    "no_answer": N_("The caller did not answer. The attempt is on the case."),
}
CALL_BACK_ENDED_OTHER = N_("The call to the caller did not go through. The attempt is on "
                           "the case.")
# The inbound screen with the case: "Case K, 7, M, 2. Q, 9, X, 4. A known caller: ..."
SCREEN_CASE = N_("Case %(reference)s.")
SCREEN_NEW_CALLER = N_("A new caller.")


def staff_text(staff_language: str | None, message: str, **variables: object) -> str:
    """A staff prompt in the staff member's language (English when unknown)."""
    code = staff_language if staff_language in BY_CODE else DEFAULT
    translated = translations(code, MESSAGES_DOMAIN).ugettext(message)
    return translated % variables if variables else translated


def language_name(code: str | None, staff_language: str | None) -> str:
    """The name of the caller's language ``code`` in the staff member's language
    (Babel's locale data: "Korean", "корейська", "корейский", "한국어")."""
    spoken = staff_language if staff_language in BY_CODE else DEFAULT
    caller = code if code in BY_CODE else DEFAULT
    return Locale.parse(spoken).languages.get(caller) or BY_CODE[caller].english


def screen_prompt(language: str | None, context: str | None = None,
                  staff_language: str | None = None) -> str:
    """The staff-side prompt naming the caller's language (and the case, ``screen_case``)."""
    parts = [staff_text(staff_language, SCREEN_CALL,
                        language=language_name(language, staff_language)),
             context, staff_text(staff_language, SCREEN_ACCEPT)]
    return " ".join(part for part in parts if part)


def spell_reference(reference: str) -> str:
    """A case reference as text-to-speech reads it one character at a time, in its two
    halves: ``K7M2Q9X4`` → ``K, 7, M, 2. Q, 9, X, 4``."""
    halves = [reference[:4], reference[4:]]
    return ". ".join(", ".join(half) for half in halves if half)


def call_back_prompt(reference: str, language: str | None,
                     staff_language: str | None = None) -> str:
    """The screen of a call-back's staff leg: the case, the caller's language, press 1."""
    return staff_text(staff_language, CALL_BACK_PROMPT, reference=spell_reference(reference),
                      language=language_name(language, staff_language))


def call_back_connecting(staff_language: str | None = None) -> str:
    """Said to the staff member after they pressed 1, while the caller's phone rings."""
    return staff_text(staff_language, CALL_BACK_CONNECTING)


def call_back_stopped(staff_language: str | None = None) -> str:
    """Said when the caller may no longer be called (blocked, opted out meanwhile)."""
    return staff_text(staff_language, CALL_BACK_STOPPED)


def call_back_ended(outcome: str | None, staff_language: str | None = None) -> str:
    """Said to the staff member left alone when the caller's leg ended unanswered."""
    return staff_text(staff_language, CALL_BACK_ENDED.get(outcome or "", CALL_BACK_ENDED_OTHER))


def screen_case(reference: str, earlier_cases: int, staff_language: str | None = None) -> str:
    """The case part of an inbound call's screen: its reference and whether the caller
    is known (has earlier cases)."""
    case = staff_text(staff_language, SCREEN_CASE, reference=spell_reference(reference))
    if not earlier_cases:
        return f"{case} {staff_text(staff_language, SCREEN_NEW_CALLER)}"
    code = staff_language if staff_language in BY_CODE else DEFAULT
    known = translations(code, MESSAGES_DOMAIN).ungettext(
        "A known caller, with one earlier case.",
        "A known caller, with %(num)d earlier cases.", earlier_cases)
    return f"{case} {known % {'num': earlier_cases}}"
