"""The one intake service every channel calls.

``receive`` finds or creates the caller (by blind index), finds the caller's open
case or opens one (reopening a case closed within ``REOPEN_WINDOW_DAYS``), appends
the interaction and commits. It is idempotent on ``(kind, external_id)``: a retried
delivery returns the same case and writes nothing. It is safe under concurrency:
the caller row is locked (the upsert ``INSERT … ON CONFLICT DO UPDATE`` takes the row
lock on PostgreSQL; SQLite serialises writers with ``BEGIN IMMEDIATE``) while its open
case is chosen.

One delivery is one transaction with one commit and few round trips (it runs on
every message of a burst): the idempotency probe, the caller upsert (``RETURNING``
the row), the latest-case lookup, the case insert when one is opened (``ON CONFLICT
(reference) DO NOTHING`` instead of a savepoint), the interaction insert and the
commit. A channel decides what it adds to the same transaction (an auto-reply flag,
an opt-out) in ``prepare``, before the commit.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import Table, TextClause, bindparam, insert, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import make_transient_to_detached

from hotline.cases.references import new_reference
from hotline.cases.vocabularies import ADDRESS_KINDS, CHANNELS, INTERACTION_KINDS
from hotline.cases.workflow import OPEN_STATUSES, STATUS_ON_CALLER_CONTACT
from hotline.crypto import address_index, normalise_address
from hotline.extensions import db
from hotline.logging_setup import log_event
from hotline.models import Caller, Case, Interaction, utcnow

ADDRESS_KIND_FOR_CHANNEL = {"sms": "phone", "voice": "phone", "whatsapp": "whatsapp",
                            "web": "web"}
_REFERENCE_ATTEMPTS = 5
log = logging.getLogger(__name__)


class IntakeError(ValueError):
    """The delivery cannot be taken in (bad channel, kind or address)."""


@dataclass
class IntakeResult:
    """What ``receive`` did: the case, the interaction and whether anything was new."""

    case: Case
    interaction: Interaction
    created: bool
    case_opened: bool = False
    case_reopened: bool = False
    # The display reference, read before the commit expired the case.
    reference: str | None = None


# Called with a new delivery's result inside the intake transaction (see ``receive``).
Prepare = Callable[[IntakeResult], None]


def receive(
    *,
    channel: str,
    address: str,
    body: str | None,
    external_id: str | None,
    kind: str = "message_in",
    meta: dict[str, Any] | None = None,
    language: str | None = None,
    name: str | None = None,
    address_kind: str | None = None,
    fallback_language: str | None = None,
    prepare: Prepare | None = None,
    finish: Prepare | None = None,
) -> IntakeResult:
    """Take in one contact; see the module docstring. Commits the session once.

    ``address_kind`` overrides the kind the channel implies; voice uses ``web`` (an
    opaque key) for a caller who withholds their number, so the call is still taken in.
    ``fallback_language`` is the language a case gets when neither it, the message nor
    the caller has one. ``prepare(result)`` runs only for a new delivery, inside the
    transaction, before the interaction's INSERT (it may still change the interaction);
    ``finish(result)`` runs after that INSERT (rows it adds come later in the timeline),
    before the commit. After the commit the ORM objects are expired: read what the
    answer needs in the hooks.
    """
    if channel not in CHANNELS:
        raise IntakeError(f"unknown channel {channel!r}")
    if kind not in INTERACTION_KINDS:
        raise IntakeError(f"unknown interaction kind {kind!r}")
    address_kind = address_kind or ADDRESS_KIND_FOR_CHANNEL[channel]
    if address_kind not in ADDRESS_KINDS:
        raise IntakeError(f"unknown address kind {address_kind!r}")
    try:
        normalised = normalise_address(address_kind, address)
    except ValueError as exc:
        raise IntakeError(str(exc)) from exc
    index = address_index(address_kind, normalised)

    if external_id:
        existing = _existing(kind, external_id)
        if existing is not None:
            db.session.rollback()
            return IntakeResult(existing.case, existing, created=False)

    try:
        now = utcnow()
        caller = _lock_caller(index, address_kind, normalised, language, now)
        case, opened, reopened = _open_case_for(caller, channel, language, fallback_language,
                                                now)
        if name and not caller.name:
            caller.name = name
        if language and not caller.preferred_language:
            caller.preferred_language = language
        if fallback_language and not case.language:
            case.language = caller.preferred_language or fallback_language
        if case.updated_at != now:  # a case opened just now has it: no UPDATE
            case.updated_at = now
        interaction = Interaction(
            case_id=case.id, kind=kind, channel=channel, external_id=external_id or None,
            body=body, meta=dict(meta or {}), author_id=None, created_at=now,
            delivery_status=None, send_attempts=0, next_attempt_at=None, last_error=None,
        )
        result = IntakeResult(case, interaction, created=True, case_opened=opened,
                              case_reopened=reopened, reference=case.display_reference)
        if prepare is not None:
            prepare(result)
        _insert_interaction(interaction)
        if finish is not None:
            finish(result)
        db.session.commit()
    except IntegrityError:
        # A concurrent delivery of the same external id won the race.
        db.session.rollback()
        existing = _existing(kind, external_id) if external_id else None
        if existing is None:
            raise
        return IntakeResult(existing.case, existing, created=False)
    log_event(log, "intake.received", channel=channel, kind=kind,
              case=result.reference, opened=opened, reopened=reopened)
    return result


# Built once: a statement object memoises its cache key, so reusing it skips that work.
_EXISTING = select(Interaction.__table__.c.id).where(
    Interaction.__table__.c.kind == bindparam("kind"),
    Interaction.__table__.c.external_id == bindparam("external_id"))
_LATEST_CASE = (select(Case).where(Case.caller_id == bindparam("caller_id"))
                .order_by(Case.id.desc()).limit(1))
_INTERACTION_INSERT = insert(Interaction.__table__).returning(Interaction.__table__.c.id)
_INTERACTION_COLUMNS = tuple(column.key for column in Interaction.__table__.columns
                             if column.key != "id")


def _existing(kind: str, external_id: str) -> Interaction | None:
    """The interaction already stored for this delivery, if any (a cheap index probe)."""
    found = db.session.execute(_EXISTING, {"kind": kind, "external_id": external_id}
                               ).scalar_one_or_none()
    return None if found is None else db.session.get(Interaction, found)


def _insert_interaction(interaction: Interaction) -> None:
    """INSERT the (transient, fully populated) interaction and make it persistent.

    One Core statement instead of a unit-of-work flush, which cost more than the rest
    of the intake's Python put together; ``make_transient_to_detached`` then lets the
    session hold the row as if it had been loaded. Raises IntegrityError on a
    duplicate ``(kind, external_id)``.
    """
    values = {key: getattr(interaction, key) for key in _INTERACTION_COLUMNS}
    interaction.id = db.session.execute(_INTERACTION_INSERT, values).scalar_one()
    make_transient_to_detached(interaction)
    db.session.add(interaction)


def _upsert(table: Table, values: Sequence[str], conflict: str, action: str) -> TextClause:
    """``INSERT … ON CONFLICT … RETURNING`` every column, as a cacheable statement.

    The dialect ``insert().on_conflict_…()`` constructs carry no cache key in SQLAlchemy
    2.0, so they were compiled again on every delivery; a ``text()`` statement typed
    from the table is compiled once. The syntax is the same on PostgreSQL and SQLite.
    """
    names = ", ".join(values)
    params = ", ".join(f":{name}" for name in values)
    returning = ", ".join(column.name for column in table.columns)
    sql = (f"INSERT INTO {table.name} ({names}) VALUES ({params}) "  # noqa: S608 - names only
           f"ON CONFLICT ({conflict}) {action} RETURNING {returning}")
    binds = [bindparam(name, type_=table.c[name].type) for name in values]
    return text(sql).bindparams(*binds).columns(*table.columns)


_CALLER_UPSERT = select(Caller).from_statement(_upsert(
    Caller.__table__,
    ("address_index", "address", "address_kind", "opted_out", "preferred_language",
     "first_seen", "last_seen"),
    "address_index", "DO UPDATE SET last_seen = excluded.last_seen",
))
_CASE_INSERT = select(Case).from_statement(_upsert(
    Case.__table__,
    ("reference", "caller_id", "channel", "status", "urgency", "language", "version",
     "callback_needed", "created_at", "updated_at"),
    "reference", "DO NOTHING",
))


def _lock_caller(index: str, address_kind: str, normalised: str, language: str | None,
                 now: datetime) -> Caller:
    """Create the caller or touch its ``last_seen``, lock the row and return it: one upsert.

    ``ON CONFLICT DO UPDATE`` locks the existing row until the commit (as ``FOR UPDATE``
    would), so concurrent deliveries from one caller choose its open case one at a time.
    """
    values = {
        "address_index": index,
        "address": normalised,
        "address_kind": address_kind,
        "opted_out": False,
        "preferred_language": language,
        "first_seen": now,
        "last_seen": now,
    }
    return db.session.execute(
        _CALLER_UPSERT, values,
        execution_options={"populate_existing": True},
    ).scalar_one()


def _open_case_for(caller: Caller, channel: str, language: str | None,
                   fallback_language: str | None, now: datetime) -> tuple[Case, bool, bool]:
    """The caller's open case, a recently closed one reopened, or a new case."""
    latest = db.session.execute(_LATEST_CASE, {"caller_id": caller.id}).scalar_one_or_none()
    if latest is not None and latest.status in OPEN_STATUSES:
        _follow_caller_contact(latest)
        if language and not latest.language:
            latest.language = language
        return latest, False, False
    window = timedelta(days=current_app.config["REOPEN_WINDOW_DAYS"])
    if (latest is not None and latest.closed_at is not None and latest.purged_at is None
            and now - latest.closed_at <= window):
        _follow_caller_contact(latest)
        latest.closed_at = None
        latest.resolution = None
        return latest, False, True
    language = language or caller.preferred_language or fallback_language
    return _new_case(caller, channel, language, now), True, False


def _follow_caller_contact(case: Case) -> None:
    """Move a waiting or closed case back into work and note the change on the timeline."""
    target = STATUS_ON_CALLER_CONTACT.get(case.status)
    if target is None:
        return
    db.session.add(Interaction(
        case=case, kind="status_change", channel=None,
        meta={"from": case.status, "to": target, "reason": "caller_contact"},
    ))
    case.status = target


def _new_case(caller: Caller, channel: str, language: str | None, now: datetime) -> Case:
    """Insert a case under a fresh reference; a (rare) clash draws another one."""
    for _ in range(_REFERENCE_ATTEMPTS):
        values = {
            "reference": new_reference(), "caller_id": caller.id, "channel": channel,
            "status": "new", "urgency": "normal", "language": language, "version": 1,
            "callback_needed": False, "created_at": now, "updated_at": now,
        }
        case = db.session.execute(_CASE_INSERT, values).scalar_one_or_none()
        if case is not None:
            return case
    raise RuntimeError("could not draw an unused case reference")
