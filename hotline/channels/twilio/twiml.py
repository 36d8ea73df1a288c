"""TwiML answers: the ``twiml()`` response helper and the voice answers a caller hears.

Each builder returns the whole answer of a voice route. The URLs inside (where Twilio
posts the caller's key, the dial result, the recording) are built with
``webhooks.public_url`` from the route names, and carry the caller's language
(``?lang=``) so that the answers after the menu need no database.
"""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, request
from twilio.twiml.messaging_response import MessagingResponse
from twilio.twiml.voice_response import VoiceResponse

from hotline import languages
from hotline.channels import replies
from hotline.intake.webhooks import public_url
from hotline.languages import say_language

MENU_TIMEOUT_SECONDS = 6
MENU_REPEATS = 2
DIAL_TIMEOUT_SECONDS = 20
BACKUP_DIAL_TIMEOUT_SECONDS = 30
SCREEN_TIMEOUT_SECONDS = 8
RECORD_SILENCE_SECONDS = 10


def twiml(response: MessagingResponse | VoiceResponse | str) -> Response:
    """A TwiML answer as ``text/xml``."""
    return Response(str(response), mimetype="text/xml")


# ---- the caller's language ---------------------------------------------------------------

def ivr_languages() -> list[str]:
    """The menu languages in key order (``IVR_LANGUAGES``, else the registry's order),
    unknown codes left out."""
    order = current_app.config["IVR_LANGUAGES"] or languages.IVR_ORDER
    return [code for code in order if code in languages.BY_CODE]


def default_language() -> str:
    """The language of voicemail when the caller chose none."""
    return languages.DEFAULT


def language_param() -> str:
    """The caller's language from the ``lang`` query parameter, else the default."""
    code = request.args.get("lang", "")
    return code if code in languages.BY_CODE else default_language()


def language_for_digits(digits: str | None) -> str | None:
    """The language a menu key selects, or None for any other input."""
    languages = ivr_languages()
    digits = (digits or "").strip()
    if len(digits) == 1 and "1" <= digits <= "9" and int(digits) <= len(languages):
        return languages[int(digits) - 1]
    return None


# ---- builders ----------------------------------------------------------------------------

def _prompt(element: Any, language: str, text: str) -> None:
    recording = (current_app.config.get("IVR_PROMPT_URLS") or {}).get(language)
    if recording:
        element.play(recording)
    else:
        element.say(text, language=say_language(language))


def add_menu(response: VoiceResponse, repeats: int) -> None:
    """The language menu, repeated ``repeats`` times, then voicemail in the default language."""
    for _ in range(repeats):
        gather = response.gather(num_digits=1, timeout=MENU_TIMEOUT_SECONDS, method="POST",
                                 action=public_url("twilio_voice.choose_language"))
        for position, language in enumerate(ivr_languages(), start=1):
            _prompt(gather, language, replies.menu_prompt(language, position))
    add_voicemail(response, default_language())


def add_voicemail(response: VoiceResponse, language: str, *, prompt: bool = True) -> None:
    """The voicemail prompt and ``Record``; the recording reports to ``/recording``."""
    if prompt:
        response.say(replies.voicemail_prompt(language), language=say_language(language))
    response.record(
        max_length=current_app.config["VOICEMAIL_MAX_SECONDS"], play_beep=True,
        timeout=RECORD_SILENCE_SECONDS, method="POST",
        action=public_url("twilio_voice.recorded", lang=language),
        recording_status_callback=public_url("twilio_voice.recording"),
        recording_status_callback_method="POST",
        recording_status_callback_event="completed",
    )
    response.hangup()


def menu_answer(repeats: int = MENU_REPEATS) -> Response:
    """The language menu as an answer."""
    response = VoiceResponse()
    add_menu(response, repeats)
    return twiml(response)


def voicemail_answer(language: str) -> Response:
    """Voicemail in ``language`` as an answer."""
    response = VoiceResponse()
    add_voicemail(response, language)
    return twiml(response)


def hangup_answer() -> Response:
    """Hang up."""
    response = VoiceResponse()
    response.hangup()
    return twiml(response)


def dial_answer(language: str, staff: list[tuple[int, str]],
                hotline_number: str | None) -> Response:
    """Ring every (user id, number) at once; each staff member is screened before the call
    joins, and the screen URL names them so the call records who took it."""
    response = VoiceResponse()
    response.say(replies.connecting(language), language=say_language(language))
    # The hotline's number, not the caller's, shows up in staff phones' call logs.
    dial = response.dial(timeout=DIAL_TIMEOUT_SECONDS, answer_on_bridge=True, method="POST",
                         action=public_url("twilio_voice.dial_result", lang=language),
                         caller_id=hotline_number or None)
    for user_id, number in staff:
        dial.number(number, url=public_url("twilio_voice.screen", lang=language,
                                           staff=str(user_id)), method="POST")
    return twiml(response)


def screen_answer(language: str, staff: str | None = None, context: str | None = None,
                  staff_language: str = languages.DEFAULT) -> Response:
    """Asked of the staff member who picks up: press 1 to take the call, else hang up.

    ``context`` (``replies.screen_case``) names the case and whether the caller is known;
    the prompt is in ``staff_language``, the language of the staff member rung.
    """
    response = VoiceResponse()
    query = {"lang": language, **({"staff": staff} if staff else {})}
    gather = response.gather(num_digits=1, timeout=SCREEN_TIMEOUT_SECONDS, method="POST",
                             action=public_url("twilio_voice.screen", **query))
    gather.say(replies.screen_prompt(language, context, staff_language),
               language=say_language(staff_language))
    response.hangup()
    return twiml(response)


def thanks_answer(language: str) -> Response:
    """Thank the caller for the voicemail in their language and hang up."""
    response = VoiceResponse()
    response.say(replies.voicemail_thanks(language), language=say_language(language))
    response.hangup()
    return twiml(response)


def apology_answer() -> Response:
    """The fallback: an apology in every language, then a backup number or voicemail."""
    response = VoiceResponse()
    for language in ivr_languages() or [languages.DEFAULT]:
        response.say(replies.apology(language), language=say_language(language))
    backup = current_app.config.get("VOICE_BACKUP_NUMBER")
    if backup:
        dial = response.dial(timeout=BACKUP_DIAL_TIMEOUT_SECONDS, method="POST",
                             action=public_url("twilio_voice.dial_result",
                                               lang=default_language()))
        dial.number(backup)
        return twiml(response)
    for language in ivr_languages() or [languages.DEFAULT]:
        response.say(replies.voicemail_prompt(language), language=say_language(language))
    add_voicemail(response, default_language(), prompt=False)
    return twiml(response)


# ---- calls through the line (call-backs, interpreters) --------------------------------------

def call_back_screen(leg_id: int, case: Any, staff_language: str = languages.DEFAULT) -> str:
    """The TwiML of a call-back's staff leg (given to ``calls.create``): the screen.

    The same screen as an inbound call: press 1 (``/twilio/voice/screen?leg=…``) and
    the line dials the caller; anything else, or a staff voicemail, hangs up. The
    prompt names the case, never the caller's number.
    """
    response = VoiceResponse()
    gather = response.gather(num_digits=1, timeout=SCREEN_TIMEOUT_SECONDS, method="POST",
                             action=public_url("twilio_voice.screen", leg=str(leg_id)))
    gather.say(replies.call_back_prompt(case.reference, case.language, staff_language),
               language=say_language(staff_language))
    response.hangup()
    return str(response)


def conference_twiml(name: str, notice: str | None = None,
                     staff_language: str = languages.DEFAULT) -> str:
    """Join the conference ``name`` (silence while alone; it ends when this leg leaves);
    ``notice`` is said first, in ``staff_language``."""
    response = VoiceResponse()
    if notice:
        response.say(notice, language=say_language(staff_language))
    dial = response.dial()
    dial.conference(name, beep="false", start_conference_on_enter=True,
                    end_conference_on_exit=True, wait_url="")
    return str(response)


def conference_answer(name: str, notice: str | None = None,
                      staff_language: str = languages.DEFAULT) -> Response:
    """``conference_twiml`` as an answer."""
    return twiml(conference_twiml(name, notice, staff_language))


def call_back_ended(outcome: Any, staff_language: str = languages.DEFAULT) -> str:
    """Said to a staff member left alone: why the caller is not coming, then hang up."""
    response = VoiceResponse()
    response.say(replies.call_back_ended(outcome, staff_language),
                 language=say_language(staff_language))
    response.hangup()
    return str(response)


def staff_notice_answer(text: str, staff_language: str = languages.DEFAULT) -> Response:
    """Tell the staff member something (in ``staff_language``) and hang up."""
    response = VoiceResponse()
    response.say(text, language=say_language(staff_language))
    response.hangup()
    return twiml(response)
