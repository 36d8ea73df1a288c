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
     *DIAL_STATUSES, *CALLBACK_OUTCOMES,
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


class VoicemailMeta(TypedDict, total=False):
    recording_url: str
    duration: int
    call_sid: str
    language: str | None


# ``from`` is a Python keyword, hence the functional form. ``reason`` is "caller_contact"
# when the caller's message moved the case.
StatusChangeMeta = TypedDict("StatusChangeMeta", {
    "from": str, "to": str, "resolution": str | None, "reason": str}, total=False)


class ClassificationChangeMeta(TypedDict):
    changes: dict[str, list[str | None]]


AssignmentMeta = TypedDict("AssignmentMeta", {
    "from": int | None, "to": int | None, "from_name": str | None, "to_name": str | None},
    total=False)


class CallbackMeta(TypedDict, total=False):
    outcome: str
    at: str
    unsafe_confirmed: bool


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


def assignment_meta(before: Any, after: Any) -> AssignmentMeta:
    """Meta of an assignment: ids and display names of the previous and new assignee."""
    return AssignmentMeta({
        "from": before.id if before else None, "to": after.id if after else None,
        "from_name": before.display_name if before else None,
        "to_name": after.display_name if after else None})


def callback_meta(*, outcome: str, at: datetime, unsafe_confirmed: bool = False
                  ) -> CallbackMeta:
    """Meta of a call staff made to the caller (logged by hand)."""
    meta = CallbackMeta(outcome=outcome, at=at.isoformat())
    if unsafe_confirmed:
        meta["unsafe_confirmed"] = True
    return meta


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
              keep={"changes": is_changes}),
    EntryKind("assignment", _l("Assignment"), keep={"from": is_id, "to": is_id},
              present=_present_assignment, user_keys=("from", "to")),
    EntryKind("callback", _l("Callback"), shows_body=True,
              keep={"outcome": is_code_word, "at": is_moment, "unsafe_confirmed": is_flag}),
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
