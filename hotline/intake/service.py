"""The one intake service every channel calls.

``receive`` finds or creates the caller (by blind index), finds the caller's open
case or opens one (reopening a case closed within ``REOPEN_WINDOW_DAYS``), appends
the interaction and commits. It is idempotent on ``(kind, external_id)``: a retried
delivery returns the same case and writes nothing. It is safe under concurrency:
the caller row is locked (the upsert ``INSERT … ON CONFLICT DO UPDATE`` takes the row
lock on PostgreSQL; SQLite serialises writers with ``BEGIN IMMEDIATE``) while its open
case is chosen.

It runs for every message of a burst, so one delivery is one transaction with one
commit and five statements: the idempotency probe, the caller upsert (``RETURNING``
what the intake needs), the latest-case lookup, the case insert (``ON CONFLICT
(reference) DO NOTHING`` instead of a savepoint) or update, and the interaction
insert. On PostgreSQL they are merged into two or three: the probe is a ``WHERE NOT
EXISTS`` of the caller upsert (a retried delivery writes no caller row), a caller the
upsert just created has no case to look up, and a new case, or an open case the
message only touches, is written in one data-modifying CTE with the message: a new
sender is two statements, a repeat message three (the lookup stays a statement of its
own, after the caller lock, so it sees what the lock's previous holder committed).
They are prebuilt SQLAlchemy Core statements: the ORM's per-statement and
unit-of-work costs were most of the intake's time under load (bench/README.md). Case
updates bump ``version`` as the ORM's optimistic lock does. A channel adds its own
changes (an auto-reply flag, an opt-out) to the same transaction in the ``prepare``
and ``finish`` hooks. ``IntakeResult.case``/``.interaction`` are ORM objects loaded
on first use.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import (
    Boolean,
    Table,
    Text,
    TextualSelect,
    bindparam,
    column,
    func,
    insert,
    literal,
    select,
    text,
    type_coerce,
    update,
)
from sqlalchemy.engine import Row
from sqlalchemy.exc import IntegrityError

from hotline.cases import keywords
from hotline.cases.references import format_reference, new_reference
from hotline.cases.timeline import (
    CALLER_KINDS,
    INTERACTION_KINDS,
    classification_change_meta,
    status_change_meta,
)
from hotline.cases.vocabularies import ADDRESS_KINDS, CHANNELS
from hotline.cases.workflow import OPEN_STATUSES, STATUS_ON_CALLER_CONTACT
from hotline.crypto import address_index, cipher, normalise_address
from hotline.extensions import db
from hotline.logging_setup import log_event
from hotline.models import Caller, Case, Interaction, UTCDateTime, utcnow

ADDRESS_KIND_FOR_CHANNEL = {"sms": "phone", "voice": "phone", "whatsapp": "whatsapp",
                            "telegram": "telegram", "web": "web"}
_REFERENCE_ATTEMPTS = 5
log = logging.getLogger(__name__)

CALLERS: Table = Caller.__table__
CASES: Table = Case.__table__
INTERACTIONS: Table = Interaction.__table__


class IntakeError(ValueError):
    """The delivery cannot be taken in (bad channel, kind or address)."""


@dataclass
class IntakeResult:
    """What ``receive`` did: the case, the interaction and whether anything was new.

    For a new delivery the plain fields describe the state ``receive`` committed;
    ``meta`` is the interaction's meta, which a ``prepare`` hook may still change.
    """

    case_id: int
    interaction_id: int | None
    created: bool
    case_opened: bool = False
    case_reopened: bool = False
    caller_id: int | None = None
    reference: str | None = None  # display form
    language: str | None = None  # the case's
    urgency: str = "normal"  # the case's, after this delivery
    caller_opted_out: bool = False
    caller_flag: str | None = None
    # With ``auto_reply_every``: this delivery is the first in that interval (the rule in
    # ``hotline/channels/replies.py``); it never depends on the caller's cases.
    auto_reply_due: bool = False
    meta: dict[str, Any] = field(default_factory=dict)
    _objects: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def case(self) -> Case:
        """The case as an ORM object (loaded on first use)."""
        return self._load("case", Case, self.case_id)

    @property
    def interaction(self) -> Interaction:
        """The interaction as an ORM object (loaded on first use)."""
        return self._load("interaction", Interaction, self.interaction_id)

    @property
    def caller(self) -> Caller:
        """The caller as an ORM object (loaded on first use)."""
        return self._load("caller", Caller, self.caller_id or self.case.caller_id)

    def _load(self, name: str, model: type, ident: int | None) -> Any:
        if name not in self._objects:
            # populate_existing: receive wrote these rows with Core statements.
            self._objects[name] = db.session.get(model, ident, populate_existing=True)
        return self._objects[name]


# Called with a new delivery's result inside the intake transaction (see ``receive``).
Prepare = Callable[[IntakeResult], None]


def receive(
    *,
    channel: str,
    address: str,
    body: str | None,
    external_id: str | None,
    kind: str = "message_in",
    meta: Mapping[str, Any] | None = None,
    language: str | None = None,
    name: str | None = None,
    address_kind: str | None = None,
    fallback_language: str | None = None,
    prepare: Prepare | None = None,
    finish: Prepare | None = None,
    auto_reply_every: timedelta | None = None,
) -> IntakeResult:
    """Take in one contact; see the module docstring. Commits the session once.

    ``address_kind`` overrides the kind the channel implies; voice uses ``web`` (an
    opaque key) for a caller who withholds their number, so the call is still taken in.
    ``meta`` comes from the kind's constructor in ``cases.timeline``.
    ``fallback_language`` is the language a case gets when neither it, the message nor
    the caller has one. ``prepare(result)`` runs only for a new delivery, inside the
    transaction, before the interaction's INSERT (it may still change ``result.meta``);
    On PostgreSQL a new case is inserted with the interaction, so ``prepare`` sees
    ``result.case_id`` 0 (its reference is already drawn);
    ``finish(result)`` runs after that INSERT (rows it adds come later in the timeline),
    before the commit. ``auto_reply_every`` (a channel that auto-replies) stamps the
    caller's ``last_auto_reply_at`` in the same upsert when none was due within that
    interval, and sets ``result.auto_reply_due``: no extra statement.
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

    def again() -> IntakeResult:
        return receive(channel=channel, address=address, body=body, external_id=external_id,
                       kind=kind, meta=meta, language=language, name=name,
                       address_kind=address_kind, fallback_language=fallback_language,
                       prepare=prepare, finish=finish, auto_reply_every=auto_reply_every)

    combined = _combined_statements()
    if external_id and not combined:
        existing = _existing(kind, external_id)
        if existing is not None:
            db.session.rollback()
            return existing

    try:
        now = utcnow()
        probe = (kind, external_id) if external_id and combined else None
        caller = _lock_caller(index, address_kind, normalised, language, now, auto_reply_every,
                              probe=probe)
        if caller is None:
            # PostgreSQL: the upsert's probe found the delivery already stored.
            db.session.rollback()
            assert external_id is not None  # noqa: S101 - probe is None without one
            existing = _existing(kind, external_id)
            if existing is not None:
                return existing
            # Removed in between (retention): take it in as the probe would have.
            return again()
        preferred = _update_caller(caller, name, language)
        result, pending = _open_case_for(caller, preferred, channel, language,
                                         fallback_language, now, combined=combined,
                                         waiting=kind in CALLER_KINDS)
        result.auto_reply_due = (auto_reply_every is not None
                                 and caller.last_auto_reply_at == now)
        result.meta = dict(meta or {})
        if prepare is not None:
            prepare(result)
        values = {
            "kind": kind, "channel": channel, "external_id": external_id or None,
            "body": body, "meta": result.meta, "now": now,
        }
        raised = (keywords.raised_urgency(result.urgency, body,
                                          keywords.rules_in_force(current_app.config))
                  if kind == "message_in" else None)
        if pending is None:
            result.interaction_id = db.session.execute(_INTERACTION_INSERT, {
                "case_id": result.case_id, "kind": kind, "channel": channel,
                "external_id": external_id or None, "body": body, "meta": result.meta,
                "author_id": None, "created_at": now, "delivery_status": None,
                "send_attempts": 0, "next_attempt_at": None, "last_error": None,
            }).scalar_one()
        elif result.case_id == 0:
            # PostgreSQL's new case: a raised urgency is written in the same statement.
            result.case_id, result.interaction_id = pending({**values, "raised": raised})
            if raised is not None:
                _urgency_raised(result, raised)
            raised = None
        else:
            result.case_id, result.interaction_id = pending(values)
        if raised is not None:
            _raise_urgency(result, raised, now)
        if finish is not None:
            finish(result)
        db.session.commit()
    except _ReferenceTaken:
        # PostgreSQL drew the new case's reference before ``prepare`` (an auto-reply
        # names it): a (rare) clash starts the delivery over with another one.
        db.session.rollback()
        return again()
    except IntegrityError:
        # A concurrent delivery of the same external id won the race.
        db.session.rollback()
        existing = _existing(kind, external_id) if external_id else None
        if existing is None:
            raise
        return existing
    log_event(log, "intake.received", channel=channel, kind=kind,
              case=result.reference, opened=result.case_opened,
              reopened=result.case_reopened)
    return result


def _upsert(table: Table, values: Sequence[str], conflict: str, action: str,
            returning: Sequence[str], extra: Sequence[tuple[str, str]] = (),
            probe: bool = False) -> TextualSelect:
    """``INSERT … ON CONFLICT … RETURNING …`` as a cacheable statement.

    The dialect ``insert().on_conflict_…()`` constructs carry no cache key in SQLAlchemy
    2.0, so they were compiled again on every delivery; a ``text()`` statement typed
    from the table is compiled once. The syntax is the same on PostgreSQL and SQLite.
    With ``probe`` (PostgreSQL) the row is written only when no interaction has
    ``(:kind, :external_id)`` yet, so a retried delivery returns no row, and
    ``RETURNING`` adds ``inserted`` (the row is new: ``xmax = 0``, the upsert's
    well-known test; an updated row carries the upsert's row lock in ``xmax``).
    """
    names = ", ".join(values)
    params = ", ".join(f":{name}" for name in values)
    columns: list[Any] = [table.c[name] for name in returning]
    if probe:
        source = (f"SELECT {params} WHERE NOT EXISTS (SELECT 1 FROM interactions "  # noqa: S608
                  "WHERE kind = :kind AND external_id = :external_id)")
        returning = (*returning, "(xmax = 0) AS inserted")
        columns.append(column("inserted", Boolean()))
    else:
        source = f"VALUES ({params})"
    sql = (f"INSERT INTO {table.name} ({names}) {source} "
           f"ON CONFLICT ({conflict}) {action} RETURNING {', '.join(returning)}")
    binds = [bindparam(name, type_=table.c[name].type) for name in values]
    binds += [bindparam(name, type_=table.c[column].type) for name, column in extra]
    if probe:
        binds += [bindparam("kind", type_=INTERACTIONS.c.kind.type),
                  bindparam("external_id", type_=INTERACTIONS.c.external_id.type)]
    return text(sql).bindparams(*binds).columns(*columns)


def _combined_statements() -> bool:
    """Whether the intake may merge statements (PostgreSQL: the probe into the caller
    upsert, a case's write and the interaction's insert into one data-modifying CTE).
    SQLite keeps one statement per step (it has no DML in ``WITH``)."""
    return db.session.get_bind().dialect.name == "postgresql"


# Built once: a statement object memoises its cache key, so reusing it skips that work.
_EXISTING = select(INTERACTIONS.c.id).where(INTERACTIONS.c.kind == bindparam("kind"),
                                            INTERACTIONS.c.external_id == bindparam("external_id"))
_CALLER_UPSERT_ARGS: dict[str, Any] = {
    "table": CALLERS,
    "values": ("address_index", "address", "address_kind", "opted_out", "preferred_language",
               "first_seen", "last_seen"),
    "conflict": "address_index", "action": "DO UPDATE SET last_seen = excluded.last_seen",
    "returning": ("id", "preferred_language", "opted_out", "flag"),
}
_CALLER_UPSERT = _upsert(**_CALLER_UPSERT_ARGS)
# The same for a channel that auto-replies: stamps ``last_auto_reply_at`` (a reply goes
# out) when none went out since ``reply_cutoff`` and the caller neither opted out nor is
# blocked: the caller's own timing and wishes, never its cases.
_CALLER_UPSERT_REPLY_ARGS: dict[str, Any] = {
    "table": CALLERS,
    "values": ("address_index", "address", "address_kind", "opted_out", "preferred_language",
               "first_seen", "last_seen", "last_auto_reply_at"),
    "conflict": "address_index",
    "action": "DO UPDATE SET last_seen = excluded.last_seen, last_auto_reply_at = CASE "
    "WHEN NOT callers.opted_out AND COALESCE(callers.flag, '') <> 'blocked' "
    "AND (callers.last_auto_reply_at IS NULL OR callers.last_auto_reply_at <= :reply_cutoff) "
    "THEN excluded.last_seen ELSE callers.last_auto_reply_at END",
    "returning": ("id", "preferred_language", "opted_out", "flag", "last_auto_reply_at"),
    "extra": (("reply_cutoff", "last_auto_reply_at"),),
}
_CALLER_UPSERT_REPLY = _upsert(**_CALLER_UPSERT_REPLY_ARGS)
_CALLER_UPSERT_PROBE = _upsert(**_CALLER_UPSERT_ARGS, probe=True)
_CALLER_UPSERT_REPLY_PROBE = _upsert(**_CALLER_UPSERT_REPLY_ARGS, probe=True)
# The name stays encrypted here: it is decrypted only when a name is offered.
_CALLER_NAME = select(type_coerce(CALLERS.c.name, Text())).where(CALLERS.c.id == bindparam("id"))
_LATEST_CASE = (select(CASES.c.id, CASES.c.reference, CASES.c.status, CASES.c.language,
                       CASES.c.closed_at, CASES.c.purged_at, CASES.c.urgency)
                .where(CASES.c.caller_id == bindparam("caller_id"))
                .order_by(CASES.c.id.desc()).limit(1))
_CASE_INSERT = _upsert(
    CASES,
    ("reference", "caller_id", "channel", "status", "urgency", "language", "version",
     "callback_needed", "created_at", "updated_at", "awaiting_staff_since"),
    "reference", "DO NOTHING", ("id",),
)
_INTERACTION_INSERT = insert(INTERACTIONS).returning(INTERACTIONS.c.id)
# PostgreSQL: the case's write and the message's insert as one statement (the insert
# reads the case id from the CTE; no row when the case insert drew a used reference).


def _message_binds(*names: tuple[str, Any]) -> list[Any]:
    return [bindparam(name, type_=type_) for name, type_ in names] + [
        bindparam("kind", type_=INTERACTIONS.c.kind.type),
        bindparam("channel", type_=INTERACTIONS.c.channel.type),
        bindparam("external_id", type_=INTERACTIONS.c.external_id.type),
        bindparam("body", type_=INTERACTIONS.c.body.type),
        bindparam("meta", type_=INTERACTIONS.c.meta.type),
        bindparam("now", type_=INTERACTIONS.c.created_at.type)]


# A new case (``{urgency}``: its urgency) as the CTE ``written``, and the message's insert
# reading the case id from it: the pieces of the three statements below.
_NEW_CASE_CTE = (
    "WITH written AS (INSERT INTO cases (reference, caller_id, channel, status, urgency, "
    "language, version, callback_needed, created_at, updated_at, awaiting_staff_since) "
    "VALUES (:reference, :caller_id, :channel, 'new', {urgency}, :language, 1, false, :now, "
    ":now, :awaiting) "
    "ON CONFLICT (reference) DO NOTHING RETURNING id)")
_MESSAGE_FROM_WRITTEN = (
    "INSERT INTO interactions (case_id, kind, channel, external_id, body, meta, created_at, "
    "send_attempts) SELECT id, :kind, :channel, :external_id, :body, :meta, :now, 0 "
    "FROM written RETURNING case_id, id")
_NEW_CASE_BINDS = (("reference", CASES.c.reference.type), ("caller_id", CASES.c.caller_id.type),
                   ("language", CASES.c.language.type),
                   ("awaiting", CASES.c.awaiting_staff_since.type))
_NEW_CASE_MESSAGE = text(
    _NEW_CASE_CTE.format(urgency="'normal'") + " " + _MESSAGE_FROM_WRITTEN,
).bindparams(*_message_binds(*_NEW_CASE_BINDS))
# The same for a first message that raises the urgency (``cases.keywords``): the case is
# inserted with it, and the system's classification change follows the message (its
# insert reads the message's row, so it draws the later id).
_NEW_CASE_RAISED_MESSAGE = text(
    f"{_NEW_CASE_CTE.format(urgency=':urgency')}, message AS ({_MESSAGE_FROM_WRITTEN}), "  # noqa: S608
    "raised AS (INSERT INTO interactions (case_id, kind, meta, created_at, send_attempts) "
    "SELECT case_id, 'classification_change', :raised_meta, :now, 0 FROM message) "
    "SELECT case_id, id FROM message",
).bindparams(*_message_binds(*_NEW_CASE_BINDS, ("urgency", CASES.c.urgency.type),
                             ("raised_meta", INTERACTIONS.c.meta.type)))
# A message joining an open case that changes nothing else (the common repeat message).
_TOUCH_CASE_MESSAGE = text(
    "WITH written AS (UPDATE cases SET updated_at = :now, version = version + 1, "  # noqa: S608
    "awaiting_staff_since = COALESCE(awaiting_staff_since, :awaiting) "
    f"WHERE id = :case_id RETURNING id) {_MESSAGE_FROM_WRITTEN}",
).bindparams(*_message_binds(("case_id", CASES.c.id.type),
                             ("awaiting", CASES.c.awaiting_staff_since.type)))
# Writes the case and inserts the message; returns (case id, interaction id).
Pending = Callable[[dict[str, Any]], tuple[int, int]]


def _existing(kind: str, external_id: str) -> IntakeResult | None:
    """The result for a delivery already stored, if any (a cheap index probe)."""
    found = db.session.execute(_EXISTING, {"kind": kind, "external_id": external_id}
                               ).scalar_one_or_none()
    if found is None:
        return None
    interaction = db.session.get_one(Interaction, found)
    result = IntakeResult(interaction.case_id, interaction.id, created=False)
    result._objects["interaction"] = interaction
    return result


def _lock_caller(index: str, address_kind: str, normalised: str, language: str | None,
                 now: datetime, auto_reply_every: timedelta | None = None,
                 probe: tuple[str, str] | None = None) -> Row | None:
    """Create the caller or touch its ``last_seen``, lock the row: one upsert.

    ``ON CONFLICT DO UPDATE`` locks the existing row until the commit (as ``FOR UPDATE``
    would), so concurrent deliveries from one caller choose its open case one at a time.
    Returns (id, preferred_language, opted_out, flag[, last_auto_reply_at]). With
    ``probe`` = (kind, external_id) (PostgreSQL) also ``inserted``, and None when that
    delivery is already stored (nothing written).
    """
    values: dict[str, Any] = {
        "address_index": index, "address": normalised, "address_kind": address_kind,
        "opted_out": False, "preferred_language": language, "first_seen": now,
        "last_seen": now,
    }
    if probe is not None:
        values["kind"], values["external_id"] = probe
    if auto_reply_every is None:
        statement = _CALLER_UPSERT if probe is None else _CALLER_UPSERT_PROBE
    else:
        statement = _CALLER_UPSERT_REPLY if probe is None else _CALLER_UPSERT_REPLY_PROBE
        values.update(last_auto_reply_at=now, reply_cutoff=now - auto_reply_every)
    return db.session.execute(statement, values).one_or_none()


def _update_caller(caller: Row, name: str | None, language: str | None) -> str | None:
    """Fill in the caller's name and preferred language when unknown; the language."""
    changes: dict[str, Any] = {}
    preferred = caller.preferred_language
    if language and not preferred:
        preferred = changes["preferred_language"] = language
    if name:
        token = db.session.execute(_CALLER_NAME, {"id": caller.id}).scalar_one()
        if token is None or not cipher().decrypt(token):
            changes["name"] = name
    if changes:
        db.session.execute(update(CALLERS).where(CALLERS.c.id == caller.id).values(**changes))
    return preferred


def _open_case_for(caller: Row, preferred: str | None, channel: str, language: str | None,
                   fallback_language: str | None, now: datetime,
                   combined: bool = False, *, waiting: bool
                   ) -> tuple[IntakeResult, Pending | None]:
    """The caller's open case, a recently closed one reopened, or a new case.

    With ``combined`` (PostgreSQL) a new case, or an open case the message only touches,
    is written together with the message: the second value then does both (the result's
    ``case_id`` is 0 for a new case until then). A caller the upsert just created has
    no case to look up.

    ``waiting``: the contact is the caller's, so the case awaits staff from now on unless
    it already did (``Case.awaiting_staff_since``, the unattended rule); set in the same
    statement that writes the case, never in one more.
    """
    awaiting = now if waiting else None
    # Only the probing upsert (a delivery with an external id) returns ``inserted``.
    if combined and caller._mapping.get("inserted", False):
        latest = None
    else:
        latest = db.session.execute(_LATEST_CASE, {"caller_id": caller.id}).one_or_none()
    window = timedelta(days=current_app.config["REOPEN_WINDOW_DAYS"])
    state = {"caller_id": caller.id, "caller_opted_out": bool(caller.opted_out),
             "caller_flag": caller.flag}
    if latest is not None and latest.status in OPEN_STATUSES:
        case_language = latest.language or language
        opened = reopened = False
        changes = _follow_caller_contact(latest)
    elif (latest is not None and latest.closed_at is not None and latest.purged_at is None
          and now - latest.closed_at <= window):
        case_language = latest.language
        opened, reopened = False, True
        changes = {**_follow_caller_contact(latest), "closed_at": None, "resolution": None}
    else:
        case_language = language or preferred or fallback_language
        if combined:
            reference = new_reference()
            pending = _new_case_message(reference, caller.id, case_language, awaiting)
            return IntakeResult(0, None, created=True, case_opened=True,
                                reference=format_reference(reference),
                                language=case_language, **state), pending
        case_id, reference = _new_case(caller.id, channel, case_language, now, waiting)
        return IntakeResult(case_id, None, created=True, case_opened=True,
                            reference=format_reference(reference), language=case_language,
                            **state), None
    if fallback_language and not case_language:
        case_language = preferred or fallback_language
    if case_language != latest.language:
        changes["language"] = case_language
    result = IntakeResult(latest.id, None, created=True, case_reopened=reopened,
                          case_opened=opened, reference=format_reference(latest.reference),
                          language=case_language, urgency=latest.urgency, **state)
    if combined and not changes:
        case_id = latest.id

        def touch(values: dict[str, Any]) -> tuple[int, int]:
            row = db.session.execute(_TOUCH_CASE_MESSAGE, {
                **values, "case_id": case_id, "awaiting": awaiting}).one()
            return row[0], row[1]

        return result, touch
    if waiting:
        changes["awaiting_staff_since"] = func.coalesce(CASES.c.awaiting_staff_since,
                                                        literal(now, UTCDateTime()))
    # As the ORM's optimistic lock would: every change to a case bumps its version.
    db.session.execute(update(CASES).where(CASES.c.id == latest.id).values(
        updated_at=now, version=CASES.c.version + 1, **changes))
    return result, None


def _new_case_message(reference: str, caller_id: int, language: str | None,
                      awaiting: datetime | None) -> Pending:
    """The combined insert of a new case and its first message (PostgreSQL); a (rare)
    reference clash inserts neither and raises ``_ReferenceTaken``."""

    def write(values: dict[str, Any]) -> tuple[int, int]:
        raised: keywords.Match | None = values.pop("raised", None)
        binds = {**values, "reference": reference, "caller_id": caller_id,
                 "language": language, "awaiting": awaiting}
        if raised is None:
            row = db.session.execute(_NEW_CASE_MESSAGE, binds).one_or_none()
        else:
            row = db.session.execute(_NEW_CASE_RAISED_MESSAGE, {
                **binds, "urgency": raised.urgency,
                "raised_meta": _raise_meta("normal", raised)}).one_or_none()
        if row is None:
            raise _ReferenceTaken(reference)
        return row[0], row[1]

    return write


class _ReferenceTaken(Exception):
    """The reference drawn for a new case is already in use (PostgreSQL's combined path)."""


def _raise_urgency(result: IntakeResult, found: keywords.Match, now: datetime) -> None:
    """Apply a keyword rule's match (``cases.keywords``) to the message's existing case.

    Two more statements, only when a rule makes the case more urgent: the case update
    (guarded by the urgency it had, so a concurrent change is never lowered) and the
    system's classification change, naming the rule and not the caller's words. (A new
    case on PostgreSQL gets both in the statement that inserts it.)
    """
    changed = db.session.execute(
        update(CASES).where(CASES.c.id == result.case_id, CASES.c.urgency == result.urgency)
        .values(urgency=found.urgency, version=CASES.c.version + 1)
        .returning(CASES.c.id)).scalar_one_or_none()
    if changed is None:
        return
    db.session.execute(_INTERACTION_INSERT, {
        "case_id": result.case_id, "kind": "classification_change", "channel": None,
        "external_id": None, "body": None, "meta": _raise_meta(result.urgency, found),
        "author_id": None, "created_at": now, "delivery_status": None, "send_attempts": 0,
        "next_attempt_at": None, "last_error": None,
    })
    _urgency_raised(result, found)


def _raise_meta(before: str, found: keywords.Match) -> dict[str, Any]:
    """The timeline meta of the system's urgency change by a keyword rule."""
    return {**classification_change_meta({"urgency": [before, found.urgency]}),
            "reason": "keyword", "rule": found.rule}


def _urgency_raised(result: IntakeResult, found: keywords.Match) -> None:
    result.urgency = found.urgency
    log_event(log, "intake.urgency_raised", case=result.reference, rule=found.rule,
              urgency=found.urgency)


def _follow_caller_contact(case: Row) -> dict[str, Any]:
    """Move a waiting or closed case back into work and note the change on the timeline.

    Returns the case columns to change.
    """
    target = STATUS_ON_CALLER_CONTACT.get(case.status)
    if target is None:
        return {}
    db.session.execute(_INTERACTION_INSERT, {
        "case_id": case.id, "kind": "status_change", "channel": None, "external_id": None,
        "body": None, "meta": status_change_meta(case.status, target, reason="caller_contact"),
        "author_id": None, "created_at": utcnow(), "delivery_status": None,
        "send_attempts": 0, "next_attempt_at": None, "last_error": None,
    })
    return {"status": target}


def _new_case(caller_id: int, channel: str, language: str | None,
              now: datetime, waiting: bool) -> tuple[int, str]:
    """Insert a case under a fresh reference; a (rare) clash draws another one."""
    for _ in range(_REFERENCE_ATTEMPTS):
        reference = new_reference()
        case_id = db.session.execute(_CASE_INSERT, {
            "reference": reference, "caller_id": caller_id, "channel": channel,
            "status": "new", "urgency": "normal", "language": language, "version": 1,
            "callback_needed": False, "created_at": now, "updated_at": now,
            "awaiting_staff_since": now if waiting else None,
        }).scalar_one_or_none()
        if case_id is not None:
            return case_id, reference
    raise RuntimeError("could not draw an unused case reference")
