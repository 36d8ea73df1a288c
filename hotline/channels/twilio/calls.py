"""The call record: one ``call`` interaction per CallSid, and the on-duty roster.

The call's outcome (menu choice, dial result, call status, voicemail) is gathered on
the call's ``meta`` by whichever callback arrives, in any order; ``needs_callback``
decides from what is known so far whether the case goes into the callback queue.
``on_duty_staff`` is who the line rings.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.datastructures import ImmutableMultiDict

from hotline.cases import timeline
from hotline.cases.timeline import CallMeta, call_meta
from hotline.crypto import AddressError, normalise_address
from hotline.extensions import db
from hotline.intake.service import receive
from hotline.intake.spool import NotYetKnown
from hotline.models import Case, Interaction, User

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
