"""Every caller-facing text in one place: SMS auto-replies and voice prompts.

SMS auto-replies stay within 70 characters once the reference is filled in, so
Hangul and Cyrillic fit one SMS segment (UCS-2). No text names an organisation or
a topic: the phone may be read or overheard by someone else. When an auto-reply is
sent is decided in ``hotline/channels/auto_reply.py``.
"""

from __future__ import annotations

from hotline.languages import DEFAULT, english_name

SMS_SEGMENT_UCS2 = 70

AUTO_REPLY = {
    "ko": "메시지를 받았습니다. 번호: {reference}. 곧 답장드리겠습니다.",
    "ru": "Сообщение получено. Номер: {reference}. Скоро ответим.",
    "uk": "Повідомлення отримано. Номер: {reference}. Скоро відповімо.",
    "en": "Message received. Ref: {reference}. We will reply soon.",
}

# The language menu: one prompt per language, spoken in that language.
MENU_PROMPT = {
    "ko": "한국어는 {digit}번을 누르세요.",
    "ru": "Для русского языка нажмите {digit}.",
    "uk": "Українською мовою натисніть {digit}.",
    "en": "For English, press {digit}.",
}

CONNECTING = {
    "ko": "잠시만 기다려 주세요. 연결해 드리겠습니다.",
    "ru": "Пожалуйста, подождите, соединяем.",
    "uk": "Будь ласка, зачекайте, з'єднуємо.",
    "en": "Please hold while we connect you.",
}

VOICEMAIL_PROMPT = {
    "ko": "지금은 전화를 받을 수 없습니다. 삐 소리가 나면 메시지를 남겨 주세요. "
          "다시 연락드리겠습니다.",
    "ru": "Сейчас никто не может ответить. Оставьте сообщение после сигнала, "
          "мы вам перезвоним.",
    "uk": "Зараз ніхто не може відповісти. Залиште повідомлення після сигналу, "
          "ми вам передзвонимо.",
    "en": "No one can answer right now. Please leave a message after the tone "
          "and we will call you back.",
}

VOICEMAIL_THANKS = {
    "ko": "메시지가 저장되었습니다. 감사합니다.",
    "ru": "Сообщение сохранено. Спасибо.",
    "uk": "Повідомлення збережено. Дякуємо.",
    "en": "Your message has been saved. Thank you.",
}

APOLOGY = {
    "ko": "죄송합니다. 기술적인 문제가 발생했습니다.",
    "ru": "Извините, у нас техническая неполадка.",
    "uk": "Вибачте, у нас технічна несправність.",
    "en": "Sorry, we are having a technical problem.",
}

# Played to the staff member who picks up, never to the caller.
SCREEN_PROMPT = "Hotline call in {language}. {context}Press 1 to accept."
# Played to staff on a call-back's staff leg, never to the caller (who hears only staff).
CALL_BACK_PROMPT = ("Hotline call-back for case {reference}. The caller speaks {language}. "
                    "Press 1 to call them now.")
CALL_BACK_CONNECTING = "Calling the caller now. Stay on the line."
CALL_BACK_STOPPED = "This call-back cannot go on. Please check the case."
CALL_BACK_ENDED = {
    "busy": "The caller's line is busy. The attempt is on the case.",
    "no_answer": "The caller did not answer. The attempt is on the case.",
}
CALL_BACK_ENDED_OTHER = "The call to the caller did not go through. The attempt is on the case."
# The inbound screen with the case: "Case K, 7, M, 2. Q, 9, X, 4. A known caller: ..."
SCREEN_CASE = "Case {reference}."
SCREEN_KNOWN = {0: "A new caller.", 1: "A known caller, with one earlier case."}
SCREEN_KNOWN_MANY = "A known caller, with {count} earlier cases."


def _pick(table: dict[str, str], language: str | None) -> str:
    return table.get(language or DEFAULT, table[DEFAULT])


def auto_reply(language: str | None, reference: str) -> str:
    """The auto-reply in ``language`` (English when unknown) for a display reference."""
    return _pick(AUTO_REPLY, language).format(reference=reference)


def menu_prompt(language: str, digit: int) -> str:
    """The menu line for ``language``, naming the key to press."""
    return _pick(MENU_PROMPT, language).format(digit=digit)


def connecting(language: str | None) -> str:
    """What the caller hears while staff phones ring."""
    return _pick(CONNECTING, language)


def voicemail_prompt(language: str | None) -> str:
    """The invitation to leave a voicemail."""
    return _pick(VOICEMAIL_PROMPT, language)


def voicemail_thanks(language: str | None) -> str:
    """Said after a voicemail was recorded."""
    return _pick(VOICEMAIL_THANKS, language)


def apology(language: str) -> str:
    """The fallback apology in one language."""
    return _pick(APOLOGY, language)


def screen_prompt(language: str | None, context: str | None = None) -> str:
    """The staff-side prompt naming the caller's language (and the case, ``screen_case``)."""
    return SCREEN_PROMPT.format(language=english_name(language),
                                context=f"{context} " if context else "")


def spell_reference(reference: str) -> str:
    """A case reference as text-to-speech reads it one character at a time, in its two
    halves: ``K7M2Q9X4`` → ``K, 7, M, 2. Q, 9, X, 4``."""
    halves = [reference[:4], reference[4:]]
    return ". ".join(", ".join(half) for half in halves if half)


def call_back_prompt(reference: str, language: str | None) -> str:
    """The screen of a call-back's staff leg: the case, the caller's language, press 1."""
    return CALL_BACK_PROMPT.format(reference=spell_reference(reference),
                                   language=english_name(language))


def call_back_connecting() -> str:
    """Said to the staff member after they pressed 1, while the caller's phone rings."""
    return CALL_BACK_CONNECTING


def call_back_stopped() -> str:
    """Said when the caller may no longer be called (blocked, opted out meanwhile)."""
    return CALL_BACK_STOPPED


def call_back_ended(outcome: str | None) -> str:
    """Said to the staff member left alone when the caller's leg ended unanswered."""
    return CALL_BACK_ENDED.get(outcome or "", CALL_BACK_ENDED_OTHER)


def screen_case(reference: str, earlier_cases: int) -> str:
    """The case part of an inbound call's screen: its reference and whether the caller
    is known (has earlier cases)."""
    known = SCREEN_KNOWN.get(earlier_cases) or SCREEN_KNOWN_MANY.format(count=earlier_cases)
    return f"{SCREEN_CASE.format(reference=spell_reference(reference))} {known}"
