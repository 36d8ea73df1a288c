"""Twilio voice webhooks (the IVR): the language menu, ringing staff on duty, voicemail.

Every answer is TwiML a caller can hear, whatever happens: bad input gets a safe
answer (never a 4xx/5xx, which Twilio turns into "an application error has
occurred"), and a failed database write spools the request (see ``spool``) and
answers as the call would go on without a database: the menu, then voicemail.
The caller's language travels in the callback URLs (``?lang=``), so answers after
the menu need no database either.

The answers are built in ``twiml``; the call record and the roster are in ``calls``.
One ``call`` interaction per CallSid, one ``voicemail`` per RecordingSid.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, Response, abort, current_app, request
from sqlalchemy.exc import SQLAlchemyError
from twilio.twiml.voice_response import VoiceResponse
from werkzeug.datastructures import ImmutableMultiDict
from werkzeug.exceptions import HTTPException

from hotline.cases.queries import valid_id
from hotline.cases.timeline import CallMeta, voicemail_meta
from hotline.channels.replies import call_back_connecting, call_back_stopped
from hotline.channels.twilio.calls import (
    ANSWERED,
    CALL_STATUSES,
    DIAL_STATUSES,
    FINAL_CALL_STATUSES,
    LegMismatch,
    UnknownLeg,
    accept_call_back,
    end_inbound_legs,
    ensure_call,
    find_call,
    leg_staff_language,
    moved_conference,
    on_duty_staff,
    record_inbound_accept,
    record_leg_status,
    screen_context,
    staff_language,
    update_call,
)
from hotline.channels.twilio.twiml import (
    apology_answer,
    conference_answer,
    dial_answer,
    hangup_answer,
    language_for_digits,
    language_param,
    menu_answer,
    screen_answer,
    staff_notice_answer,
    thanks_answer,
    twiml,
    voicemail_answer,
)
from hotline.crypto import AddressError, normalise_address
from hotline.extensions import db
from hotline.i18n import staff_default
from hotline.intake.service import IntakeError, receive
from hotline.intake.signature import twilio_form, twilio_webhook
from hotline.intake.spool import NotYetKnown, SpoolError, durable, is_replay, spool_current_request
from hotline.intake.webhooks import required_sid, valid_sid
from hotline.models import Case

bp = Blueprint("twilio_voice", __name__, url_prefix="/twilio/voice")

# Callback routes answer Twilio, not a caller: they keep plain 4xx reasons.
CALLBACK_ENDPOINTS = frozenset({"twilio_voice.recording", "twilio_voice.call_status",
                                "twilio_voice.leg_status"})


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
    if request.endpoint in CALLBACK_ENDPOINTS:
        return Response((error.description or error.name) + "\n", status=error.code,
                        mimetype="text/plain")
    if request.endpoint == "twilio_voice.screen":
        return hangup_answer()
    if request.endpoint == "twilio_voice.incoming_call":
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
    staff: list[tuple[int, str]] = [] if is_replay() else on_duty_staff(language)

    def choose(meta: CallMeta, case: Case) -> None:
        meta["language"] = language
        case.language = language
        case.caller.preferred_language = case.caller.preferred_language or language
        if not staff:
            # Replayed: the caller went to voicemail while the database was away.
            meta["dial_status"] = "unavailable" if is_replay() else "no-staff"

    update_call(call_sid, choose)
    if not staff:
        return voicemail_answer(language)
    return dial_answer(language, staff, _hotline_number(form))


@bp.post("/screen")
@twilio_webhook
def screen() -> Response:
    """Played to the staff member who picks up: 1 accepts, anything else hangs up.

    A staff voicemail cannot press 1, so it never "answers" the caller. Pressing 1
    records on the caller's call (``ParentCallSid``) who took it: the ``staff`` id in
    this URL, which Twilio signed as part of it. The prompt names the case (its
    reference, letter by letter) and whether the caller is known.

    A call-back's staff leg gathers here too (``?leg=<id>``): 1 dials the caller into
    the conference this leg joins.
    """
    form = twilio_form()
    leg = request.args.get("leg", "")
    if leg:
        return _screen_call_back(form, leg)
    response = VoiceResponse()
    staff = request.args.get("staff", "")
    staff = staff if valid_id(staff) else ""
    if "Digits" in form:
        if (form.get("Digits") or "").strip() == "1":
            _record_answered_by(form, staff)
            return twiml(response)  # an empty answer bridges the call
        response.hangup()
        return twiml(response)
    spoken = _staff_language(staff or None)
    return screen_answer(language_param(), staff or None, _case_context(form, spoken), spoken)


def _staff_language(staff: str | None, leg: str | None = None) -> str:
    """The language of the staff member rung (by user or call-back leg id); the default
    when unknown or when the database cannot say (never in the way of the call)."""
    try:
        if leg is not None:
            return leg_staff_language(leg) if valid_id(leg) else staff_language(None)
        return staff_language(staff)
    except SQLAlchemyError as exc:
        db.session.rollback()
        current_app.logger.warning("staff prompt language unknown: %s", type(exc).__name__)
        return staff_default()


def _case_context(form: ImmutableMultiDict, spoken: str) -> str | None:
    """What the screen says of the case; None when unknown (never in the way)."""
    parent = valid_sid(form, "ParentCallSid")
    if parent is None:
        return None
    try:
        return screen_context(parent, spoken)
    except SQLAlchemyError as exc:
        db.session.rollback()
        current_app.logger.warning("screen without case context: %s", type(exc).__name__)
        return None


def _screen_call_back(form: ImmutableMultiDict, leg: str) -> Response:
    """A call-back's staff leg pressed a key: 1 joins the conference and dials the caller."""
    if (form.get("Digits") or "").strip() != "1":
        return hangup_answer()
    spoken = _staff_language(None, leg)
    call_sid = valid_sid(form, "CallSid")
    if not valid_id(leg) or call_sid is None:
        return staff_notice_answer(call_back_stopped(spoken), spoken)
    try:
        conference = accept_call_back(int(leg), call_sid)
    except (UnknownLeg, LegMismatch, SQLAlchemyError) as exc:
        db.session.rollback()
        current_app.logger.warning("call-back not accepted: %s", type(exc).__name__)
        conference = None
    if conference is None:
        return staff_notice_answer(call_back_stopped(spoken), spoken)
    return conference_answer(conference, call_back_connecting(spoken), spoken)


def _record_answered_by(form: ImmutableMultiDict, staff: str) -> None:
    """Note who accepted the call; never in the way of bridging it (best effort)."""
    parent = valid_sid(form, "ParentCallSid")
    if not staff or parent is None:
        return

    def answered(meta: CallMeta, _case: Case) -> None:
        meta["answered_by"] = int(staff)

    try:
        update_call(parent, answered)
        child = valid_sid(form, "CallSid")
        if child is not None:
            record_inbound_accept(parent, child, int(staff))
    except (NotYetKnown, SQLAlchemyError) as exc:
        db.session.rollback()
        current_app.logger.warning("could not record who answered: %s", type(exc).__name__)


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

        def record(meta: CallMeta, _case: Case) -> None:
            meta["dial_status"] = status

        call = update_call(call_sid, record)
        conference = moved_conference(call)
        if conference is not None and status in ANSWERED:
            # The staff leg left the bridge for a conference (an interpreter): follow it.
            return conference_answer(conference)
        end_inbound_legs(call_sid)
    return _dial_result_answer(form)


@bp.post("/recorded")
@twilio_webhook
def recorded() -> Response:
    """The caller finished the voicemail: thank them in their language and hang up."""
    return thanks_answer(language_param())


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
            meta=voicemail_meta(recording_url=url, duration=duration, call_sid=call_sid,
                                language=(call.meta or {}).get("language")),
        )
    except IntakeError as exc:
        abort(400, description=str(exc))
    voicemail_case_id = result.case.id

    def attach(meta: CallMeta, case: Case) -> None:
        meta["voicemail"] = recording_sid
        if voicemail_case_id != case.id:
            # The call's case was closed meanwhile and the voicemail opened another.
            db.session.get_one(Case, voicemail_case_id).callback_needed = True

    update_call(call_sid, attach)
    return Response(status=204)


def _status_and_duration(form: ImmutableMultiDict) -> tuple[str, int]:
    """A status report's ``CallStatus`` (lower case) and ``CallDuration`` (seconds, 0 when
    absent); 400 for a missing or unknown status or a malformed duration."""
    status = (form.get("CallStatus") or "").strip().lower()
    if status not in CALL_STATUSES:
        abort(400, description="missing or unknown CallStatus")
    try:
        duration = int(form.get("CallDuration") or 0)
    except ValueError:
        abort(400, description="malformed CallDuration")
    return status, duration


@bp.post("/status")
@twilio_webhook
@durable(offline=lambda _form: Response(status=204))
def call_status() -> Response:
    """The call ended (or changed state): record the outcome; 204."""
    form = twilio_form()
    call_sid = required_sid(form, "CallSid")
    status, duration = _status_and_duration(form)
    ensure_call(form, call_sid)

    def record(meta: CallMeta, _case: Case) -> None:
        # A late "ringing" never overwrites a final status.
        if meta.get("call_status") not in FINAL_CALL_STATUSES or status in FINAL_CALL_STATUSES:
            meta["call_status"] = status
        if duration:
            meta["duration"] = max(duration, 0)

    update_call(call_sid, record)
    if status in FINAL_CALL_STATUSES:
        end_inbound_legs(call_sid, duration or None)
    return Response(status=204)


@bp.post("/leg-status")
@twilio_webhook
@durable(offline=lambda _form: Response(status=204))
def leg_status() -> Response:
    """A call-back's or interpreter's leg changed state (``?leg=<id>``, signed): 204.

    Idempotent: a repeated or late report (``ringing`` after ``in-progress``) changes
    nothing; the leg's first CallSid is its own, another is refused.
    """
    form = twilio_form()
    leg = request.args.get("leg", "")
    if not valid_id(leg):
        abort(400, description="missing or malformed leg")
    call_sid = required_sid(form, "CallSid")
    status, duration = _status_and_duration(form)
    try:
        record_leg_status(int(leg), call_sid, status, max(duration, 0) or None)
    except UnknownLeg:
        abort(400, description="unknown leg")
    except LegMismatch:
        abort(400, description="CallSid does not match the leg")
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
