"""Twilio voice webhooks: the language menu, ringing staff on duty, voicemail.

Every answer is TwiML a caller can hear, whatever happens: bad input gets a safe
answer (never a 4xx/5xx, which Twilio turns into "an application error has
occurred"), and a failed database write spools the request (see ``spool``) and
answers as the call would go on without a database: the menu, then voicemail.
The caller's language travels in the callback URLs (``?lang=``), so answers after
the menu need no database either.

One ``call`` interaction per CallSid, one ``voicemail`` per RecordingSid. The call's
outcome (menu choice, dial result, call status, voicemail) is gathered on the call's
``meta`` by whichever callback arrives, in any order; ``needs_callback`` decides
from what is known so far whether the case goes into the callback queue.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import urlencode, urlsplit

from flask import Blueprint, Response, abort, current_app, request
from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError
from twilio.twiml.voice_response import VoiceResponse
from werkzeug.datastructures import ImmutableMultiDict
from werkzeug.exceptions import HTTPException

from hotline.crypto import AddressError, normalise_address
from hotline.extensions import db
from hotline.intake import replies
from hotline.intake.service import IntakeError, receive
from hotline.intake.signature import twilio_form, twilio_webhook
from hotline.intake.spool import NotYetKnown, SpoolError, durable, is_replay, spool_current_request
from hotline.models import Case, Interaction, User

bp = Blueprint("twilio_voice", __name__, url_prefix="/twilio/voice")

SID_PATTERN = re.compile(r"^[A-Za-z0-9]{2,64}$")
SAY_LANGUAGE = {"ko": "ko-KR", "ru": "ru-RU", "uk": "uk-UA", "en": "en-US"}
MENU_TIMEOUT_SECONDS = 6
MENU_REPEATS = 2
DIAL_TIMEOUT_SECONDS = 20
BACKUP_DIAL_TIMEOUT_SECONDS = 30
SCREEN_TIMEOUT_SECONDS = 8
MAX_DIAL_NUMBERS = 10  # Twilio rings at most ten <Number>s at once
RECORD_SILENCE_SECONDS = 10
CASE_UPDATE_ATTEMPTS = 3
ANSWERED = frozenset({"completed", "answered"})
DIAL_STATUSES = frozenset({"completed", "answered", "busy", "no-answer", "failed", "canceled"})
CALL_STATUSES = frozenset({"queued", "initiated", "ringing", "in-progress", "completed", "busy",
                           "no-answer", "failed", "canceled"})
FINAL_CALL_STATUSES = frozenset({"completed", "busy", "no-answer", "failed", "canceled"})


# ---- small helpers -------------------------------------------------------------------

def twiml(response: VoiceResponse) -> Response:
    """A TwiML answer as ``text/xml``."""
    return Response(str(response), mimetype="text/xml")


def absolute(path: str, **query: str) -> str:
    """The public URL of one of our routes (what Twilio calls and signs)."""
    base = current_app.config.get("PUBLIC_BASE_URL") or request.host_url.rstrip("/")
    return base + path + ("?" + urlencode(query) if query else "")


def ivr_languages() -> list[str]:
    """The menu languages in key order (``IVR_LANGUAGES``), unknown codes left out."""
    return [code for code in current_app.config["IVR_LANGUAGES"] if code in SAY_LANGUAGE]


def default_language() -> str:
    """The language of voicemail when the caller chose none."""
    code = current_app.config.get("DEFAULT_LANGUAGE") or "en"
    return code if code in SAY_LANGUAGE else "en"


def language_param() -> str:
    """The caller's language from the ``lang`` query parameter, else the default."""
    code = request.args.get("lang", "")
    return code if code in SAY_LANGUAGE else default_language()


def language_for_digits(digits: str | None) -> str | None:
    """The language a menu key selects, or None for any other input."""
    languages = ivr_languages()
    digits = (digits or "").strip()
    if len(digits) == 1 and digits.isdigit() and 1 <= int(digits) <= len(languages):
        return languages[int(digits) - 1]
    return None


def valid_sid(form: ImmutableMultiDict, name: str) -> str | None:
    """A well-formed Sid field, or None."""
    value = (form.get(name) or "").strip()
    return value if SID_PATTERN.match(value) else None


def required_sid(form: ImmutableMultiDict, name: str) -> str:
    """A well-formed Sid field, or 400 (callback routes only)."""
    value = valid_sid(form, name)
    if value is None:
        abort(400, description=f"missing or malformed {name}")
    return value


# ---- TwiML builders --------------------------------------------------------------------

def _prompt(element, language: str, text: str) -> None:  # noqa: ANN001 - a TwiML element
    recording = (current_app.config.get("IVR_PROMPT_URLS") or {}).get(language)
    if recording:
        element.play(recording)
    else:
        element.say(text, language=SAY_LANGUAGE[language])


def add_menu(response: VoiceResponse, repeats: int) -> None:
    """The language menu, repeated ``repeats`` times, then voicemail in the default language."""
    for _ in range(repeats):
        gather = response.gather(num_digits=1, timeout=MENU_TIMEOUT_SECONDS, method="POST",
                                 action=absolute("/twilio/voice/language"))
        for position, language in enumerate(ivr_languages(), start=1):
            _prompt(gather, language, replies.menu_prompt(language, position))
    add_voicemail(response, default_language())


def add_voicemail(response: VoiceResponse, language: str, *, prompt: bool = True) -> None:
    """The voicemail prompt and ``Record``; the recording reports to ``/recording``."""
    if prompt:
        response.say(replies.voicemail_prompt(language), language=SAY_LANGUAGE[language])
    response.record(
        max_length=current_app.config["VOICEMAIL_MAX_SECONDS"], play_beep=True,
        timeout=RECORD_SILENCE_SECONDS, method="POST",
        action=absolute("/twilio/voice/recorded", lang=language),
        recording_status_callback=absolute("/twilio/voice/recording"),
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


def dial_answer(language: str, numbers: list[str], hotline_number: str | None) -> Response:
    """Ring every number at once; each staff member is screened before the call joins."""
    response = VoiceResponse()
    response.say(replies.connecting(language), language=SAY_LANGUAGE[language])
    # The hotline's number, not the caller's, shows up in staff phones' call logs.
    dial = response.dial(timeout=DIAL_TIMEOUT_SECONDS, answer_on_bridge=True, method="POST",
                         action=absolute("/twilio/voice/dial-result", lang=language),
                         caller_id=hotline_number or None)
    for number in numbers:
        dial.number(number, url=absolute("/twilio/voice/screen", lang=language), method="POST")
    return twiml(response)


def apology_answer() -> Response:
    """The fallback: an apology in every language, then a backup number or voicemail."""
    response = VoiceResponse()
    for language in ivr_languages() or ["en"]:
        response.say(replies.apology(language), language=SAY_LANGUAGE[language])
    backup = current_app.config.get("VOICE_BACKUP_NUMBER")
    if backup:
        dial = response.dial(timeout=BACKUP_DIAL_TIMEOUT_SECONDS, method="POST",
                             action=absolute("/twilio/voice/dial-result",
                                             lang=default_language()))
        dial.number(backup)
        return twiml(response)
    for language in ivr_languages() or ["en"]:
        response.say(replies.voicemail_prompt(language), language=SAY_LANGUAGE[language])
    add_voicemail(response, default_language(), prompt=False)
    return twiml(response)


# ---- the call record ---------------------------------------------------------------------

def find_call(call_sid: str, *, lock: bool = False) -> Interaction | None:
    """The ``call`` interaction of a CallSid (locked for update if asked)."""
    query = select(Interaction).where(Interaction.kind == "call",
                                      Interaction.external_id == call_sid)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    return db.session.execute(query).scalar_one_or_none()


def ensure_call(form: ImmutableMultiDict, call_sid: str) -> Interaction:
    """The call's interaction, taken in through the intake service if new (idempotent).

    A withheld or unusable number still makes a case: its caller is keyed by the
    CallSid (address kind ``web``: nothing to call or text back).
    """
    existing = find_call(call_sid)
    if existing is not None:
        return existing
    sender = (form.get("From") or "").strip()
    meta = {"call_status": (form.get("CallStatus") or "").strip().lower()[:16] or None}
    try:
        normalise_address("phone", sender)
    except AddressError:
        return receive(channel="voice", address=f"withheld-call:{call_sid}", address_kind="web",
                       body=None, external_id=call_sid, kind="call",
                       meta={**meta, "withheld": True}).interaction
    return receive(channel="voice", address=sender, body=None, external_id=call_sid,
                   kind="call", meta=meta).interaction


def needs_callback(meta: dict) -> bool:
    """Whether what is known of a call puts its case into the callback queue.

    A voicemail always does; so does a call that ended, or a dial that finished,
    without reaching a staff member.
    """
    if meta.get("dial_status") in ANSWERED:
        return False
    return bool(meta.get("voicemail") or meta.get("dial_status")
                or meta.get("call_status") in FINAL_CALL_STATUSES)


def update_call(call_sid: str, change: Callable[[dict, Case], None]) -> Interaction:
    """Apply ``change(meta, case)`` to a stored call under a row lock, settle the
    callback flag and commit; retried when a concurrent case edit wins."""
    for attempt in range(CASE_UPDATE_ATTEMPTS):
        call = find_call(call_sid, lock=True)
        if call is None:
            raise NotYetKnown(f"call {call_sid} not stored yet")
        case = db.session.execute(
            select(Case).where(Case.id == call.case_id).with_for_update()
            .execution_options(populate_existing=True)
        ).scalar_one()
        meta = dict(call.meta or {})
        change(meta, case)
        wanted = needs_callback(meta)
        if wanted and not meta.get("callback_marked"):
            case.callback_needed = True
            meta["callback_marked"] = True
        elif not wanted and meta.get("callback_marked"):
            # An answered dial reported after the call's end: the call did reach staff.
            case.callback_needed = False
            meta["callback_marked"] = False
        if meta != call.meta:
            call.meta = meta
        try:
            db.session.commit()
            return call
        except StaleDataError:
            db.session.rollback()
            if attempt == CASE_UPDATE_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


def on_duty_numbers(language: str) -> list[str]:
    """E.164 numbers of active staff on duty who speak ``language`` (at most ten)."""
    users = db.session.execute(
        select(User).where(User.on_duty.is_(True), User.active.is_(True)).order_by(User.id)
    ).scalars()
    numbers: list[str] = []
    for user in users:
        if language not in user.language_list or not user.phone:
            continue
        try:
            number = normalise_address("phone", user.phone)
        except AddressError:
            continue
        if number not in numbers:
            numbers.append(number)
        if len(numbers) == MAX_DIAL_NUMBERS:
            break
    return numbers


def _hotline_number(form: ImmutableMultiDict) -> str | None:
    try:
        return normalise_address("phone", form.get("To") or "")
    except AddressError:
        return None


@bp.errorhandler(400)
@bp.errorhandler(413)
def unreadable_request(error: HTTPException) -> Response:
    """A body that cannot even be parsed still gets TwiML the caller can hear.

    The two callback routes (``/recording``, ``/status``) keep their plain 4xx reason.
    """
    if request.path.endswith(("/recording", "/status")):
        return Response((error.description or error.name) + "\n", status=error.code,
                        mimetype="text/plain")
    if request.path.endswith("/screen"):
        return hangup_answer()
    if request.path.rstrip("/") == "/twilio/voice":
        return menu_answer()
    return voicemail_answer(language_param())


# ---- routes --------------------------------------------------------------------------

@bp.post("")
@twilio_webhook
@durable(offline=lambda _form: menu_answer(), always_answer=True)
def incoming_call() -> Response:
    """A call arrives: take it in, play the language menu."""
    call_sid = valid_sid(twilio_form(), "CallSid")
    if call_sid is not None:
        ensure_call(twilio_form(), call_sid)
    return menu_answer()


def _offline_language(form: ImmutableMultiDict) -> Response:
    language = language_for_digits(form.get("Digits"))
    return voicemail_answer(language) if language else menu_answer(repeats=1)


@bp.post("/language")
@twilio_webhook
@durable(offline=_offline_language, always_answer=True)
def choose_language() -> Response:
    """The caller pressed a key: set the case language, ring staff who speak it."""
    form = twilio_form()
    language = language_for_digits(form.get("Digits"))
    if language is None:
        return menu_answer(repeats=1)
    call_sid = valid_sid(form, "CallSid")
    if call_sid is None:
        return voicemail_answer(language)
    ensure_call(form, call_sid)
    numbers: list[str] = [] if is_replay() else on_duty_numbers(language)

    def choose(meta: dict, case: Case) -> None:
        meta["language"] = language
        case.language = language
        case.caller.preferred_language = case.caller.preferred_language or language
        if not numbers:
            # Replayed: the caller went to voicemail while the database was away.
            meta["dial_status"] = "unavailable" if is_replay() else "no-staff"

    update_call(call_sid, choose)
    if not numbers:
        return voicemail_answer(language)
    return dial_answer(language, numbers, _hotline_number(form))


@bp.post("/screen")
@twilio_webhook
def screen() -> Response:
    """Played to the staff member who picks up: 1 accepts, anything else hangs up.

    A staff voicemail cannot press 1, so it never "answers" the caller.
    """
    form = twilio_form()
    response = VoiceResponse()
    if "Digits" in form:
        if (form.get("Digits") or "").strip() == "1":
            return twiml(response)  # an empty answer bridges the call
        response.hangup()
        return twiml(response)
    language = language_param()
    gather = response.gather(num_digits=1, timeout=SCREEN_TIMEOUT_SECONDS, method="POST",
                             action=absolute("/twilio/voice/screen", lang=language))
    gather.say(replies.screen_prompt(language), language=SAY_LANGUAGE["en"])
    response.hangup()
    return twiml(response)


def _dial_status(form: ImmutableMultiDict) -> str:
    status = (form.get("DialCallStatus") or "").strip().lower()
    return status if status in DIAL_STATUSES else "unknown"


def _dial_result_answer(form: ImmutableMultiDict) -> Response:
    if _dial_status(form) in ANSWERED:
        return hangup_answer()
    return voicemail_answer(language_param())


@bp.post("/dial-result")
@twilio_webhook
@durable(offline=_dial_result_answer, always_answer=True)
def dial_result() -> Response:
    """The ringing ended: hang up after a conversation, else offer voicemail."""
    form = twilio_form()
    call_sid = valid_sid(form, "CallSid")
    if call_sid is not None:
        ensure_call(form, call_sid)
        status = _dial_status(form)

        def record(meta: dict, _case: Case) -> None:
            meta["dial_status"] = status

        update_call(call_sid, record)
    return _dial_result_answer(form)


@bp.post("/recorded")
@twilio_webhook
def recorded() -> Response:
    """The caller finished the voicemail: thank them in their language and hang up."""
    language = language_param()
    response = VoiceResponse()
    response.say(replies.voicemail_thanks(language), language=SAY_LANGUAGE[language])
    response.hangup()
    return twiml(response)


@bp.post("/recording")
@twilio_webhook
@durable(offline=lambda _form: Response(status=204))
def recording() -> Response:
    """A recording is ready: attach the voicemail to the call's case (once); 204."""
    form = twilio_form()
    recording_sid = required_sid(form, "RecordingSid")
    call_sid = required_sid(form, "CallSid")
    status = (form.get("RecordingStatus") or "completed").strip().lower()
    if status != "completed":
        return Response(status=204)  # absent or failed: nothing to attach
    url = (form.get("RecordingUrl") or "").strip()
    if urlsplit(url).scheme != "https" or len(url) > 500:
        abort(400, description="missing or malformed RecordingUrl")
    try:
        duration = int(form.get("RecordingDuration") or 0)
    except ValueError:
        abort(400, description="malformed RecordingDuration")
    call = find_call(call_sid)
    if call is None:
        raise NotYetKnown(f"call {call_sid} not stored yet")
    caller = call.case.caller
    if not caller.address:
        abort(400, description="the caller of this call was purged")
    try:
        result = receive(
            channel="voice", address=caller.address, address_kind=caller.address_kind,
            body=None, external_id=recording_sid, kind="voicemail",
            meta={"recording_url": url, "duration": max(duration, 0), "call_sid": call_sid,
                  "language": (call.meta or {}).get("language")},
        )
    except IntakeError as exc:
        abort(400, description=str(exc))
    voicemail_case_id = result.case.id

    def attach(meta: dict, case: Case) -> None:
        meta["voicemail"] = recording_sid
        if voicemail_case_id != case.id:
            # The call's case was closed meanwhile and the voicemail opened another.
            db.session.get(Case, voicemail_case_id).callback_needed = True

    update_call(call_sid, attach)
    return Response(status=204)


@bp.post("/status")
@twilio_webhook
@durable(offline=lambda _form: Response(status=204))
def call_status() -> Response:
    """The call ended (or changed state): record the outcome; 204."""
    form = twilio_form()
    call_sid = required_sid(form, "CallSid")
    status = (form.get("CallStatus") or "").strip().lower()
    if status not in CALL_STATUSES:
        abort(400, description="missing or unknown CallStatus")
    try:
        duration = int(form.get("CallDuration") or 0)
    except ValueError:
        abort(400, description="malformed CallDuration")
    ensure_call(form, call_sid)

    def record(meta: dict, _case: Case) -> None:
        # A late "ringing" never overwrites a final status.
        if meta.get("call_status") not in FINAL_CALL_STATUSES or status in FINAL_CALL_STATUSES:
            meta["call_status"] = status
        if duration:
            meta["duration"] = max(duration, 0)

    update_call(call_sid, record)
    return Response(status=204)


@bp.post("/fallback")
@twilio_webhook
def fallback() -> Response:
    """Twilio's fallback when ``/twilio/voice`` fails: apologise, then a backup number
    or voicemail. Touches no database; the spooled request takes the call in later."""
    form = twilio_form()
    call_sid = valid_sid(form, "CallSid")
    if is_replay():
        if call_sid is not None:
            ensure_call(form, call_sid)
        return apology_answer()
    try:
        spool_current_request()
    except SpoolError:
        current_app.logger.error("voice fallback could not be spooled")
    return apology_answer()
