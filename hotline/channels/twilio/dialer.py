"""The line's REST requests to Twilio, made by the worker, never in a request or a webhook.

``work_once`` takes the call legs with a job (``calls``: ``place`` a staff leg with
``calls.create``, a caller or interpreter leg as a conference participant; ``end`` hang
a leg up; ``move`` an inbound call's staff leg into a conference) and runs each once:

1. The job is claimed with one conditional UPDATE (``place`` → ``placing``), so two
   workers never ring the same phone.
2. A leg queued more than ``calls.PLACE_WITHIN`` ago is not placed (``expired``): a phone
   ringing minutes after the button was pressed is worse than a clear failure. A claim
   left by a worker that died is ``interrupted``, never placed again (it may have rung).
3. The caller is checked again (opted out, blocked) right before they are dialled.
4. Nothing is retried: a refused or failed request is recorded on the leg as a code word
   of ``timeline.LINE_ERRORS`` (what staff read on the case), with Twilio's error code,
   never Twilio's message (it may quote a number).

Each leg's number is only the ``to`` of its own request; both legs come ``from`` the
hotline number (TWILIO_VOICE_FROM). No request carries the other side's number.

The worker skips the legs while Twilio is not configured (``flask simulate call-back``
plays Twilio's part then, with a client of its own); they expire as above.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from flask import current_app, has_request_context
from sqlalchemy import select, update
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from hotline.channels.twilio import calls, twiml
from hotline.database import rowcount
from hotline.extensions import db
from hotline.intake.webhooks import public_url
from hotline.models import CallLeg, Interaction, utcnow
from hotline.twilio_client import is_configured, twilio_client

log = logging.getLogger(__name__)

BATCH_SIZE = 20
REQUEST_TIMEOUT_SECONDS = 10
LEG_STATUS_EVENTS = ["initiated", "ringing", "answered", "completed"]
# Twilio's REST error codes, as the words staff read (``timeline.LINE_ERRORS``).
TWILIO_ERRORS = {
    21211: "invalid_number", 21217: "invalid_number", 13223: "invalid_number",
    13224: "invalid_number", 21214: "unreachable", 21215: "geo_permission",
    21216: "geo_permission", 13227: "geo_permission", 21210: "bad_from",
    21212: "bad_from", 20003: "auth", 20429: "rate_limited", 20404: "gone",
}


def work_once(client: Client | None = None, now: datetime | None = None) -> int:
    """Run every due leg job once (committing after each); returns how many ran.

    ``client`` defaults to the configured account's; without one nothing is placed
    (the jobs wait, then expire).
    """
    now = now or utcnow()
    due = db.session.execute(
        select(CallLeg.id, CallLeg.job).where(CallLeg.job.is_not(None))
        .order_by(CallLeg.id).limit(BATCH_SIZE)).all()
    db.session.commit()
    if not due:
        return 0
    if client is None and not is_configured():
        handled = 0
        for leg_id, job in due:
            if job in ("place", "placing"):
                handled += _expire_if_due(leg_id, now)
        return handled
    client = client or twilio_client(timeout=REQUEST_TIMEOUT_SECONDS)
    handled = 0
    for leg_id, job in due:
        if job in ("placing", "ending", "moving"):
            handled += _expire_if_due(leg_id, now)
        elif job in ("place", "end", "move") and _claim(leg_id, job):
            run_job(leg_id, job, client, now)
            handled += 1
    return handled


def place_now(leg_id: int, client: Client) -> bool:
    """Claim and place one leg with ``client`` (``simulate call-back``); False when it was
    not waiting to be placed."""
    if not _claim(leg_id, "place"):
        return False
    run_job(leg_id, "place", client, utcnow())
    return True


def _claim(leg_id: int, job: str) -> bool:
    """One conditional UPDATE: only the worker whose update hit the row runs the job.

    A placing claim keeps its ``job_at`` (a leg is placed within ``PLACE_WITHIN`` of
    being queued, or never); a hang-up or move claim restarts it.
    """
    claimed = {"place": "placing", "end": "ending", "move": "moving"}[job]
    values: dict[str, object] = {"job": claimed}
    if job != "place":
        values["job_at"] = utcnow()
    result = db.session.execute(
        update(CallLeg).where(CallLeg.id == leg_id, CallLeg.job == job)
        .values(**values).execution_options(synchronize_session=False))
    db.session.commit()
    return rowcount(result) == 1


def _expire_if_due(leg_id: int, now: datetime) -> int:
    """Give up a leg waiting (or claimed) too long: never placed later."""
    leg = db.session.get(CallLeg, leg_id)
    if leg is None or leg.job_at is None or now - leg.job_at < calls.PLACE_WITHIN:
        return 0
    if leg.job in ("ending", "moving"):
        _note(leg.id, "interrupted")  # a worker died mid-request; the call goes on
    else:
        _fail(leg.id, "interrupted" if leg.job == "placing" else "expired")
    return 1


def _fail(leg_id: int, reason: str, code: int | None = None) -> None:
    """Record that a leg was not placed, and why."""

    def change(leg: CallLeg, now: datetime) -> bool:
        leg.job, leg.error, leg.error_code = None, reason, code
        if leg.status not in calls.FINAL_LEG_STATUSES:
            leg.status, leg.ended_at = calls.NOT_PLACED, now
        return True

    calls.settle_legs(leg_id, change)


def run_job(leg_id: int, job: str, client: Client, now: datetime) -> None:
    """Run one claimed job; every failure is recorded on the leg, none raises."""
    leg = db.session.get_one(CallLeg, leg_id, populate_existing=True)
    if job == "place" and (leg.job_at is None or now - leg.job_at >= calls.PLACE_WITHIN):
        _fail(leg.id, "expired")
        return
    runner: Callable[[CallLeg, Client], str | None] = {
        "place": _place, "end": _end, "move": _move}[job]
    try:
        sid = runner(leg, client)
    except _Refused as refused:
        _failed(leg, job, refused.reason)
        return
    except TwilioRestException as exc:
        log.warning("line job %s on leg %s refused by Twilio (%s)", job, leg.id, exc.code)
        reason = TWILIO_ERRORS.get(exc.code or 0) or (
            "rate_limited" if exc.status == 429 else "twilio_refused")
        _failed(leg, job, reason, exc.code)
        return
    except Exception as exc:
        log.warning("line job %s on leg %s failed: %s", job, leg.id, type(exc).__name__)
        _failed(leg, job, "twilio_unreachable")
        return
    if job == "move":
        calls.mark_moved(leg)  # before the claim is cleared: dial-result checks either
    _done(leg.id, sid)


def _failed(leg: CallLeg, job: str, reason: str, code: int | None = None) -> None:
    """A leg not placed is over; a failed hang-up or move is noted, the call goes on."""
    if job == "place":
        _fail(leg.id, reason, code)
        return
    _note(leg.id, reason, code)
    if job == "move":
        calls.move_failed(leg)


class _Refused(Exception):
    """The leg must not be placed; ``reason`` is a code of ``timeline.LINE_ERRORS``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _done(leg_id: int, sid: str | None) -> None:
    def change(leg: CallLeg, now: datetime) -> bool:
        if leg.job in ("placing", "ending", "moving"):
            leg.job = None
        if sid and leg.call_sid is None:
            leg.call_sid = sid
        return True

    calls.settle_legs(leg_id, change)


def _note(leg_id: int, reason: str, code: int | None = None) -> None:
    """A hang-up or move that failed: said on the leg, the call itself goes on."""

    def change(leg: CallLeg, now: datetime) -> bool:
        leg.job, leg.error, leg.error_code = None, reason, code
        return True

    calls.settle_legs(leg_id, change)


def _from_number() -> str:
    number = calls.voice_from()
    if number is None:
        raise _Refused("no_voice_from")
    return number


def _leg_status_url(leg: CallLeg) -> str:
    if not (has_request_context() or current_app.config.get("PUBLIC_BASE_URL")):
        raise _Refused("no_public_url")
    return public_url("twilio_voice.leg_status", leg=str(leg.id))


def _place(leg: CallLeg, client: Client) -> str | None:
    """Ring the leg's phone: the staff member with the screen, others into the conference."""
    entry = leg.interaction
    case = entry.case
    sender = _from_number()
    status_callback = _leg_status_url(leg)
    if leg.role == "staff":
        number = calls.roster_number(leg.user)
        if number is None:
            raise _Refused("no_roster_phone")
        created = client.calls.create(
            to=number, from_=sender,
            twiml=twiml.call_back_screen(leg.id, case, calls.staff_language(leg.user_id)),
            timeout=calls.STAFF_RING_SECONDS, status_callback=status_callback,
            status_callback_method="POST", status_callback_event=LEG_STATUS_EVENTS)
        return created.sid
    conference, on_call = calls.conference_of(entry)
    if conference is None or not on_call:
        raise _Refused("conference_ended")
    if leg.role == "caller":
        refusal = calls.caller_refusal(case)
        if refusal is not None:
            raise _Refused(refusal)
        number = calls.caller_number(case)
        if number is None:
            raise _Refused("no_caller_number")
    else:
        number = calls.roster_number(leg.user)
        if number is None:
            raise _Refused("no_roster_phone")
    participant = client.conferences(conference).participants.create(
        from_=sender, to=number, label=leg.role, timeout=calls.CALLER_RING_SECONDS,
        early_media=False, beep="false", end_conference_on_exit=leg.role == "caller",
        status_callback=status_callback, status_callback_method="POST",
        status_callback_event=LEG_STATUS_EVENTS)
    return participant.call_sid


def _end(leg: CallLeg, client: Client) -> str | None:
    """Hang a leg up: a ringing caller is cancelled; staff hear why before hanging up."""
    if not leg.call_sid or leg.status in calls.FINAL_LEG_STATUSES:
        return None
    if leg.role == "staff":
        outcome = (leg.interaction.meta or {}).get("outcome")
        client.calls(leg.call_sid).update(
            twiml=twiml.call_back_ended(outcome, calls.staff_language(leg.user_id)))
    elif leg.status == "in-progress":
        client.calls(leg.call_sid).update(status="completed")
    else:
        client.calls(leg.call_sid).update(status="canceled")
    return None


def _move(leg: CallLeg, client: Client) -> str | None:
    """Move an inbound call's staff leg into the call's conference (for an interpreter);
    the caller follows from ``/twilio/voice/dial-result``."""
    entry: Interaction = leg.interaction
    conference = (entry.meta or {}).get("conference")
    if not leg.call_sid or not isinstance(conference, str):
        raise _Refused("gone")
    client.calls(leg.call_sid).update(twiml=twiml.conference_twiml(conference))
    return None
