"""What staff do to a case: claim, assign, status, classify, note, reply, callback, flag.

Conflicts only where there is one. An action that changes a piece of the case's state
(the assignment, the status, the classification, the caller flag) takes ``seen``, that
piece as the user's page showed it (``state_seen``), and is refused with ``StaleCase``,
naming who changed it, when it changed since; without ``seen`` it falls back to the whole
case ``version``. A note, a reply and a logged or placed call change none of it: they are
never refused because the caller wrote or a colleague added a note. A race between two
requests is still caught by the optimistic lock (``StaleDataError``): a state change is
then refused, an action without state is simply run again on the fresh row. Every action
appends a timeline interaction with its author, sets ``Case.updated_by``, clears
``Case.awaiting_staff_since`` (a staff action answers the caller's wait), moves a ``new``
case on when the work says so (``workflow.STATUS_ON_WORK``), writes an audit event and
commits.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError

from hotline import audit
from hotline.cases import reply_policy, reply_templates, timeline
from hotline.cases.access import can_assign_others, can_view, only_as_unattended
from hotline.cases.labels import label
from hotline.cases.timeline import CALLBACK_OUTCOMES, CALLER_KINDS
from hotline.cases.vocabularies import CALLER_FLAGS, LANGUAGES, classification_choices
from hotline.cases.workflow import (
    OPEN_STATUSES,
    RESOLUTIONS,
    TransitionError,
    check_transition,
    status_after_work,
)
from hotline.channels.twilio import whatsapp
from hotline.database import MAX_ROW_ID
from hotline.extensions import db
from hotline.i18n import N_
from hotline.messaging import outbox
from hotline.models import Case, Interaction, User, utcnow

MAX_NOTE_LENGTH = 10_000
# A logged callback may be dated a little ahead (clock skew), never into the future.
CALLBACK_CLOCK_SKEW = timedelta(minutes=5)
CALLER_CHANGE = N_("a new message from the caller")
APPROVED_ONLY = N_("You may send only approved replies: choose one in the list and leave the "
                 "text as it is. The refusal was logged.")
UNATTENDED_CLAIM_FIRST = N_("This case is assigned to a colleague who is away. Claim it first "
                          "to work it.")
UNSAFE_CONTACT = N_("The caller said it is not safe to contact them. Confirm that this call "
                  "was necessary anyway to log it.")
UNSAFE_CALL_BACK = N_("The caller said it is not safe to contact them. Confirm that this call "
                    "is necessary anyway to place it.")


class ActionError(Exception):
    """An action was refused; ``message`` is safe to show to the user."""

    status_code = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidAction(ActionError):
    """The request is incomplete or makes no sense for this case."""


class TransitionRefused(InvalidAction):
    """The workflow does not allow this status change (or closing lacks a resolution)."""


class NotAllowed(ActionError):
    """The user's role does not allow this action."""

    status_code = 403


class StaleCase(ActionError):
    """The case changed since the user's page was rendered; nothing was written."""

    status_code = 409

    def __init__(self, changed_by: str) -> None:
        super().__init__(_("This case was changed by %(who)s after you opened it, so "
                           "nothing was saved. Check the case as it is now and try again.",
                           who=changed_by))
        self.changed_by = changed_by


def describe_change(case: Case) -> str:
    """Who made the latest change to ``case``: a staff member's name or the caller."""
    latest = db.session.execute(
        select(Interaction).where(Interaction.case_id == case.id)
        .order_by(Interaction.id.desc()).limit(1)
    ).scalar_one_or_none()
    if (latest is not None and latest.author_id is None and latest.kind in CALLER_KINDS
            and (case.updated_at is None or latest.created_at >= case.updated_at)):
        return _(CALLER_CHANGE)
    if case.updated_by is not None:
        return case.updated_by.display_name
    return _("someone else")


# ---- what an action changes, as the page saw it ------------------------------------------

def _assignment_state(case: Case) -> str:
    return f"assigned:{case.assigned_to_id or ''}"


def _status_state(case: Case) -> str:
    return f"status:{case.status}"


def _classification_state(case: Case) -> str:
    fields = ("category", "caller_type", "affiliation", "urgency", "language")
    return "classification:" + ",".join(getattr(case, name) or "" for name in fields)


def _flag_state(case: Case) -> str:
    return f"flag:{case.caller.flag or ''}"


# The one table: which piece of the case each audited action changes. Actions missing here
# (note, reply, callback, call back, interpreter) change none, so nothing makes them stale.
STATE_OF_ACTION: dict[str, Callable[[Case], str]] = {
    "case.claim": _assignment_state,
    "case.assign": _assignment_state,
    "case.status": _status_state,
    "case.classify": _classification_state,
    "caller.flag": _flag_state,
}


def state_seen(action: str, case: Case) -> str:
    """What the page shows of the piece of ``case`` that ``action`` changes ("" if none),
    to be posted back as ``seen``; an opaque short digest, never caller data."""
    state = STATE_OF_ACTION.get(action)
    if state is None:
        return ""
    return hashlib.sha256(state(case).encode()).hexdigest()[:16]


def is_stale(action: str, case: Case, version: int | None, seen: str | None) -> bool:
    """True when the piece of ``case`` that ``action`` changes is no longer what the page
    showed (``seen``; without it, when the case ``version`` moved on at all)."""
    if action not in STATE_OF_ACTION:
        return False
    if seen:
        return not hmac.compare_digest(seen, state_seen(action, case))
    return version is None or case.version != version


def _system_status(case: Case, work: str) -> None:
    """Move a ``new`` case on when ``work`` says so, as the system's timeline entry."""
    target = status_after_work(case.status, work)
    if target is None:
        return
    meta = timeline.status_change_meta(case.status, target, reason="work")
    case.status = target
    db.session.add(Interaction(case=case, kind="status_change", meta=meta, author_id=None,
                               created_at=utcnow()))


def _apply(case: Case, actor: User, version: int | None, action: str,
           change: Callable[[], dict[str, Any]], *, seen: str | None = None,
           work: str | None = None, retry: bool = False) -> None:
    """Check access and staleness, run ``change``, then stamp, audit and commit.

    ``work`` names what was done for ``workflow.STATUS_ON_WORK``. ``retry``: a change
    that only writes rows (nothing leaves the building) is run once more when a
    concurrent write won the optimistic lock; a state change never is.
    """
    if not can_view(actor, case):
        raise NotAllowed(_("this case is not yours"))
    if action != "case.claim" and only_as_unattended(actor, case):
        raise NotAllowed(_(UNATTENDED_CLAIM_FIRST))
    for attempt in (1, 2):
        if is_stale(action, case, version, seen):
            raise StaleCase(describe_change(case))
        try:
            detail = change()
            if work is not None:
                _system_status(case, work)
            case.updated_by_id = actor.id
            case.updated_at = utcnow()
            case.awaiting_staff_since = None
            db.session.flush()
            audit.record(action, actor=actor, case=case, detail=detail)
            db.session.commit()
            return
        except StaleDataError:
            db.session.rollback()
            db.session.refresh(case)
            if not retry or action in STATE_OF_ACTION or attempt == 2:
                raise StaleCase(describe_change(case)) from None
            if not can_view(actor, case):
                raise NotAllowed(_("this case is not yours")) from None
        except ActionError:
            db.session.rollback()
            raise


def _timeline(case: Case, actor: User, kind: str, meta: Mapping[str, Any],
              body: str | None = None, channel: str | None = None) -> Interaction:
    """Append an entry by ``actor``; ``meta`` comes from a ``timeline`` constructor."""
    interaction = Interaction(case=case, kind=kind, channel=channel, body=body, meta=meta,
                              author_id=actor.id, created_at=utcnow())
    db.session.add(interaction)
    return interaction


def _set_assignee(case: Case, actor: User, assignee: User | None) -> dict[str, Any]:
    before = case.assigned_to
    if (before.id if before else None) == (assignee.id if assignee else None):
        raise InvalidAction(_("the case is already assigned that way"))
    meta = timeline.assignment_meta(before, assignee)
    case.assigned_to = assignee
    _timeline(case, actor, "assignment", meta)
    return {"from": meta["from"], "to": meta["to"]}


def claim(case: Case, actor: User, version: int | None, *, seen: str | None = None) -> None:
    """Assign ``case`` to ``actor`` (a ``new`` case is then in progress).

    Staff on duty may claim a colleague's unattended case (``access.is_unattended``).
    """
    _apply(case, actor, version, "case.claim", lambda: _set_assignee(case, actor, actor),
           seen=seen, work="claim")


def assign(case: Case, actor: User, version: int | None, assignee_id: int | None, *,
           seen: str | None = None) -> None:
    """Assign ``case`` to a user (or to nobody). Staff may only take or release their own."""
    def change() -> dict[str, Any]:
        assignee = None
        if assignee_id is not None:
            assignee = db.session.get(User, assignee_id)
            if assignee is None or not assignee.active:
                raise InvalidAction(_("no active user with that id"))
        if not can_assign_others(actor):
            releasing_own = assignee is None and case.assigned_to_id == actor.id
            taking = assignee is not None and assignee.id == actor.id
            if not (releasing_own or taking):
                raise NotAllowed(_("only supervisors assign cases to others"))
        return _set_assignee(case, actor, assignee)

    _apply(case, actor, version, "case.assign", change, seen=seen)


def change_status(case: Case, actor: User, version: int | None, target: str,
                  resolution: str | None = None, *, seen: str | None = None) -> None:
    """Move ``case`` through an allowed transition; closing needs a resolution."""
    def change() -> dict[str, Any]:
        try:
            check_transition(case.status, target, resolution or None)
        except TransitionError as exc:
            raise TransitionRefused(str(exc)) from exc
        before = case.status
        case.status = target
        if target == "closed":
            case.resolution = resolution
            case.closed_at = utcnow()
        elif before == "closed":
            case.resolution = None
            case.closed_at = None
        meta = timeline.status_change_meta(
            before, target, resolution=resolution if target == "closed" else None)
        _timeline(case, actor, "status_change", meta)
        return dict(meta)

    _apply(case, actor, version, "case.status", change, seen=seen)


def classification_vocabularies() -> dict[str, tuple[str, ...]]:
    """The fields ``classify`` accepts and their allowed values (language included)."""
    choices = classification_choices(current_app.config.get("CLASSIFICATION_VOCABULARIES"))
    return {**choices, "language": LANGUAGES}


def classify(case: Case, actor: User, version: int | None,
             values: Mapping[str, str | None], *, seen: str | None = None) -> None:
    """Set classification fields; an empty value clears a field (urgency cannot be empty).

    A ``new`` case is triaged by it.
    """
    vocabularies = classification_vocabularies()

    def change() -> dict[str, Any]:
        changes: dict[str, list[str | None]] = {}
        for field, raw in values.items():
            if field not in vocabularies:
                raise InvalidAction(_("unknown classification field %(field)s",
                                       field=repr(field)))
            value = raw or None
            if value is not None and value not in vocabularies[field]:
                raise InvalidAction(_("%(value)s is not a valid %(field)s",
                                       value=repr(value), field=label(field)))
            if value is None and field == "urgency":
                raise InvalidAction(_("urgency cannot be empty"))
            if getattr(case, field) != value:
                changes[field] = [getattr(case, field), value]
        if not changes:
            raise InvalidAction(_("nothing changed"))
        for field, (_before, value) in changes.items():
            setattr(case, field, value)
        _timeline(case, actor, "classification_change",
                  timeline.classification_change_meta(changes))
        return {"changes": changes}

    _apply(case, actor, version, "case.classify", change, seen=seen, work="classify")


def _text(body: str | None, limit: int, empty: str, too_long: str) -> str:
    text = (body or "").strip()
    if not text:
        raise InvalidAction(empty)
    if len(text) > limit:
        raise InvalidAction(too_long)
    return text


def add_note(case: Case, actor: User, version: int | None, body: str | None) -> None:
    """Add an internal note (never shown to the caller)."""
    text = _text(body, MAX_NOTE_LENGTH, _("the note is empty"),
                 _("the note is longer than %(limit)d characters", limit=MAX_NOTE_LENGTH))

    def change() -> dict[str, Any]:
        _timeline(case, actor, "note", {}, body=text)
        return {"length": len(text)}

    _apply(case, actor, version, "case.note", change, retry=True)


def reply(case: Case, actor: User, version: int | None, body: str | None, *,
          template_id: int | None = None, whatsapp_template: str | None = None
          ) -> Interaction:
    """Queue a reply to the caller on the case's channel through the outbox, if the reply
    policy (``cases.reply_policy``) allows it. It counts as the first response only
    once it left (a web follow-up message at once, others on the provider's word).

    With an empty ``body``, the approved reply ``template_id`` is sent in the case's
    language. A user allowed approved replies only is refused (403, audited) any other
    text. On WhatsApp outside the 24-hour window free text is refused before queueing;
    ``whatsapp_template`` (a ``TWILIO_WHATSAPP_TEMPLATES`` name) is sent instead.
    """
    language = reply_templates.language_of(case)
    if whatsapp_template:
        return _whatsapp_template_reply(case, actor, version, whatsapp_template, language)
    closed = reply_policy.whatsapp_refusal(case, utcnow())
    if closed is not None:
        raise InvalidAction(closed)
    if not (body or "").strip() and template_id is not None:
        body = reply_templates.template_text(template_id, language)
        if body is None:
            raise InvalidAction(_("that approved reply has no text in the case's language"))
    try:
        text = reply_policy.checked_text(body)
    except reply_policy.ReplyRefused as exc:
        raise InvalidAction(str(exc)) from None
    if (actor.approved_replies_only and can_view(actor, case)
            and not reply_templates.is_approved(text, language)):
        audit.record("case.reply_refused", actor=actor, case=case,
                     detail={"reason": "approved_replies_only", "length": len(text)})
        db.session.commit()
        raise NotAllowed(_(APPROVED_ONLY))
    sent: list[Interaction] = []

    def change() -> dict[str, Any]:
        refusal = reply_policy.queue_refusal(case)
        if refusal is not None:
            raise InvalidAction(refusal)
        sent.clear()
        interaction = outbox.store_outgoing(case, text, actor)
        sent.append(interaction)
        return {"interaction_id": interaction.id, "channel": interaction.channel,
                "length": len(text)}

    _apply(case, actor, version, "case.reply", change, work="reply", retry=True)
    return sent[0]


def _whatsapp_template_reply(case: Case, actor: User, version: int | None, name: str,
                             language: str) -> Interaction:
    """Queue an approved WhatsApp template (by Content SID) with the reference as {{1}}."""
    sid = whatsapp.content_sid(name, language) if reply_policy.is_whatsapp(case) else None
    if sid is None:
        raise InvalidAction(_("that WhatsApp template is not configured for this case's "
                              "language"))
    sent: list[Interaction] = []

    def change() -> dict[str, Any]:
        refusal = reply_policy.queue_refusal(case)
        if refusal is not None:
            raise InvalidAction(refusal)
        meta = timeline.whatsapp_template_meta(name, sid, {"1": case.display_reference})
        interaction = outbox.store_outgoing(case, f"WhatsApp template: {name}", actor, meta)
        sent.append(interaction)
        return {"interaction_id": interaction.id, "channel": interaction.channel,
                "whatsapp_template": name}

    _apply(case, actor, version, "case.reply", change)
    return sent[0]


def retry_reply(case: Case, actor: User, interaction_id: int | None) -> str:
    """Send a reply that did not leave once more (the alert's Retry button; audited).

    No stale-page check: delivery reports change the reply while staff look at it. A
    reply whose send timed out is looked up at the provider first and, found there, not
    sent again. Returns ``"queued"`` or ``"found"``.
    """
    message = (db.session.get(Interaction, interaction_id)
               if interaction_id and 0 < interaction_id <= MAX_ROW_ID else None)
    if message is None or message.case_id != case.id or message.kind != "message_out":
        raise InvalidAction(_("no such reply on this case"))
    done: list[str] = []

    def change() -> dict[str, Any]:
        before = message.delivery_status
        try:
            done.append(outbox.retry(message))
        except outbox.RetryRefused as exc:
            raise InvalidAction(str(exc)) from None
        return {"interaction_id": message.id, "from": before, "result": done[0]}

    _apply(case, actor, case.version, "case.reply_retry", change)
    return done[0]


def log_callback(case: Case, actor: User, version: int | None, outcome: str,
                 at: datetime | None = None, note: str | None = None, *,
                 confirm_unsafe: bool = False) -> None:
    """Record a call to the caller; reaching them clears ``callback_needed``.

    A caller who said on the web form that contact is not safe is never called without
    thinking twice: the call is refused unless ``confirm_unsafe``, which is audited.
    """
    if case.contact_ok is False and not confirm_unsafe:
        raise InvalidAction(_(UNSAFE_CONTACT))
    if outcome not in CALLBACK_OUTCOMES:
        raise InvalidAction(_("choose the outcome of the call"))
    when = at or utcnow()
    if when > utcnow() + CALLBACK_CLOCK_SKEW:
        raise InvalidAction(_("the call time is in the future"))
    text = (note or "").strip() or None
    if text is not None and len(text) > MAX_NOTE_LENGTH:
        raise InvalidAction(_("the note is longer than %(limit)d characters",
                                limit=MAX_NOTE_LENGTH))

    def change() -> dict[str, Any]:
        unsafe = case.contact_ok is False
        meta = timeline.callback_meta(outcome=outcome, at=when, unsafe_confirmed=unsafe)
        _timeline(case, actor, "callback", meta, body=text, channel="voice")
        if outcome == "reached":
            case.callback_needed = False
            if case.first_response_at is None:
                case.first_response_at = when
        detail: dict[str, Any] = {"outcome": outcome, "at": when.isoformat()}
        if unsafe:
            detail["unsafe_contact_confirmed"] = True
        return detail

    _apply(case, actor, version, "case.callback", change, retry=True)


def call_back(case: Case, actor: User, version: int | None, *,
              confirm_unsafe: bool = False) -> Interaction:
    """Call the caller back through the line: ``actor``'s roster phone rings first, then
    the caller's, both showing only the hotline's number (``channels.twilio.calls``).

    Refused in words when the line is off, ``actor`` has no roster phone, the caller
    opted out, is blocked or has no number, or a call is under way; a caller who said
    contact is not safe needs ``confirm_unsafe``, which is audited. The attempt is the
    timeline's ``callback`` entry: its legs' status callbacks record the outcome.
    """
    from hotline.channels.twilio import calls

    if case.contact_ok is False and not confirm_unsafe:
        raise InvalidAction(_(UNSAFE_CALL_BACK))
    refusal = calls.call_back_refusal(case, actor)
    if refusal is not None:
        raise InvalidAction(refusal)
    made: list[Interaction] = []

    def change() -> dict[str, Any]:
        unsafe = case.contact_ok is False
        entry = calls.start_call_back(case, actor, unsafe_confirmed=unsafe)
        made.append(entry)
        detail: dict[str, Any] = {"interaction_id": entry.id, "via": "line"}
        if unsafe:
            detail["unsafe_contact_confirmed"] = True
        return detail

    _apply(case, actor, version, "case.call_back", change)
    return made[0]


def add_interpreter(case: Case, actor: User, interpreter_id: int | None) -> Interaction:
    """Add a roster member who speaks the case's language to the call under way (audited).

    No stale-page check: the call's own webhooks change the case while staff talk; the
    optimistic lock still catches a concurrent edit.
    """
    from hotline.channels.twilio import calls

    interpreter = (db.session.get(User, interpreter_id)
                   if interpreter_id and 0 < interpreter_id <= MAX_ROW_ID else None)
    if interpreter is None:
        raise InvalidAction(_("choose who interprets"))
    made: list[Interaction] = []

    def change() -> dict[str, Any]:
        try:
            entry = calls.add_interpreter(case, actor, interpreter)
        except calls.LineRefused as exc:
            raise InvalidAction(exc.message) from None
        made.append(entry)
        return {"interaction_id": entry.id, "interpreter_id": interpreter.id,
                "call_interaction_id": entry.meta["on"]}

    _apply(case, actor, case.version, "case.interpreter_add", change)
    return made[0]


def flag_caller(case: Case, actor: User, version: int | None, flag: str | None, *,
                seen: str | None = None) -> None:
    """Flag the case's caller hostile or blocked, or clear the flag."""
    value = flag or None
    if value is not None and value not in CALLER_FLAGS:
        raise InvalidAction(_("a caller flag is one of %(flags)s",
                              flags=", ".join(label(f) for f in CALLER_FLAGS)))

    def change() -> dict[str, Any]:
        before = case.caller.flag
        if before == value:
            raise InvalidAction(_("the caller is already flagged that way"))
        case.caller.flag = value
        changes = {"caller_flag": [before, value]}
        _timeline(case, actor, "classification_change",
                  timeline.classification_change_meta(changes))
        return {"caller_id": case.caller_id, "changes": changes}

    _apply(case, actor, version, "caller.flag", change, seen=seen)


# A handover that loses the optimistic lock to a caller's message (or a colleague) runs
# again on fresh rows, at most this many times in all.
HANDOVER_ATTEMPTS = 3


def end_shift(actor: User) -> int:
    """End ``actor``'s shift: hand their open cases back to the team queue, go off duty.

    Each case becomes unassigned with a handover entry on its timeline (an assignment by
    ``actor`` with ``reason="shift_end"``) and a ``case.handover`` audit event; the roster
    then shows ``actor`` off duty (``shift.end``, with the count). One transaction: all
    of it or none. Returns how many cases were handed back.

    ``awaiting_staff_since`` is kept, not cleared as other staff actions clear it: a
    handover answers no one, so a caller who wrote and got no reply is still waiting.
    The case is unassigned, so every staff member sees it (with its waiting time in the
    queue) and the poll counts the caller's further messages as ``team_messages``; if
    it is assigned again to someone away, it is unattended at once, as it should be.
    """
    for attempt in range(1, HANDOVER_ATTEMPTS + 1):
        try:
            cases = db.session.execute(
                select(Case).where(Case.assigned_to_id == actor.id,
                                   Case.status.in_(OPEN_STATUSES)).order_by(Case.id)
            ).scalars().all()
            now = utcnow()
            for case in cases:
                meta = timeline.assignment_meta(actor, None, reason="shift_end")
                case.assigned_to = None
                case.updated_by_id = actor.id
                case.updated_at = now
                _timeline(case, actor, "assignment", meta)
                db.session.flush()
                audit.record("case.handover", actor=actor, case=case,
                             detail={"from": actor.id, "to": None, "reason": "shift_end"})
            actor.on_duty = False
            audit.record("shift.end", actor=actor,
                         detail={"user_id": actor.id, "handed_back": len(cases)})
            db.session.commit()
            return len(cases)
        except StaleDataError:
            db.session.rollback()
            if attempt == HANDOVER_ATTEMPTS:
                raise
    raise AssertionError("unreachable")


__all__ = [
    "CALLBACK_OUTCOMES", "MAX_NOTE_LENGTH", "RESOLUTIONS",
    "ActionError", "InvalidAction", "NotAllowed", "StaleCase", "TransitionRefused",
    "add_note", "assign", "change_status", "claim", "classify", "classification_vocabularies",
    "describe_change", "end_shift", "flag_caller", "is_stale", "log_callback", "reply",
    "retry_reply", "state_seen",
]
