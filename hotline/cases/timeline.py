"""The case timeline: every kind of entry, its meta, how it is shown and what a purge keeps.

A timeline entry is an ``Interaction`` row; its ``meta`` JSON is written **only** through
the typed constructors here (``message_in_meta``, ``call_meta`` …), by every writer:
intake, the channels, staff actions, the outbox, the demo seed. Each kind is declared once
in ``KINDS`` with

- ``keep``: the meta keys a retention purge may leave, each with the test its value must
  pass (numbers, booleans, the system's own code words); everything else is dropped;
- ``present``: what the case page, the API and the follow-up thread show of it
  (``present_timeline``), rendered by the template fragment ``timeline/<kind>.html``;
- ``by_caller``: whether the caller wrote it (the follow-up thread's "you", the stale-edit
  message's "a new message from the caller", later a latest-message preview).

Adding a kind: one ``EntryKind`` (with its meta constructor and presenter) in this module
and one template fragment ``templates/timeline/<kind>.html``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypedDict, TypeGuard

from flask_babel import lazy_gettext as _l
from sqlalchemy import ColumnElement, and_, or_

from hotline.cases.vocabularies import (
    CHANNELS,
    CLASSIFICATIONS,
    DELIVERY_STATUSES,
    LANGUAGES,
)
from hotline.cases.workflow import RESOLUTIONS, STATUSES
from hotline.models import Interaction

# ---- the values a purge may keep -------------------------------------------------------

CALL_STATUSES = ("queued", "initiated", "ringing", "in-progress", "completed", "busy",
                 "no-answer", "failed", "canceled")
DIAL_STATUSES = ("completed", "answered", "busy", "no-answer", "failed", "canceled",
                 "unknown", "no-staff", "unavailable")
CALLBACK_OUTCOMES = ("reached", "no_answer", "busy", "voicemail_left", "wrong_number", "failed")

# What became of a call-back through the line (``line_outcome``); the hand-logged
# outcomes are CALLBACK_OUTCOMES.
LINE_OUTCOMES = ("reached", "busy", "no_answer", "failed", "canceled", "staff_missed",
                 "not_placed")
# Why the line could not place or end a leg, as staff read it on the case. The code words
# are stored (a purge keeps them); Twilio's own message is never stored (it may quote a
# number).
LINE_ERRORS = {
    "not_configured": _l("Twilio is not configured (TWILIO_ACCOUNT_SID / TWILIO_AUTH_TOKEN)."),
    "no_voice_from": _l("Call-back is off: TWILIO_VOICE_FROM is not set."),
    "no_public_url": _l("Call-back is off: PUBLIC_BASE_URL is not set."),
    "no_roster_phone": _l("The staff member has no usable phone number on the roster."),
    "no_caller_number": _l("The caller has no phone number the line can call."),
    "opted_out": _l("The caller opted out (STOP): the line does not call them."),
    "blocked": _l("The caller is blocked: the line does not call them."),
    "expired": _l("Not placed: the worker did not pick the call up within a minute "
                  "(is the outbox worker running?)."),
    "interrupted": _l("Interrupted while placing the call: check before trying again."),
    "invalid_number": _l("Twilio says the number is not a valid phone number."),
    "unreachable": _l("Twilio says the number cannot be reached."),
    "geo_permission": _l("Calls to this country are not enabled in the Twilio account "
                         "(Voice geographic permissions)."),
    "bad_from": _l("Twilio does not accept the hotline number (TWILIO_VOICE_FROM) as a "
                   "caller ID of this account."),
    "auth": _l("Twilio refused the account credentials."),
    "rate_limited": _l("Twilio is limiting the account's requests: try again in a minute."),
    "gone": _l("Twilio has no such call any more (it had ended)."),
    "twilio_refused": _l("Twilio refused the request."),
    "twilio_unreachable": _l("Twilio could not be reached (network or Twilio outage)."),
    "conference_ended": _l("The call had ended before the interpreter could join."),
}
# Attachments shown inline on the case page; anything else (SVG included) is a download.
INLINE_IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
MAX_ATTACHMENTS = 10
# Who holds a caller's file, and the meta key that names it there
# (``channels.attachments`` has the opener of each).
MEDIA_SOURCES = {"twilio": "url", "telegram": "file_id"}

_CODE_WORD = re.compile(r"^[a-z]+(?:[_-][a-z]+)*$")
_MAX_CODE_WORD = 32
_ISO_MOMENT = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?([+-]\d\d:\d\d|Z)?$")
SYSTEM_WORDS = frozenset(
    (*STATUSES, *RESOLUTIONS, *CHANNELS, *LANGUAGES, *DELIVERY_STATUSES, *CALL_STATUSES,
     *DIAL_STATUSES, *CALLBACK_OUTCOMES, *LINE_OUTCOMES, *LINE_ERRORS, "not-placed",
     *(value for values in CLASSIFICATIONS.values() for value in values)))

Check = Callable[[Any], bool]


def is_code_word(value: Any) -> bool:
    """A short lower-case word of the system's own (a status, a reason), never free text."""
    return isinstance(value, str) and (value in SYSTEM_WORDS or (
        len(value) <= _MAX_CODE_WORD and _CODE_WORD.match(value) is not None))


def is_number(value: Any) -> bool:
    """An int or float (not a bool)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def is_user_id(value: Any) -> TypeGuard[int]:
    """A staff member's id as meta stores it (an int, not a bool)."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_flag(value: Any) -> bool:
    """A boolean."""
    return isinstance(value, bool)


def is_moment(value: Any) -> bool:
    """An ISO-8601 timestamp (a date, which a purge keeps like every other date)."""
    return isinstance(value, str) and _ISO_MOMENT.match(value) is not None


def is_id(value: Any) -> bool:
    """A row id (of a staff member) or None."""
    return value is None or is_number(value)


def is_code_or_none(value: Any) -> bool:
    return value is None or is_code_word(value)


def is_changes(value: Any) -> bool:
    """``{field: [before, after]}`` made only of code words (classification changes)."""
    return isinstance(value, dict) and all(
        is_code_word(name) and isinstance(pair, list) and len(pair) == 2
        and all(is_code_or_none(v) for v in pair) for name, pair in value.items())


# ---- meta of each kind: typed dicts and their constructors -------------------------------

class Media(TypedDict, total=False):
    """One attachment of an inbound message, as its channel listed it.

    ``source`` names who holds the file (``MEDIA_SOURCES``; absent means Twilio), and the
    source's locator key names the file there: a Twilio media URL, a Telegram ``file_id``.
    """

    source: str
    url: str  # Twilio: fetched with the account credentials from TWILIO_MEDIA_HOSTS
    file_id: str  # Telegram: opened through the Bot API's getFile
    kind: str  # Telegram's kind of file (photo, document, voice, ...)
    content_type: str


class MessageInMeta(TypedDict, total=False):
    media: list[Media]
    truncated: bool
    opt: str  # "out" (STOP) or "in" (START)
    auto_reply: bool
    edited: bool  # Telegram: the caller edited an earlier message; this is the new text
    command: str  # Telegram: "start" or "stop"
    unshown: str  # Telegram: a content Hotline does not show (e.g. "poll")


class MessageOutMeta(TypedDict, total=False):
    auto_reply: bool
    # An approved WhatsApp template (outside the 24-hour window): sent by Content SID.
    whatsapp_template: str
    content_sid: str
    content_variables: dict[str, str]


class CallMeta(TypedDict, total=False):
    """An inbound call, gathered from the voice webhooks in whatever order they arrive."""

    call_status: str | None
    dial_status: str
    duration: int
    language: str
    voicemail: str  # the RecordingSid
    callback_marked: bool
    withheld: bool
    answered_by: int  # id of the staff member who pressed 1
    conference: str  # moved into this conference for an interpreter (channels.twilio.calls)
    moved: bool  # the staff leg is in that conference now


class VoicemailMeta(TypedDict, total=False):
    recording_url: str
    duration: int
    call_sid: str
    language: str | None


# ``from`` is a Python keyword, hence the functional form. ``reason`` is "caller_contact"
# when the caller's message moved the case.
StatusChangeMeta = TypedDict("StatusChangeMeta", {
    "from": str, "to": str, "resolution": str | None, "reason": str}, total=False)


class ClassificationChangeMeta(TypedDict, total=False):
    changes: dict[str, list[str | None]]
    reason: str  # "keyword": a keyword rule of ``cases.keywords`` raised the urgency
    rule: str  # that rule's name


AssignmentMeta = TypedDict("AssignmentMeta", {
    "from": int | None, "to": int | None, "from_name": str | None, "to_name": str | None,
    "reason": str}, total=False)


class CallbackMeta(TypedDict, total=False):
    """A call to the caller: logged by hand, or made through the line (``via: line``)."""

    outcome: str
    at: str
    unsafe_confirmed: bool
    # Through the line, summarised from its legs by ``channels.twilio.calls``:
    via: str
    conference: str
    staff_status: str  # the staff leg's Twilio call status (or not-placed)
    accepted_at: str  # the staff member pressed 1
    caller_status: str
    answered_at: str  # the caller answered
    duration: int  # of the caller's leg: the conversation
    error: str  # a code of LINE_ERRORS
    error_code: int  # Twilio's error code


class InterpreterMeta(TypedDict, total=False):
    """A roster member added to a call to interpret (a conference participant)."""

    interpreter: int  # their user id
    on: int  # the call's entry (a call-back or an inbound call)
    status: str
    answered_at: str
    duration: int
    error: str
    error_code: int


def message_in_meta(*, media: Iterable[Media] = (), truncated: bool = False,
                    opt: str | None = None, auto_reply: bool = False, edited: bool = False,
                    command: str | None = None, unshown: str | None = None) -> MessageInMeta:
    """Meta of a caller's message: attachments, truncation, STOP/START, auto-reply sent,
    and Telegram's edit mark, command and unshown content."""
    meta: MessageInMeta = {}
    listed = list(media)
    if listed:
        meta["media"] = listed[:MAX_ATTACHMENTS]
    if edited:
        meta["edited"] = True
    if command is not None:
        meta["command"] = command
    if opt is not None:
        meta["opt"] = opt
    if unshown is not None:
        meta["unshown"] = unshown
    if truncated:
        meta["truncated"] = True
    if auto_reply:
        meta["auto_reply"] = True
    return meta


def message_out_meta(*, auto_reply: bool = False) -> MessageOutMeta:
    """Meta of a reply (delivery status lives in its own column)."""
    return MessageOutMeta(auto_reply=auto_reply)


def whatsapp_template_meta(name: str, content_sid: str,
                           variables: dict[str, str]) -> MessageOutMeta:
    """Meta of a reply that is an approved WhatsApp template (Twilio Content API)."""
    return MessageOutMeta(auto_reply=False, whatsapp_template=name, content_sid=content_sid,
                          content_variables=variables)


def call_meta(*, call_status: str | None, withheld: bool = False) -> CallMeta:
    """Meta of an inbound call when it is first taken in; the webhooks add to it."""
    meta = CallMeta(call_status=call_status)
    if withheld:
        meta["withheld"] = True
    return meta


def voicemail_meta(*, recording_url: str, duration: int, call_sid: str,
                   language: str | None) -> VoicemailMeta:
    """Meta of a voicemail: where Twilio keeps the audio (fetched only server-side)."""
    return VoicemailMeta(recording_url=recording_url, duration=max(duration, 0),
                         call_sid=call_sid, language=language)


def status_change_meta(before: str, after: str, *, resolution: str | None = None,
                       reason: str | None = None) -> StatusChangeMeta:
    """Meta of a status change (``reason="caller_contact"`` when the caller moved it)."""
    meta = StatusChangeMeta({"from": before, "to": after})
    if resolution is not None:
        meta["resolution"] = resolution
    if reason is not None:
        meta["reason"] = reason
    return meta


def classification_change_meta(changes: Mapping[str, list[str | None]]
                               ) -> ClassificationChangeMeta:
    """Meta of a classification (or caller flag) change: ``{field: [before, after]}``."""
    return ClassificationChangeMeta(changes={k: list(v) for k, v in changes.items()})


def assignment_meta(before: Any, after: Any, *, reason: str | None = None) -> AssignmentMeta:
    """Meta of an assignment: ids and display names of the previous and new assignee.

    ``reason`` when it was not a plain choice: ``shift_end`` when the assignee ended
    their shift and the case went back to the team queue (the handover).
    """
    meta = AssignmentMeta({
        "from": before.id if before else None, "to": after.id if after else None,
        "from_name": before.display_name if before else None,
        "to_name": after.display_name if after else None})
    if reason is not None:
        meta["reason"] = reason
    return meta


def callback_meta(*, outcome: str, at: datetime, unsafe_confirmed: bool = False
                  ) -> CallbackMeta:
    """Meta of a call staff made to the caller (logged by hand)."""
    meta = CallbackMeta(outcome=outcome, at=at.isoformat())
    if unsafe_confirmed:
        meta["unsafe_confirmed"] = True
    return meta


def line_callback_meta(*, at: datetime, conference: str, unsafe_confirmed: bool = False
                       ) -> CallbackMeta:
    """Meta of a call-back through the line when it is requested; its legs add the rest."""
    meta = CallbackMeta(via="line", at=at.isoformat(), conference=conference,
                        staff_status="queued")
    if unsafe_confirmed:
        meta["unsafe_confirmed"] = True
    return meta


def interpreter_meta(*, interpreter: int, on: int) -> InterpreterMeta:
    """Meta of an interpreter added to the call whose entry is ``on``."""
    return InterpreterMeta(interpreter=interpreter, on=on, status="queued")


def line_outcome(meta: Mapping[str, Any]) -> str | None:
    """What became of a call-back through the line, once it is settled (None before).

    The caller's leg decides once it exists; before it, the staff leg: not placed, or
    ended without the staff member pressing 1 (``staff_missed``), or ended after they
    pressed 1 but before the caller's phone was dialled (``canceled``).
    """
    staff, caller = meta.get("staff_status"), meta.get("caller_status")
    if meta.get("answered_at"):
        return "reached"
    if caller is not None:
        return {"busy": "busy", "no-answer": "no_answer", "failed": "failed",
                "canceled": "canceled", "completed": "no_answer",
                "not-placed": "not_placed"}.get(caller)
    if staff == "not-placed":
        return "not_placed"
    if staff in ("completed", "busy", "no-answer", "failed", "canceled"):
        return "canceled" if meta.get("accepted_at") else "staff_missed"
    return None


# ---- presenting ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Attachment:
    """One attachment as staff see it: ``n`` is its index in the message's media list."""

    n: int
    content_type: str
    inline: bool
    source: str = "twilio"  # a key of MEDIA_SOURCES

    @property
    def kind(self) -> str:
        """image, audio, video or file (for the wording)."""
        major = self.content_type.partition("/")[0]
        return major if major in ("image", "audio", "video") else "file"


@dataclass
class Entry:
    """One timeline entry ready for a page: what the fragment of its kind renders."""

    id: int
    kind: str
    created_at: datetime
    channel: str | None
    author: str | None
    by_caller: bool
    body: str | None
    meta: Mapping[str, Any]
    delivery_status: str | None = None
    last_error: str | None = None  # why a reply was not delivered, as the provider said
    facts: dict[str, Any] = field(default_factory=dict)

    @property
    def fragment(self) -> str:
        """The template that renders this entry."""
        return f"timeline/{self.kind if self.kind in KINDS else 'unknown'}.html"


def attachments(meta: Mapping[str, Any]) -> list[Attachment]:
    """The attachments a message's meta lists (none once purged)."""
    found = []
    for n, media in enumerate(meta.get("media") or ()):
        if not isinstance(media, dict):
            continue
        source = media.get("source") or "twilio"
        locator = MEDIA_SOURCES.get(source)
        if locator is None or not isinstance(media.get(locator), str) or not media[locator]:
            continue
        content_type = str(media.get("content_type") or "application/octet-stream").lower()
        found.append(Attachment(n, content_type, content_type in INLINE_IMAGE_TYPES, source))
    return found


def call_outcome(meta: Mapping[str, Any]) -> str:
    """What became of an inbound call: answered, voicemail, busy, no_answer, missed,
    in_progress.

    From the dial result first (it says whether a staff member took the call), then a
    voicemail, then the call's own final status (a caller who hung up in the menu).
    """
    dial, status = meta.get("dial_status"), meta.get("call_status")
    if dial in ("completed", "answered"):
        return "answered"
    if meta.get("voicemail"):
        return "voicemail"
    if dial == "busy" or (dial is None and status == "busy"):
        return "busy"
    if dial == "no-answer" or (dial is None and status == "no-answer"):
        return "no_answer"
    if dial is not None or status in ("completed", "failed", "canceled"):
        return "missed"
    return "in_progress"


def _present_message_in(entry: Entry, names: Mapping[int, str]) -> None:
    entry.facts["attachments"] = attachments(entry.meta)
    entry.facts["media_removed"] = bool(entry.meta.get("purged")) and not entry.facts[
        "attachments"]


def _present_call(entry: Entry, names: Mapping[int, str]) -> None:
    answered_by = entry.meta.get("answered_by")
    entry.facts.update(outcome=call_outcome(entry.meta), duration=entry.meta.get("duration"),
                       answered_by=names.get(answered_by) if is_user_id(answered_by) else None,
                       withheld=bool(entry.meta.get("withheld")))


LINE_OUTCOME_TEXT = {
    "reached": _l("the caller answered"),
    "busy": _l("the caller's line was busy"),
    "no_answer": _l("the caller did not answer"),
    "failed": _l("the call to the caller failed"),
    "canceled": _l("ended before the caller answered"),
    "staff_missed": _l("not accepted: the staff phone was not answered or 1 not pressed"),
    "not_placed": _l("not placed"),
}
INTERPRETER_STATUS_TEXT = {
    "queued": _l("ringing soon"), "initiated": _l("ringing"), "ringing": _l("ringing"),
    "in-progress": _l("on the call"), "completed": _l("was on the call"),
    "busy": _l("busy"), "no-answer": _l("did not answer"), "failed": _l("the call failed"),
    "canceled": _l("cancelled"), "not-placed": _l("not placed"),
}


def _line_error(meta: Mapping[str, Any]) -> str | None:
    error = meta.get("error")
    if not isinstance(error, str):
        return None
    words = str(LINE_ERRORS.get(error, LINE_ERRORS["twilio_refused"]))
    code = meta.get("error_code")
    return f"{words} (Twilio {code})" if is_number(code) else words


def _present_callback(entry: Entry, names: Mapping[int, str]) -> None:
    meta = entry.meta
    if meta.get("via") != "line":
        return
    outcome = meta.get("outcome") if meta.get("outcome") in LINE_OUTCOMES else None
    steps = []
    if meta.get("staff_status") in ("ringing", "in-progress", "completed") \
            or meta.get("accepted_at"):
        steps.append(_l("staff phone rang"))
    if meta.get("accepted_at"):
        steps.append(_l("staff accepted"))
    if meta.get("caller_status") in ("ringing", "in-progress", "completed", "no-answer"):
        steps.append(_l("caller's phone rang"))
    if meta.get("answered_at"):
        steps.append(_l("caller answered"))
    entry.facts.update(via_line=True, outcome=outcome,
                       outcome_text=LINE_OUTCOME_TEXT[outcome] if outcome else None,
                       steps=steps, duration=meta.get("duration"), error=_line_error(meta))


def _present_interpreter(entry: Entry, names: Mapping[int, str]) -> None:
    meta = entry.meta
    interpreter = meta.get("interpreter")
    status = meta.get("status")
    entry.facts.update(
        interpreter=names.get(interpreter) if is_user_id(interpreter) else None,
        status_text=INTERPRETER_STATUS_TEXT.get(status) if isinstance(status, str) else None,
        duration=meta.get("duration"), error=_line_error(meta))


def _present_assignment(entry: Entry, names: Mapping[int, str]) -> None:
    for side in ("from", "to"):
        user_id = entry.meta.get(side)
        entry.facts[f"{side}_name"] = (names.get(user_id) if is_user_id(user_id) else None
                                       ) or entry.meta.get(f"{side}_name")


def _present_nothing(entry: Entry, names: Mapping[int, str]) -> None:
    """Kinds whose fragment reads the meta as it is."""


@dataclass(frozen=True)
class EntryKind:
    """One kind of timeline entry (see the module docstring)."""

    name: str
    label: Any  # a lazy string
    keep: Mapping[str, Check] = field(default_factory=dict)
    by_caller: bool = False
    shows_body: bool = False
    present: Callable[[Entry, Mapping[int, str]], None] = _present_nothing
    # Meta keys holding staff user ids, resolved to display names for the page.
    user_keys: tuple[str, ...] = ()


KINDS: dict[str, EntryKind] = {kind.name: kind for kind in (
    EntryKind("message_in", _l("Message from the caller"), by_caller=True, shows_body=True,
              keep={"truncated": is_flag, "opt": is_code_word, "auto_reply": is_flag,
                    "edited": is_flag, "command": is_code_word, "unshown": is_code_word},
              present=_present_message_in),
    EntryKind("message_out", _l("Reply"), shows_body=True, keep={"auto_reply": is_flag}),
    EntryKind("call", _l("Call"), by_caller=True, shows_body=True,
              keep={"call_status": is_code_or_none, "dial_status": is_code_word,
                    "duration": is_number, "language": is_code_word, "withheld": is_flag,
                    "callback_marked": is_flag, "answered_by": is_id},
              present=_present_call, user_keys=("answered_by",)),
    EntryKind("voicemail", _l("Voicemail"), by_caller=True, shows_body=True,
              keep={"duration": is_number, "language": is_code_or_none}),
    EntryKind("note", _l("Note"), shows_body=True),
    EntryKind("status_change", _l("Status change"),
              keep={"from": is_code_word, "to": is_code_word,
                    "resolution": is_code_or_none, "reason": is_code_word}),
    EntryKind("classification_change", _l("Classification change"),
              keep={"changes": is_changes, "reason": is_code_word, "rule": is_code_word}),
    EntryKind("assignment", _l("Assignment"),
              keep={"from": is_id, "to": is_id, "reason": is_code_word},
              present=_present_assignment, user_keys=("from", "to")),
    EntryKind("callback", _l("Callback"), shows_body=True,
              keep={"outcome": is_code_word, "at": is_moment, "unsafe_confirmed": is_flag,
                    "via": is_code_word, "staff_status": is_code_word,
                    "accepted_at": is_moment, "caller_status": is_code_word,
                    "answered_at": is_moment, "duration": is_number, "error": is_code_word,
                    "error_code": is_number},
              present=_present_callback),
    EntryKind("interpreter", _l("Interpreter"),
              keep={"interpreter": is_id, "on": is_id, "status": is_code_word,
                    "answered_at": is_moment, "duration": is_number, "error": is_code_word,
                    "error_code": is_number},
              present=_present_interpreter, user_keys=("interpreter",)),
)}
INTERACTION_KINDS = tuple(KINDS)
CALLER_KINDS = tuple(name for name, kind in KINDS.items() if kind.by_caller)


def kind_of(name: str) -> EntryKind:
    """The declaration of a kind; KeyError for one this module does not know."""
    return KINDS[name]


def scrub_meta(kind: str, meta: Mapping[str, Any] | None) -> dict[str, Any]:
    """What a retention purge leaves of an entry's meta: the kind's anonymous keys only."""
    declared = KINDS[kind].keep if kind in KINDS else {}
    kept = {key: value for key, value in (meta or {}).items()
            if key in declared and declared[key](value)}
    kept["purged"] = True
    return kept


def present(interaction: Any, names: Mapping[int, str] | None = None,
            *, with_body: bool = True) -> Entry:
    """One interaction as an ``Entry``; ``names`` maps staff ids in meta to names."""
    kind = KINDS.get(interaction.kind)
    author = interaction.author.display_name if interaction.author is not None else None
    entry = Entry(
        id=interaction.id, kind=interaction.kind,
        created_at=interaction.created_at, channel=interaction.channel, author=author,
        by_caller=bool(kind and kind.by_caller and interaction.author_id is None),
        body=interaction.body if with_body and kind and kind.shows_body else None,
        meta=dict(interaction.meta or {}), delivery_status=interaction.delivery_status,
        last_error=interaction.last_error if interaction.kind == "message_out" else None)
    if kind is not None:
        kind.present(entry, names or {})
    return entry


def referenced_users(interactions: Iterable[Any]) -> set[int]:
    """Staff ids the entries' meta refers to (to load their names in one query)."""
    ids: set[int] = set()
    for item in interactions:
        kind = KINDS.get(item.kind)
        for key in kind.user_keys if kind else ():
            value = (item.meta or {}).get(key)
            if is_user_id(value):
                ids.add(value)
    return ids


def present_timeline(interactions: Iterable[Any], names: Mapping[int, str]
                     ) -> list[Entry]:
    """Every interaction of a page as entries (names: see ``referenced_users``)."""
    return [present(item, names) for item in interactions]


# Channels whose external ids are keyed hashes of a visitor's form (not Twilio Sids):
# they mean nothing to an API client and are never returned (security review, finding 1).
PRIVATE_EXTERNAL_ID_CHANNELS = frozenset({"web"})


def public_external_id(item: Any) -> str | None:
    """The interaction's external id as the API shows it (None for web submissions)."""
    if item.channel in PRIVATE_EXTERNAL_ID_CHANNELS:
        return None
    return item.external_id


def api_item(interaction: Any, *, with_body: bool) -> dict[str, Any]:
    """One interaction in ``GET /api/v1/cases/<reference>``."""
    kind = KINDS.get(interaction.kind)
    return {
        "kind": interaction.kind,
        "channel": interaction.channel,
        "external_id": public_external_id(interaction),
        "created_at": interaction.created_at.isoformat() if interaction.created_at else None,
        "body": interaction.body if with_body and kind and kind.shows_body else None,
        "meta": dict(interaction.meta or {}),
    }


def caller_visible_condition() -> ColumnElement[bool]:
    """The entries the web follow-up page shows the caller, as a WHERE clause.

    Their own web messages and the replies published for them; never notes, calls or
    anything staff-internal.
    """
    return and_(Interaction.channel == "web", or_(
        Interaction.kind == "message_in",
        and_(Interaction.kind == "message_out", Interaction.delivery_status == "published")))
