"""Case queries shared by every entry point: the dashboard queue, search and callback view,
``/api/v1/cases``, ``/reports/`` and ``/api/v1/stats``.

One home each for what a person types or a client sends:

- a **reference search** (``reference_search``): the whole reference or its beginning,
  dash optional, any letter case, I/L read as 1 and O as 0 (``references.normalise``),
  answered as a range on the unique reference index;
- one **filter set** (``CaseFilter`` / ``parse_filter`` / ``CaseFilter.conditions``): status,
  category, channel, language, urgency, assignee, callback needed, search; validated
  against the vocabularies, a bad value is a ``QueryError`` (a 400, never a 500);
- one **cursor codec** (``encode_cursor`` / ``decode_cursor``): an opaque keyset cursor over
  the sort key of a page, so no page costs an OFFSET;
- one **date-range parser** (``parse_date_range``): whole UTC days with an inclusive end, or
  ISO timestamps where a client may send them.

The queue's ordering and its index choices stay in ``dashboard.queue``; this module only
says *which* cases.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import ColumnElement, literal, select

from hotline.cases import targets
from hotline.cases.access import visible_condition
from hotline.cases.ordering import CLOSED_RANK_MIN, queue_rank
from hotline.cases.references import ALPHABET, LENGTH, normalise
from hotline.cases.vocabularies import CHANNELS, LANGUAGES, classification_choices
from hotline.cases.workflow import STATUSES
from hotline.database import MAX_ROW_ID
from hotline.extensions import db
from hotline.models import Case, User, utcnow

STATUS_FILTERS = ("open", *STATUSES, "all")
ASSIGNEE_WORDS = ("mine", "unassigned", "any")
TRUE_WORDS = ("1", "on", "yes", "true")
MAX_SEARCH_CHARS = 40
# Date ranges: the same bounds for the report page, its CSV and /api/v1/stats.
DEFAULT_RANGE_DAYS = 30
MAX_RANGE_DAYS = 3660
EARLIEST_DAY, LATEST_DAY = date(1970, 1, 1), date(9000, 12, 31)
STATUS_RANK_BANDS = {status: (queue_rank(status, "immediate"), queue_rank(status, "normal"))
                     for status in STATUSES}


OUT_OF_RANGE = "A value in the request is out of range."


class QueryError(ValueError):
    """A filter, cursor or date in a request is not valid; the message says which."""


# ---- references ---------------------------------------------------------------------------

def reference_search(text: str) -> str | None:
    """The stored-form prefix a typed (whole or partial) reference stands for, or None."""
    cleaned = normalise(text)
    if not cleaned or len(cleaned) > LENGTH or any(ch not in ALPHABET for ch in cleaned):
        return None
    return cleaned


def prefix_range(prefix: str) -> tuple[str, str | None]:
    """The ``[low, high)`` range of stored references starting with ``prefix``.

    A range on the unique reference index instead of LIKE, so PostgreSQL and SQLite
    both answer from the index whatever the collation.
    """
    chars = list(prefix)
    while chars:
        position = ALPHABET.index(chars[-1])
        if position + 1 < len(ALPHABET):
            chars[-1] = ALPHABET[position + 1]
            return prefix, "".join(chars)
        chars.pop()
    return prefix, None


def search_conditions(text: str) -> list[ColumnElement[bool]]:
    """Cases whose reference is, or begins with, ``text`` (nothing when it cannot be one)."""
    prefix = reference_search(text)
    if prefix is None:
        return [literal(False)]
    low, high = prefix_range(prefix)
    return [Case.reference >= low] + ([Case.reference < high] if high is not None else [])


def find_case(typed: str, user: User | None = None) -> Case | None:
    """The case whose whole reference is ``typed`` (visible to ``user`` when given)."""
    stored = normalise(typed)
    if len(stored) != LENGTH or any(ch not in ALPHABET for ch in stored):
        return None
    stmt = select(Case).where(Case.reference == stored)
    if user is not None:
        stmt = stmt.where(visible_condition(user))
    return db.session.execute(stmt).scalar_one_or_none()


# ---- the filter set -----------------------------------------------------------------------

def valid_id(text: str) -> bool:
    """True when ``text`` is a decimal id that a database integer column can hold."""
    return text.isascii() and text.isdigit() and int(text) <= MAX_ROW_ID


def rank_band(status: str) -> list[ColumnElement[bool]]:
    """``queue_rank`` within the band of ``status``, as two comparisons.

    Not BETWEEN: SQLite then keeps the range when it splits a staff member's visibility
    OR over ``ix_cases_assignee_queue``; with BETWEEN it read every unassigned case.
    """
    low, high = STATUS_RANK_BANDS[status]
    return [Case.queue_rank >= low, Case.queue_rank <= high]


@dataclass
class CaseFilter:
    """Which cases: one validated request of the queue, the callback view or the API."""

    status: str = "all"  # "open", a status, or "all"
    category: str | None = None  # a category or "none"
    channel: str | None = None
    language: str | None = None
    urgency: str | None = None
    assignee: str | None = None  # "mine", "unassigned", "any" or a user id
    callback: bool = False
    search: str = ""
    overdue: bool = False  # open, unanswered and past its response target (cases.targets)

    def conditions(self, user: User | None) -> list[ColumnElement[bool]]:
        """WHERE conditions for these filters, limited to what ``user`` may see."""
        conds: list[ColumnElement[bool]] = []
        if user is not None:
            conds.append(visible_condition(user))
        if self.search:
            conds += search_conditions(self.search)
        if self.status == "open":
            conds.append(Case.queue_rank < CLOSED_RANK_MIN)
        elif self.status != "all":
            # The rank band of the status keeps the read inside the queue index.
            conds += [Case.status == self.status, *rank_band(self.status)]
        if self.callback:
            conds.append(Case.callback_needed.is_(True))
        if self.overdue:
            conds.append(targets.overdue_condition(utcnow(), current_app.config))
        for name in ("channel", "language", "urgency"):
            if getattr(self, name):
                conds.append(getattr(Case, name) == getattr(self, name))
        if self.category == "none":
            conds.append(Case.category.is_(None))
        elif self.category:
            conds.append(Case.category == self.category)
        conds += self._assignee(user)
        return conds

    def _assignee(self, user: User | None) -> list[ColumnElement[bool]]:
        if self.assignee == "mine":
            return [Case.assigned_to_id == (user.id if user is not None else -1)]
        if self.assignee == "unassigned":
            return [Case.assigned_to_id.is_(None)]
        if self.assignee == "any":
            return [Case.assigned_to_id.is_not(None)]
        if self.assignee:
            return [Case.assigned_to_id == int(self.assignee)]
        return []

    def params(self, default_status: str = "open") -> dict[str, str]:
        """The query-string form of the filters (for links that keep them)."""
        values: dict[str, str] = {}
        if self.status != default_status:
            values["status"] = self.status
        for name in ("category", "channel", "language", "urgency", "assignee"):
            if getattr(self, name):
                values[name] = getattr(self, name)
        if self.callback:
            values["callback"] = "1"
        if self.overdue:
            values["overdue"] = "1"
        if self.search:
            values["q"] = self.search
        return values


def _choice(args: Mapping[str, str], name: str, allowed: Sequence[str]) -> str | None:
    value = (args.get(name) or "").strip()
    if not value:
        return None
    if value not in allowed:
        raise QueryError(_("unknown %(name)s %(value)s; choose one of %(allowed)s", name=name,
                           value=repr(value[:40]), allowed=", ".join(allowed)))
    return value


def categories() -> tuple[str, ...]:
    """The category vocabulary in force (``CLASSIFICATION_VOCABULARIES`` applies)."""
    return classification_choices(
        current_app.config.get("CLASSIFICATION_VOCABULARIES"))["category"]


def parse_filter(args: Mapping[str, str], *, default_status: str = "open",
                 assignee_param: str = "assignee") -> CaseFilter:
    """Validate filters from a query string; raises QueryError.

    A search looks through every status unless a status is asked for explicitly.
    """
    search = (args.get("q") or "").strip()[:MAX_SEARCH_CHARS]
    status = _choice(args, "status", STATUS_FILTERS)
    assignee = (args.get(assignee_param) or "").strip() or None
    if assignee is not None and assignee not in ASSIGNEE_WORDS and not valid_id(assignee):
        raise QueryError(OUT_OF_RANGE if assignee.isascii() and assignee.isdigit()
                         else f"unknown {assignee_param}")
    urgencies = classification_choices(
        current_app.config.get("CLASSIFICATION_VOCABULARIES"))["urgency"]
    return CaseFilter(
        status=status or ("all" if search else default_status),
        category=_choice(args, "category", (*categories(), "none")),
        channel=_choice(args, "channel", CHANNELS),
        language=_choice(args, "language", LANGUAGES),
        urgency=_choice(args, "urgency", urgencies),
        assignee=assignee,
        callback=(args.get("callback") or "").strip().lower() in TRUE_WORDS,
        search=search,
        overdue=(args.get("overdue") or "").strip().lower() in TRUE_WORDS,
    )


# ---- the cursor codec ---------------------------------------------------------------------

CursorValue = int | datetime


def encode_cursor(key: Sequence[CursorValue]) -> str:
    """An opaque cursor holding the sort key of the last row of a page."""
    values = [value.isoformat() if isinstance(value, datetime) else value for value in key]
    raw = json.dumps(values, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, layout: Sequence[type]) -> tuple[CursorValue, ...]:
    """The key a cursor holds, each value of the type ``layout`` names (int or datetime).

    Raises QueryError for anything this module did not make: wrong shape, a number
    beyond a database integer, a time without its zone.
    """
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = json.loads(raw)
        if not isinstance(values, list) or len(values) != len(layout):
            raise ValueError
        key: list[CursorValue] = []
        for value, kind in zip(values, layout, strict=True):
            if kind is int:
                if type(value) is not int or value < 0:
                    raise ValueError
                if value > MAX_ROW_ID:
                    raise QueryError(OUT_OF_RANGE)
                key.append(value)
            else:
                moment = datetime.fromisoformat(value)
                if moment.tzinfo is None:
                    raise ValueError
                key.append(moment)
    except QueryError:
        raise
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise QueryError("invalid cursor") from None
    return tuple(key)


# ---- the date-range parser ----------------------------------------------------------------

@dataclass(frozen=True)
class DateRange:
    """``[since, until)`` in UTC."""

    since: datetime
    until: datetime

    @property
    def first_day(self) -> date:
        return self.since.date()

    @property
    def last_day(self) -> date:
        """The last whole day inside the range (``until`` is exclusive)."""
        return (self.until - timedelta(microseconds=1)).date()


def _bound(raw: str, name: str, *, end: bool, timestamps: bool) -> datetime:
    whole_day = len(raw) == 10 or not timestamps
    try:
        moment = (datetime.combine(date.fromisoformat(raw), time.min) if whole_day
                  else datetime.fromisoformat(raw))
    except ValueError:
        raise QueryError(
            _("'%(name)s' must be a date written YYYY-MM-DD or an ISO timestamp", name=name)
            if timestamps else _("'%(name)s' must be a date written YYYY-MM-DD", name=name)
        ) from None
    if not EARLIEST_DAY <= moment.date() <= LATEST_DAY:
        raise QueryError(_("'%(name)s' must lie between %(earliest)s and %(latest)s", name=name,
                           earliest=EARLIEST_DAY, latest=LATEST_DAY))
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    # A bare date means the whole day; the end of a range includes it.
    return moment + timedelta(days=1) if whole_day and end else moment


def parse_date_range(args: Mapping[str, str], names: tuple[str, str] = ("since", "until"),
                     *, timestamps: bool = True, today: date | None = None,
                     default_days: int = DEFAULT_RANGE_DAYS) -> DateRange:
    """A validated range from two query arguments; raises QueryError.

    Without a start it covers ``default_days`` whole days up to the end; without an end,
    up to and including today (UTC). At most ``MAX_RANGE_DAYS`` days.
    """
    first, last = names
    today = today or datetime.now(UTC).date()
    raw_until = (args.get(last) or "").strip()
    raw_since = (args.get(first) or "").strip()
    until = (_bound(raw_until, last, end=True, timestamps=timestamps) if raw_until
             else datetime.combine(today + timedelta(days=1), time.min, UTC))
    if raw_since:
        since = _bound(raw_since, first, end=False, timestamps=timestamps)
    else:
        earliest = datetime.combine(EARLIEST_DAY, time.min, UTC)
        since = max(until - timedelta(days=default_days), earliest)
    if until <= since:
        raise QueryError(_("'%(last)s' must not be before '%(first)s'", last=last, first=first))
    if until - since > timedelta(days=MAX_RANGE_DAYS):
        raise QueryError(_("the range may span at most %(count)s days", count=MAX_RANGE_DAYS))
    return DateRange(since, until)


__all__ = [
    "DEFAULT_RANGE_DAYS", "MAX_RANGE_DAYS", "STATUS_FILTERS", "CaseFilter", "DateRange",
    "QueryError", "decode_cursor", "encode_cursor", "find_case", "parse_date_range",
    "parse_filter", "prefix_range", "rank_band", "reference_search", "search_conditions",
    "valid_id",
]
