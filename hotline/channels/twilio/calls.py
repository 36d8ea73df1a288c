"""The call record: one ``call`` interaction per CallSid, and the on-duty roster.

The call's outcome (menu choice, dial result, call status, voicemail) is gathered on
the call's ``meta`` by whichever callback arrives, in any order; ``needs_callback``
decides from what is known so far whether the case goes into the callback queue.
``on_duty_staff`` is who the line rings.

Calls through the line (call-backs, interpreters) are the second half of this module:
their legs (``CallLeg``) are the state machine, the timeline entry their summary.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.datastructures import ImmutableMultiDict

from hotline.cases import timeline
from hotline.cases.timeline import CallMeta, call_meta
from hotline.channels import replies
from hotline.crypto import AddressError, normalise_address
from hotline.extensions import db
from hotline.i18n import staff_default, user_language
from hotline.intake.service import receive
from hotline.intake.spool import NotYetKnown
from hotline.messaging.outbox import OUTBOX_WAKE_KEY
from hotline.models import CallLeg, Case, Interaction, User, utcnow
from hotline.twilio_client import is_configured

MAX_DIAL_NUMBERS = 10  # Twilio rings at most ten <Number>s at once
CASE_UPDATE_ATTEMPTS = 3
ANSWERED = frozenset({"completed", "answered"})
DIAL_STATUSES = frozenset({"completed", "answered", "busy", "no-answer", "failed", "canceled"})
CALL_STATUSES = frozenset(timeline.CALL_STATUSES)
FINAL_CALL_STATUSES = frozenset({"completed", "busy", "no-answer", "failed", "canceled"})


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
    status = (form.get("CallStatus") or "").strip().lower()[:16] or None
    try:
        normalise_address("phone", sender)
    except AddressError:
        return receive(channel="voice", address=f"withheld-call:{call_sid}", address_kind="web",
                       body=None, external_id=call_sid, kind="call",
                       meta=call_meta(call_status=status, withheld=True)).interaction
    return receive(channel="voice", address=sender, body=None, external_id=call_sid,
                   kind="call", meta=call_meta(call_status=status)).interaction


def needs_callback(meta: dict) -> bool:
    """Whether what is known of a call puts its case into the callback queue.

    A voicemail always does; so does a call that ended, or a dial that finished,
    without reaching a staff member.
    """
    if meta.get("dial_status") in ANSWERED:
        return False
    return bool(meta.get("voicemail") or meta.get("dial_status")
                or meta.get("call_status") in FINAL_CALL_STATUSES)


def update_call(call_sid: str, change: Callable[[CallMeta, Case], None]) -> Interaction:
    """Apply ``change(meta, case)`` to a stored call under a row lock, settle the
    callback flag and commit; retried when a concurrent case edit wins.

    It commits itself (unlike other services) because the retry after a lost
    version race needs a fresh transaction; webhooks call it last.
    """
    for attempt in range(CASE_UPDATE_ATTEMPTS):
        call = find_call(call_sid, lock=True)
        if call is None:
            raise NotYetKnown(f"call {call_sid} not stored yet")
        case = db.session.execute(
            select(Case).where(Case.id == call.case_id).with_for_update()
            .execution_options(populate_existing=True)
        ).scalar_one()
        meta = CallMeta(**(call.meta or {}))  # type: ignore[typeddict-item]
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


def on_duty_staff(language: str) -> list[tuple[int, str]]:
    """(user id, E.164 number) of active staff on duty who speak ``language`` (at most ten).

    The id travels in the screen URL (signed by Twilio), so the call records who took it.
    """
    users = db.session.execute(
        select(User).where(User.on_duty.is_(True), User.active.is_(True)).order_by(User.id)
    ).scalars()
    staff: list[tuple[int, str]] = []
    for user in users:
        if language not in user.language_list or not user.phone:
            continue
        try:
            number = normalise_address("phone", user.phone)
        except AddressError:
            continue
        if number not in (known for _, known in staff):
            staff.append((user.id, number))
        if len(staff) == MAX_DIAL_NUMBERS:
            break
    return staff


# ---- calls through the line: call-backs, interpreters, their legs ---------------------------
#
# A call-back is a ``callback`` timeline entry (``via: line``) with two legs: the line
# rings the staff member's roster phone (``calls.create``, from TWILIO_VOICE_FROM, with
# the screen's TwiML); when they press 1 the staff leg joins a Twilio Conference and the
# caller's leg is queued; the worker dials the caller into it as a conference participant
# (from the same hotline number). Neither number reaches the other side: each leg's
# number is only the ``to`` of its own request to Twilio, both phones see the hotline's
# number. Every REST request is made by the worker (``dialer``), never in a request or a
# webhook. Each leg's status callback (``/twilio/voice/leg-status?leg=<id>``, the id
# signed by Twilio as part of the URL) moves the leg on, idempotently, and the entry's
# meta is re-summarised from its legs (``_summarise``).

NOT_PLACED = "not-placed"
FINAL_LEG_STATUSES = FINAL_CALL_STATUSES | {NOT_PLACED}
# A status only moves forward: ``ringing`` reported after ``in-progress`` changes nothing.
_LEG_STATUS_STEP = {"queued": 0, "initiated": 1, "ringing": 2, "in-progress": 3}
# A leg still not placed this long after it was queued is never placed: a phone ringing
# minutes after the staff member pressed the button is worse than a clear failure.
PLACE_WITHIN = timedelta(seconds=60)
# A leg reported live for longer than this lost its end (Twilio never said): not live.
LIVE_CALL_LIMIT = timedelta(hours=6)
STAFF_RING_SECONDS = 25
CALLER_RING_SECONDS = 30


def voice_from() -> str | None:
    """The hotline number call-backs come from (TWILIO_VOICE_FROM, E.164), or None."""
    try:
        return normalise_address("phone", current_app.config.get("TWILIO_VOICE_FROM") or "")
    except AddressError:
        return None


def line_refusal() -> str | None:
    """Why the line cannot place calls at all (the button says it), or None."""
    if voice_from() is None:
        return _("Call-back is off: the hotline has no number to call from "
                 "(TWILIO_VOICE_FROM is not set).")
    if not is_configured():
        return _("Call-back is off: Twilio is not configured "
                 "(TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN).")
    if not current_app.config.get("PUBLIC_BASE_URL"):
        return _("Call-back is off: PUBLIC_BASE_URL is not set, so Twilio would have no "
                 "address to report the call to.")
    return None


def roster_number(user: User | None) -> str | None:
    """A staff member's roster phone (E.164), or None when there is none usable."""
    if user is None or not user.active or not user.phone:
        return None
    try:
        return normalise_address("phone", user.phone)
    except AddressError:
        return None


def roster_refusal(user: User) -> str | None:
    """Why the line cannot ring ``user`` (no usable roster phone), or None."""
    if roster_number(user) is None:
        return _("Your roster entry has no phone number, so the line cannot ring you. "
                 "Ask an admin to add it (Admin → Users).")
    return None


def caller_number(case: Case) -> str | None:
    """The number the line may call for ``case``: the caller's own phone number, or the
    contact details a web visitor gave when they are a phone number and nothing else."""
    caller = case.caller
    if caller.address_kind == "phone" and caller.address:
        return caller.address
    if caller.address_kind == "web" and case.contact_details:
        try:
            return normalise_address("phone", case.contact_details)
        except AddressError:
            return None
    return None


def caller_refusal(case: Case) -> str | None:
    """Why the line must not call this case's caller (a code of ``LINE_ERRORS``), or None."""
    if case.caller.opted_out:
        return "opted_out"
    if case.caller.flag == "blocked":
        return "blocked"
    if caller_number(case) is None:
        return "no_caller_number"
    return None


def live_legs(case_ids: Iterable[int]) -> list[CallLeg]:
    """The legs of these cases that are on a call now (ringing or talking), oldest first."""
    ids = list(case_ids)
    if not ids:
        return []
    now = utcnow()
    return list(db.session.execute(
        select(CallLeg).where(CallLeg.case_id.in_(ids), CallLeg.status.in_(_LEG_STATUS_STEP),
                              CallLeg.created_at > now - LIVE_CALL_LIMIT,
                              # A leg nobody placed in time is over, worker or not.
                              or_(CallLeg.status != "queued",
                                  CallLeg.job_at > now - PLACE_WITHIN))
        .options(joinedload(CallLeg.user)).order_by(CallLeg.id)
    ).scalars())


def on_call_with(case_ids: Iterable[int]) -> dict[int, list[str]]:
    """For each case with a live call: the staff (and interpreters) on it, by name."""
    names: dict[int, list[str]] = {}
    for leg in live_legs(case_ids):
        if leg.user is None or leg.status != "in-progress":
            continue
        shown = names.setdefault(leg.case_id, [])
        if leg.user.display_name not in shown:
            shown.append(leg.user.display_name)
    return names


def live_call_entry(case: Case) -> Interaction | None:
    """The call on this case staff are talking on now (a call-back or an inbound call)."""
    for leg in live_legs([case.id]):
        if leg.role == "staff" and leg.status == "in-progress":
            return leg.interaction
    return None


def call_back_refusal(case: Case, actor: User, *, check_line: bool = True) -> str | None:
    """Why ``actor`` cannot call this case's caller back through the line now, or None.

    ``check_line=False`` leaves out whether Twilio and TWILIO_VOICE_FROM are set
    (``simulate call-back`` plays Twilio itself).
    """
    off = line_refusal() if check_line else None
    if off is not None:
        return off
    no_phone = roster_refusal(actor)
    if no_phone is not None:
        return no_phone
    refusal = caller_refusal(case)
    if refusal is not None:
        return str(timeline.LINE_ERRORS[refusal])
    busy = [leg for leg in live_legs([case.id]) if leg.role in ("staff", "caller")]
    if busy:
        who = next((leg.user.display_name for leg in busy if leg.user is not None), None)
        return _("A call with this caller is already under way (%(who)s).",
                 who=who or _("the caller"))
    return None


def _queue_leg(entry: Interaction, role: str, user_id: int | None) -> CallLeg:
    now = utcnow()
    leg = CallLeg(case_id=entry.case_id, interaction=entry, role=role, user_id=user_id,
                  job="place", job_at=now, status="queued", created_at=now)
    db.session.add(leg)
    db.session.flush()
    db.session.info[OUTBOX_WAKE_KEY] = True  # the development thread places it at once
    return leg


def start_call_back(case: Case, actor: User, *, unsafe_confirmed: bool = False
                    ) -> Interaction:
    """Add the call-back entry and queue its staff leg (flushes; the caller commits).

    The checks are the caller's (``call_back_refusal``, the contact-safety confirmation);
    the worker checks the caller again before dialling.
    """
    entry = Interaction(
        case=case, kind="callback", channel="voice", author_id=actor.id, created_at=utcnow(),
        meta=timeline.line_callback_meta(at=utcnow(), conference=new_conference_name(),
                                         unsafe_confirmed=unsafe_confirmed))
    db.session.add(entry)
    db.session.flush()
    _queue_leg(entry, "staff", actor.id)
    return entry


def new_conference_name() -> str:
    """A conference name nobody can guess or mix up with another install's."""
    return "hotline-" + secrets.token_hex(10)


def _locked_leg(leg_id: int) -> CallLeg | None:
    return db.session.execute(
        select(CallLeg).where(CallLeg.id == leg_id).with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()


def _legs_of(entry_id: int) -> list[CallLeg]:
    return list(db.session.execute(
        select(CallLeg).where(CallLeg.interaction_id == entry_id).order_by(CallLeg.id)
        .with_for_update().execution_options(populate_existing=True)
    ).scalars())


def _advance(leg: CallLeg, status: str, duration: int | None, now: datetime) -> bool:
    """Move the leg to ``status`` if that is forward; True when something changed."""
    if leg.status in FINAL_LEG_STATUSES:
        return False
    if status not in FINAL_LEG_STATUSES and _LEG_STATUS_STEP.get(status, -1) <= \
            _LEG_STATUS_STEP.get(leg.status, -1):
        return False
    leg.status = status
    if status == "in-progress" and leg.answered_at is None:
        leg.answered_at = now
    if status in FINAL_LEG_STATUSES:
        leg.ended_at = now
        if leg.job in ("place", "end"):
            leg.job = None  # nothing left to place or hang up
        if duration:
            leg.duration = duration
            if status == "completed" and leg.answered_at is None:
                leg.answered_at = now  # the "answered" report was lost; the call talked
    return True


def _summarise(entry: Interaction, legs: list[CallLeg], case: Case) -> None:
    """Write what the legs say onto the entry's meta, settle the case, queue follow-ups."""
    if entry.kind == "call":
        return  # an inbound call's own meta is the voice webhooks' (``update_call``)
    meta: dict[str, Any] = dict(entry.meta or {})
    by_role: dict[str, CallLeg] = {}
    for leg in legs:
        by_role.setdefault(leg.role, leg)
    if entry.kind == "interpreter":
        interpreter = by_role.get("interpreter")
        if interpreter is not None:
            meta.update(_leg_facts(interpreter, "status"))
        if meta != entry.meta:
            entry.meta = meta
        return
    staff, caller = by_role.get("staff"), by_role.get("caller")
    if staff is not None:
        meta.update(_leg_facts(staff, "staff_status", with_answer=False))
        if staff.accepted_at is not None:
            meta["accepted_at"] = staff.accepted_at.isoformat()
    if caller is not None:
        meta.update(_leg_facts(caller, "caller_status"))
    outcome = timeline.line_outcome(meta)
    if outcome is not None:
        meta["outcome"] = outcome
    if meta != entry.meta:
        entry.meta = meta
    if caller is not None and caller.answered_at is not None and case.callback_needed:
        case.callback_needed = False
    if caller is not None and caller.answered_at is not None and case.first_response_at is None:
        case.first_response_at = caller.answered_at
    _hang_up_the_other_side(staff, caller)


def _leg_facts(leg: CallLeg, status_key: str, *, with_answer: bool = True) -> dict[str, Any]:
    facts: dict[str, Any] = {status_key: leg.status}
    if with_answer and leg.answered_at is not None:
        facts["answered_at"] = leg.answered_at.isoformat()
    if with_answer and leg.duration:
        facts["duration"] = leg.duration
    if leg.error:
        facts["error"] = leg.error
        if leg.error_code:
            facts["error_code"] = leg.error_code
    return facts


def _hang_up_the_other_side(staff: CallLeg | None, caller: CallLeg | None) -> None:
    """A caller's phone must not ring on after staff hung up; staff are told, and hung up,
    when the caller did not answer."""
    if staff is None:
        return
    if staff.status in FINAL_LEG_STATUSES and caller is not None:
        if caller.job == "place":
            caller.job, caller.status, caller.ended_at = None, NOT_PLACED, utcnow()
        elif caller.status not in FINAL_LEG_STATUSES and caller.call_sid and caller.job is None:
            caller.job, caller.job_at = "end", utcnow()
    if (caller is not None and caller.status in FINAL_LEG_STATUSES
            and caller.answered_at is None and staff.status not in FINAL_LEG_STATUSES
            and staff.call_sid and staff.job is None):
        staff.job, staff.job_at = "end", utcnow()
    if staff.job == "end" or (caller is not None and caller.job == "end"):
        db.session.info[OUTBOX_WAKE_KEY] = True


def settle_legs(leg_id: int, change: Callable[[CallLeg, datetime], bool]) -> CallLeg:
    """Apply ``change(leg, now)`` to a leg under row locks, re-summarise its entry and
    commit; retried when a concurrent case edit wins (like ``update_call``).

    Lock order: the leg, the entry's legs, the entry, the case.
    """
    for attempt in range(CASE_UPDATE_ATTEMPTS):
        leg = _locked_leg(leg_id)
        if leg is None:
            raise UnknownLeg(f"no call leg {leg_id}")
        now = utcnow()
        if change(leg, now):
            legs = _legs_of(leg.interaction_id)
            entry = db.session.execute(
                select(Interaction).where(Interaction.id == leg.interaction_id)
                .with_for_update().execution_options(populate_existing=True)).scalar_one()
            case = db.session.execute(
                select(Case).where(Case.id == leg.case_id).with_for_update()
                .execution_options(populate_existing=True)).scalar_one()
            _summarise(entry, legs, case)
        try:
            db.session.commit()
            return leg
        except StaleDataError:
            db.session.rollback()
            if attempt == CASE_UPDATE_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


class UnknownLeg(LookupError):
    """A status callback or screen names a leg that does not exist."""


class LegMismatch(ValueError):
    """A callback's CallSid is not the leg's (a forged id cannot get here: URLs are signed)."""


def record_leg_status(leg_id: int, call_sid: str, status: str, duration: int | None) -> None:
    """A leg's status callback: move it on (idempotent on CallSid and status)."""

    def change(leg: CallLeg, now: datetime) -> bool:
        if leg.call_sid is None:
            leg.call_sid = call_sid  # the REST answer was lost; Twilio placed it all the same
        elif leg.call_sid != call_sid:
            raise LegMismatch("CallSid does not match the leg")
        return _advance(leg, status, duration, now)

    settle_legs(leg_id, change)


def accept_call_back(leg_id: int, call_sid: str) -> str | None:
    """The staff member pressed 1 on a call-back: queue the caller's leg.

    Returns the conference to join, or None when the attempt cannot go on (the caller
    must not be called any more, or the leg is not a live staff leg): the staff member
    is then told and hung up.
    """
    conference: list[str] = []

    def change(leg: CallLeg, now: datetime) -> bool:
        if leg.role != "staff" or leg.status in FINAL_LEG_STATUSES:
            return False
        if leg.call_sid is None:
            leg.call_sid = call_sid
        elif leg.call_sid != call_sid:
            raise LegMismatch("CallSid does not match the leg")
        entry = leg.interaction
        name = (entry.meta or {}).get("conference")
        if not isinstance(name, str) or caller_refusal(entry.case) is not None:
            return False
        conference.append(name)
        if leg.accepted_at is not None:
            return False  # a repeated press: the caller's leg is queued already
        leg.accepted_at = now
        _advance(leg, "in-progress", None, now)
        _queue_leg(entry, "caller", None)
        return True

    settle_legs(leg_id, change)
    return conference[0] if conference else None


def conference_of(entry: Interaction) -> tuple[str | None, bool]:
    """The conference a leg of ``entry`` joins, and whether staff are on it now.

    A call-back's own conference; an interpreter's is the one of the call they join.
    """
    call = entry
    if entry.kind == "interpreter":
        on = (entry.meta or {}).get("on")
        found = db.session.get(Interaction, on) if timeline.is_user_id(on) else None
        if found is None:
            return None, False
        call = found
    name = (call.meta or {}).get("conference")
    live = db.session.execute(
        select(CallLeg.id).where(CallLeg.interaction_id == call.id, CallLeg.role == "staff",
                                 CallLeg.status == "in-progress").limit(1)
    ).scalar_one_or_none()
    return (name if isinstance(name, str) else None), live is not None


def record_inbound_accept(parent_sid: str, child_sid: str, staff_id: int) -> None:
    """A staff member pressed 1 on an inbound call: their leg is on the call (so the
    queue shows who is on it, and an interpreter can be added). Idempotent on the
    staff leg's CallSid."""
    call = find_call(parent_sid)
    if call is None or db.session.execute(
            select(CallLeg.id).where(CallLeg.call_sid == child_sid)).scalar_one_or_none():
        return
    now = utcnow()
    db.session.add(CallLeg(case_id=call.case_id, interaction_id=call.id, role="staff",
                           user_id=staff_id, call_sid=child_sid, status="in-progress",
                           created_at=now, accepted_at=now, answered_at=now))
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()  # the same press, delivered twice at once


def end_inbound_legs(call_sid: str, duration: int | None = None) -> None:
    """The inbound call ended: its staff (and interpreter) legs are off the call."""
    call = find_call(call_sid)
    if call is None:
        return
    now = utcnow()
    legs = db.session.execute(
        select(CallLeg).where(CallLeg.interaction_id == call.id,
                              CallLeg.status.in_(_LEG_STATUS_STEP))).scalars().all()
    for leg in legs:
        leg.status, leg.ended_at = "completed", now
        if duration and leg.duration is None:
            leg.duration = duration
    if legs:
        db.session.commit()


def interpreter_choices(case: Case, actor: User) -> list[User]:
    """Roster members who could interpret this case's call: active, with a phone,
    speaking the case's language, not already on the call, on duty first."""
    entry = live_call_entry(case)
    if entry is None:
        return []
    on_call = {leg.user_id for leg in live_legs([case.id])}
    users = db.session.execute(
        select(User).where(User.active.is_(True), User.id != actor.id)
        .order_by(User.on_duty.desc(), User.display_name)).scalars()
    return [user for user in users
            if user.id not in on_call and roster_number(user) is not None
            and (case.language is None or case.language in user.language_list)]


def add_interpreter(case: Case, actor: User, interpreter: User) -> Interaction:
    """Add ``interpreter`` to the call under way on ``case`` (flushes; caller commits).

    A call-back is a conference already. An inbound call is bridged with
    ``<Dial><Number>``: it is moved into a conference first (its staff leg by the worker,
    the caller from ``/twilio/voice/dial-result``), so ringing ten phones at once and
    voicemail stay as they are for the calls that need no third party.
    """
    call = live_call_entry(case)
    if call is None:
        raise LineRefused(_("No call is under way on this case: an interpreter joins a "
                            "call staff are on."))
    if interpreter.id not in {user.id for user in interpreter_choices(case, actor)}:
        raise LineRefused(_("%(name)s cannot be added: they need an active roster entry "
                            "with a phone, the case's language, and not be on the call "
                            "already.", name=interpreter.display_name))
    if call.kind == "call" and not (call.meta or {}).get("conference"):
        _move_inbound(call)
    entry = Interaction(case=case, kind="interpreter", channel="voice", author_id=actor.id,
                        created_at=utcnow(),
                        meta=timeline.interpreter_meta(interpreter=interpreter.id, on=call.id))
    db.session.add(entry)
    db.session.flush()
    _queue_leg(entry, "interpreter", interpreter.id)
    return entry


class LineRefused(Exception):
    """A call-back or interpreter cannot be started; ``message`` says why, to staff."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _move_inbound(call: Interaction) -> None:
    """Mark an inbound call for its move into a conference and queue the staff leg's move.

    Set before the worker's REST request, so the caller's ``dial-result`` (which Twilio
    asks for the moment the staff leg leaves the bridge) finds the conference.
    """
    locked = find_call(call.external_id or "", lock=True)
    if locked is None:
        return
    locked.meta = {**(locked.meta or {}), "conference": new_conference_name()}
    staff = db.session.execute(
        select(CallLeg).where(CallLeg.interaction_id == call.id, CallLeg.role == "staff",
                              CallLeg.status == "in-progress").order_by(CallLeg.id.desc())
    ).scalars().first()
    if staff is not None:
        staff.job, staff.job_at = "move", utcnow()
        db.session.info[OUTBOX_WAKE_KEY] = True


def mark_moved(leg: CallLeg) -> None:
    """The inbound call's staff leg is in the conference now: the caller follows it."""
    call = leg.interaction
    if call.kind == "call" and call.external_id:

        def moved(meta: CallMeta, _case: Case) -> None:
            meta["moved"] = True

        update_call(call.external_id, moved)


def move_failed(leg: CallLeg) -> None:
    """The inbound call could not be moved: its dial result must not join a conference."""
    call = leg.interaction
    if call.kind == "call" and call.external_id:

        def forget(meta: CallMeta, _case: Case) -> None:
            meta.pop("conference", None)

        update_call(call.external_id, forget)


def staff_language(user_id: str | int | None) -> str:
    """The language staff prompts use for the staff member ``user_id`` (their pages'
    language); the deployment's default when unknown."""
    user = db.session.get(User, int(user_id)) if user_id else None
    return user_language(user) if user is not None else staff_default()


def leg_staff_language(leg_id: str | int) -> str:
    """The language of the staff member on call-back leg ``leg_id`` (default when unknown)."""
    leg = db.session.get(CallLeg, int(leg_id))
    return staff_language(leg.user_id if leg is not None else None)


def screen_context(parent_sid: str, language: str | None = None) -> str | None:
    """What the screen of an inbound call says of its case: the reference, letter by
    letter, and whether the caller is known (has earlier cases), in the staff member's
    ``language``. None when not stored."""
    call = find_call(parent_sid)
    if call is None:
        return None
    case = call.case
    earlier = db.session.execute(
        select(func.count()).select_from(Case)
        .where(Case.caller_id == case.caller_id, Case.id != case.id,
               Case.created_at <= case.created_at)).scalar_one()
    return replies.screen_case(case.reference, int(earlier), language)


def moved_conference(call: Interaction) -> str | None:
    """The conference an inbound call was moved into (for an interpreter), if it was:
    its staff leg's move is under way or done."""
    name = (call.meta or {}).get("conference")
    if not isinstance(name, str):
        return None
    moving = db.session.execute(
        select(CallLeg.id).where(CallLeg.interaction_id == call.id, CallLeg.role == "staff",
                                 CallLeg.job == "moving")).first()
    return name if moving is not None or (call.meta or {}).get("moved") else None
