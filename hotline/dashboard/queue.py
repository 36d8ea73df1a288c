"""The queue: filters from the query string, visibility, order and keyset pages.

The queue reads ``(queue_rank, created_at, id)`` through the ``ix_cases_queue`` index
(open cases: the covering ``ix_cases_open_queue``, whose key also holds every filter
column) and pages with a cursor holding the last row's key (no OFFSET), so every page
costs the same with a million cases. The callback view reads ``ix_cases_callback_created``.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, func, literal, select, tuple_
from sqlalchemy.orm import joinedload
from werkzeug.datastructures import MultiDict

from hotline.cases.access import sees_all, visible_condition
from hotline.cases.ordering import CLOSED_RANK_MIN, queue_rank
from hotline.cases.references import ALPHABET, LENGTH, parse_reference
from hotline.cases.vocabularies import CHANNELS, CLASSIFICATIONS, LANGUAGES
from hotline.cases.workflow import STATUSES
from hotline.database import MAX_ROW_ID
from hotline.extensions import db
from hotline.models import Case, User, UTCDateTime

PAGE_SIZE = 50
# Ids and ranks from the query string must fit PostgreSQL's integer, or the query fails.
MAX_ID = MAX_ROW_ID  # ids beyond the database's integer are refused as bad input
STATUS_FILTERS = ("open", *STATUSES, "all")
VIEWS = ("queue", "callbacks")
STATUS_RANK_BANDS = {status: (queue_rank(status, "immediate"), queue_rank(status, "normal"))
                     for status in STATUSES}


class QueueRequestError(ValueError):
    """A filter value or cursor in the query string is not valid."""


@dataclass
class QueueQuery:
    """One queue request, validated."""

    view: str = "queue"
    status: str = "open"
    category: str | None = None
    channel: str | None = None
    language: str | None = None
    urgency: str | None = None
    assignee: str | None = None  # "mine", "unassigned" or a user id
    callback: bool = False
    search: str = ""
    cursor: tuple[Any, ...] | None = None
    extra: dict[str, str] = field(default_factory=dict)

    def params(self) -> dict[str, str]:
        """The query-string form of the filters (without the cursor)."""
        values: dict[str, str] = {}
        if self.view != "queue":
            values["view"] = self.view
        if self.status != "open":
            values["status"] = self.status
        for name in ("category", "channel", "language", "urgency", "assignee"):
            if getattr(self, name):
                values[name] = getattr(self, name)
        if self.callback:
            values["callback"] = "1"
        if self.search:
            values["q"] = self.search
        return values


def valid_id(text: str) -> bool:
    """True when ``text`` is a decimal id that a database integer column can hold."""
    return text.isascii() and text.isdigit() and int(text) <= MAX_ID


def _choice(args: MultiDict, name: str, allowed: tuple[str, ...]) -> str | None:
    value = args.get(name, "").strip()
    if not value:
        return None
    if value not in allowed:
        raise QueueRequestError(f"unknown {name} {value!r}")
    return value


def parse_query(args: MultiDict) -> QueueQuery:
    """Validate the query string; raises QueueRequestError on a bad value."""
    query = QueueQuery(
        view=_choice(args, "view", VIEWS) or "queue",
        status=_choice(args, "status", STATUS_FILTERS) or "open",
        category=_choice(args, "category", CLASSIFICATIONS["category"] + ("none",)),
        channel=_choice(args, "channel", CHANNELS),
        language=_choice(args, "language", LANGUAGES),
        urgency=_choice(args, "urgency", CLASSIFICATIONS["urgency"]),
        callback=args.get("callback", "") in ("1", "on", "yes", "true"),
        search=args.get("q", "").strip()[:40],
    )
    assignee = args.get("assignee", "").strip()
    if assignee and assignee not in ("mine", "unassigned") and not valid_id(assignee):
        raise QueueRequestError("unknown assignee")
    query.assignee = assignee or None
    if args.get("cursor"):
        query.cursor = decode_cursor(args["cursor"], query.view)
    return query


def encode_cursor(case: Case, view: str) -> str:
    """The opaque cursor pointing just after ``case``."""
    key: list[Any] = [case.created_at.isoformat(), case.id]
    if view == "queue":
        key.insert(0, case.queue_rank)
    raw = json.dumps(key, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, view: str) -> tuple[Any, ...]:
    """The key a cursor holds; raises QueueRequestError when it was not made by us."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        key = json.loads(raw)
        if not isinstance(key, list) or len(key) != (3 if view == "queue" else 2):
            raise ValueError
        *rank, created, case_id = key
        if any(type(n) is not int or not 0 <= n <= MAX_ID for n in (*rank, case_id)):
            raise ValueError
        moment = datetime.fromisoformat(created)
        if moment.tzinfo is None:
            raise ValueError
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise QueueRequestError("invalid cursor") from None
    return (*rank, moment, case_id)


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


def search_prefix(text: str) -> str | None:
    """The stored-form prefix a partial reference stands for, or None."""
    cleaned = "".join(ch for ch in text.upper() if ch not in "- \t")
    cleaned = cleaned.translate(str.maketrans({"I": "1", "L": "1", "O": "0"}))
    if not cleaned or len(cleaned) > LENGTH or any(ch not in ALPHABET for ch in cleaned):
        return None
    return cleaned


def find_exact(text: str, user: User) -> Case | None:
    """The visible case whose full reference is ``text`` (any case, dash or not)."""
    reference = parse_reference(text)
    if reference is None:
        return None
    return db.session.execute(
        select(Case).where(Case.reference == reference, visible_condition(user))
    ).scalar_one_or_none()


def rank_band(status: str) -> list[ColumnElement[bool]]:
    """``queue_rank`` within the band of ``status``, as two comparisons.

    Not BETWEEN: SQLite then keeps the range when it splits a staff member's visibility
    OR over ``ix_cases_assignee_queue``; with BETWEEN it read every unassigned case.
    """
    low, high = STATUS_RANK_BANDS[status]
    return [Case.queue_rank >= low, Case.queue_rank <= high]


def _filtered(query: QueueQuery, user: User) -> Select:
    stmt = select(Case).where(visible_condition(user))
    if query.search:
        prefix = search_prefix(query.search)
        if prefix is None:
            return stmt.where(literal(False))
        low, high = prefix_range(prefix)
        stmt = stmt.where(Case.reference >= low)
        if high is not None:
            stmt = stmt.where(Case.reference < high)
    elif query.status == "open":
        stmt = stmt.where(Case.queue_rank < CLOSED_RANK_MIN)
    elif query.status != "all":
        # The rank band of the status keeps the read inside the queue index.
        stmt = stmt.where(Case.status == query.status, *rank_band(query.status))
    if query.view == "callbacks":
        stmt = stmt.where(Case.callback_needed.is_(True), Case.queue_rank < CLOSED_RANK_MIN)
    elif query.callback:
        stmt = stmt.where(Case.callback_needed.is_(True))
    for name in ("channel", "language", "urgency"):
        if getattr(query, name):
            stmt = stmt.where(getattr(Case, name) == getattr(query, name))
    if query.category == "none":
        stmt = stmt.where(Case.category.is_(None))
    elif query.category:
        stmt = stmt.where(Case.category == query.category)
    if query.assignee == "mine":
        stmt = stmt.where(Case.assigned_to_id == user.id)
    elif query.assignee == "unassigned":
        stmt = stmt.where(Case.assigned_to_id.is_(None))
    elif query.assignee:
        stmt = stmt.where(Case.assigned_to_id == int(query.assignee))
    return stmt


def queue_page(query: QueueQuery, user: User, page_size: int = PAGE_SIZE
               ) -> tuple[list[Case], str | None]:
    """One page of the queue and the cursor of the next page (None on the last)."""
    stmt = _filtered(query, user).options(joinedload(Case.assigned_to))
    if query.view == "callbacks":
        key = (Case.created_at, Case.id)
    else:
        key = (Case.queue_rank, Case.created_at, Case.id)
    if query.cursor is not None:
        *rank, moment, case_id = query.cursor
        # The time is bound with the column's type so SQLite compares it as stored.
        values = [literal(r) for r in rank] + [literal(moment, UTCDateTime()), literal(case_id)]
        stmt = stmt.where(tuple_(*key) > tuple_(*values))
    rows = db.session.execute(stmt.order_by(*key).limit(page_size + 1)).scalars().all()
    page = list(rows[:page_size])
    more = len(rows) > page_size
    return page, encode_cursor(page[-1], query.view) if more and page else None


def new_count(user: User) -> int:
    """How many cases with status ``new`` ``user`` can see.

    Each database is asked in the form it answers from an index alone: PostgreSQL by
    the rank band of ``new`` (exactly the new cases, see ``ordering``) through
    ``ix_cases_open_queue``, where asking by status walked every open case through the
    heap; SQLite by status through ``ix_cases_assigned_status``, because SQLite reads
    the table row for an index over the generated rank. Every queue page and every
    poll of every open dashboard runs this count.
    """
    if db.session.get_bind().dialect.name == "postgresql":
        new_cases = rank_band("new")
    else:
        new_cases = [Case.status == "new"]
    return db.session.execute(
        select(func.count()).select_from(Case).where(*new_cases, visible_condition(user))
    ).scalar_one()


def arrived_since(user: User, last_id: int) -> tuple[int, int]:
    """Open visible cases created after case id ``last_id``, and the newest such id."""
    count, newest = db.session.execute(
        select(func.count(), func.max(Case.id))
        .where(Case.id > last_id, Case.queue_rank < CLOSED_RANK_MIN, visible_condition(user))
    ).one()
    return int(count), int(newest or last_id)


def latest_case_id() -> int:
    """The highest case id (the poller counts arrivals after it)."""
    return int(db.session.execute(select(func.max(Case.id))).scalar() or 0)


def assignee_choices(user: User) -> list[tuple[str, str]]:
    """Options of the assignee filter for ``user``."""
    choices = [("", "Anyone"), ("mine", "Mine"), ("unassigned", "Unassigned")]
    if sees_all(user):
        users = db.session.execute(
            select(User).where(User.active.is_(True)).order_by(User.display_name)
        ).scalars()
        choices += [(str(u.id), u.display_name) for u in users]
    return choices
