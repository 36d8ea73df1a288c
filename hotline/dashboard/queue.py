"""The queue: filters from the query string, visibility, order and keyset pages.

The queue reads ``(queue_rank, created_at, id)`` through the ``ix_cases_queue`` index
(open cases: the covering ``ix_cases_open_queue``, whose key also holds every filter
column) and pages with a cursor holding the last row's key (no OFFSET), so every page
costs the same with a million cases. The callback view reads ``ix_cases_callback_created``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import Select, func, literal, or_, select, tuple_
from sqlalchemy.orm import joinedload
from werkzeug.datastructures import MultiDict

from hotline.cases import queries, targets
from hotline.cases.access import (
    is_unattended,
    sees_all,
    unattended_condition,
    visible_condition,
)
from hotline.cases.ordering import CLOSED_RANK_MIN
from hotline.cases.queries import STATUS_FILTERS, CaseFilter, QueryError, rank_band, valid_id
from hotline.cases.timeline import CALLER_KINDS
from hotline.extensions import db
from hotline.models import Case, Interaction, User, UTCDateTime

PAGE_SIZE = 50
# The preview of the latest caller message: about this many characters.
PREVIEW_CHARS = 80
# Delivery states of a staff reply that did not leave: such a reply answers nobody.
UNSENT_STATES = ("queued", "sending", "not_sent", "unknown", "failed", "undelivered")
# ``unattended``: colleagues' cases a caller waits on while they are away (cases.access).
VIEWS = ("queue", "callbacks", "unattended")
# The sort key of each view, as the cursor codec's layout.
CURSOR_LAYOUT: dict[str, tuple[type, ...]] = {"queue": (int, datetime, int),
                                              "callbacks": (datetime, int),
                                              "unattended": (int, datetime, int)}
QueueRequestError = QueryError

__all__ = ["PAGE_SIZE", "STATUS_FILTERS", "QueueQuery", "QueueRequestError", "valid_id"]


@dataclass
class QueueQuery(CaseFilter):
    """One queue request, validated: the shared filters, the view and the cursor."""

    view: str = "queue"
    cursor: tuple[Any, ...] | None = None

    def params(self, default_status: str = "open") -> dict[str, str]:
        """The query-string form of the filters and view (without the cursor)."""
        values = super().params(default_status)
        if self.view != "queue":
            values["view"] = self.view
        return values


def parse_query(args: MultiDict) -> QueueQuery:
    """Validate the query string; raises QueueRequestError on a bad value."""
    view = (args.get("view") or "").strip() or "queue"
    if view not in VIEWS:
        raise QueueRequestError(f"unknown view {view[:40]!r}")
    query = QueueQuery(**asdict(queries.parse_filter(args)), view=view)
    if args.get("cursor"):
        query.cursor = queries.decode_cursor(args["cursor"], CURSOR_LAYOUT[view])
    return query


def encode_cursor(case: Case, view: str) -> str:
    """The opaque cursor pointing just after ``case``."""
    key: list[Any] = [case.created_at, case.id]
    if view != "callbacks":
        key.insert(0, case.queue_rank)
    return queries.encode_cursor(key)


def find_exact(text: str, user: User) -> Case | None:
    """The visible case whose full reference is ``text`` (any case, dash or not)."""
    return queries.find_case(text, user)


def _filtered(query: QueueQuery, user: User) -> Select:
    stmt = select(Case).where(*query.conditions(user))
    if query.view == "callbacks":
        stmt = stmt.where(Case.callback_needed.is_(True), Case.queue_rank < CLOSED_RANK_MIN)
    elif query.view == "unattended":
        stmt = stmt.where(unattended_condition())
    return stmt


def queue_page(query: QueueQuery, user: User, page_size: int = PAGE_SIZE
               ) -> tuple[list[Case], str | None]:
    """One page of the queue and the cursor of the next page (None on the last)."""
    stmt = _filtered(query, user).options(joinedload(Case.assigned_to))
    key: tuple[Any, ...]
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


@dataclass(frozen=True)
class Triage:
    """What the queue shows of one case beyond its columns (for the page only).

    ``preview`` is the start of the latest caller message, decrypted for this page and
    never logged, put in a URL or in the poll's JSON. ``waiting_since`` is the first
    caller contact after the last staff reply that left (None when answered or closed).
    """

    preview: str | None
    waiting_since: datetime | None
    overdue: bool


def _shorten(body: str | None) -> str | None:
    if not body:
        return None
    flat = " ".join(body.split())
    return flat if len(flat) <= PREVIEW_CHARS else flat[:PREVIEW_CHARS - 1].rstrip() + "…"


def triage(cases: list[Case], now: datetime, config: Any) -> dict[int, Triage]:
    """Preview, waiting time and overdue mark of each case of a page: three small reads.

    Each read is bounded by the page's case ids through ``ix_interactions_case_id``.
    """
    ids = [case.id for case in cases]
    if not ids:
        return {}
    mine = Interaction.case_id.in_(ids)
    answered = (
        select(Interaction.case_id, func.max(Interaction.id).label("last"))
        .where(mine, Interaction.kind == "message_out", Interaction.author_id.is_not(None),
               or_(Interaction.delivery_status.is_(None),
                   Interaction.delivery_status.not_in(UNSENT_STATES)))
        .group_by(Interaction.case_id).subquery())
    waiting = dict(db.session.execute(
        select(Interaction.case_id, func.min(Interaction.created_at))
        .join(answered, answered.c.case_id == Interaction.case_id, isouter=True)
        .where(mine, Interaction.kind.in_(CALLER_KINDS),
               or_(answered.c.last.is_(None), Interaction.id > answered.c.last))
        .group_by(Interaction.case_id)).tuples().all())
    latest = select(func.max(Interaction.id)).where(
        mine, Interaction.kind == "message_in", Interaction.body.is_not(None)
    ).group_by(Interaction.case_id)
    previews = dict(db.session.execute(
        select(Interaction.case_id, Interaction.body).where(Interaction.id.in_(latest))
    ).tuples().all())
    return {case.id: Triage(
        preview=_shorten(previews.get(case.id)),
        waiting_since=None if case.status == "closed" else waiting.get(case.id),
        overdue=targets.is_overdue(case, now, config)) for case in cases}


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


def messages_on_own_cases(user: User, last_id: int) -> tuple[int, int]:
    """Caller contacts on ``user``'s open cases after interaction id ``last_id``, and the
    newest such id (``last_id`` when none): what the poll alerts the assignee to."""
    count, newest = db.session.execute(
        select(func.count(), func.max(Interaction.id))
        .join(Case, Case.id == Interaction.case_id)
        .where(Case.assigned_to_id == user.id, Case.queue_rank < CLOSED_RANK_MIN,
               Interaction.id > last_id, Interaction.kind.in_(CALLER_KINDS))
    ).one()
    return int(count), int(newest or last_id)


def messages_on_team_cases(last_id: int) -> tuple[int, int]:
    """Caller contacts after interaction id ``last_id`` on open unassigned cases someone
    already worked (not ``new``: a new case is counted as one), and the newest such id.

    A case handed back at the end of a shift is such a case: without this, a caller who
    writes to it again would alert no one (it is nobody's own case, and not new).
    """
    count, newest = db.session.execute(
        select(func.count(), func.max(Interaction.id))
        .join(Case, Case.id == Interaction.case_id)
        .where(Case.assigned_to_id.is_(None), Case.status != "new",
               Case.queue_rank < CLOSED_RANK_MIN,
               Interaction.id > last_id, Interaction.kind.in_(CALLER_KINDS))
    ).one()
    return int(count), int(newest or last_id)


def latest_interaction_id() -> int:
    """The highest timeline entry id (the poller counts caller messages after it)."""
    return int(db.session.execute(select(func.max(Interaction.id))).scalar() or 0)


def unattended_count(user: User) -> int:
    """How many unattended cases ``user`` can see (read through ``ix_cases_unattended``)."""
    return db.session.execute(
        select(func.count()).select_from(Case)
        .where(unattended_condition(), visible_condition(user))
    ).scalar_one()


def unattended_ids(cases: list[Case]) -> set[int]:
    """The cases of a page that are unattended (marked in the queue)."""
    return {case.id for case in cases if is_unattended(case)}


def latest_case_id() -> int:
    """The highest case id (the poller counts arrivals after it)."""
    return int(db.session.execute(select(func.max(Case.id))).scalar() or 0)


def assignee_choices(user: User) -> list[tuple[str, str]]:
    """Options of the assignee filter for ``user``."""
    choices = [("", _("Anyone")), ("mine", _("Mine")), ("unassigned", _("Unassigned"))]
    if sees_all(user):
        users = db.session.execute(
            select(User).where(User.active.is_(True)).order_by(User.display_name)
        ).scalars()
        choices += [(str(u.id), u.display_name) for u in users]
    return choices


def poll_texts(data: dict[str, int]) -> dict[str, str]:
    """What queue.js shows for a poll's counts, in the reader's language (counts only).

    ``waiting``: the new cases waiting; ``notice``: what arrived since the page was drawn
    (the link that reloads it); ``alert``: what is fresh since the previous poll (the
    desktop notification). Empty when there is nothing to say.
    """
    def news(cases: int, messages: int, team: int) -> str:
        parts = []
        if cases > 0:
            parts.append(ngettext("%(num)d new case", "%(num)d new cases", cases))
        if messages > 0:
            parts.append(ngettext("%(num)d new message on your cases",
                                  "%(num)d new messages on your cases", messages))
        if team > 0:
            parts.append(ngettext("%(num)d new message on team cases",
                                  "%(num)d new messages on team cases", team))
        return ", ".join(parts)

    # ``team_messages``: caller messages on unassigned cases already worked, where the
    # poll counts them (absent: none).
    arrived = news(data["arrived"], data["mine_messages"], data.get("team_messages", 0))
    return {
        "waiting": ngettext("%(num)s new case waiting", "%(num)s new cases waiting",
                            data["new"]),
        "notice": _("%(news)s: show them", news=arrived) if arrived else "",
        "alert": news(data["fresh_cases"], data["fresh_messages"],
                      data.get("fresh_team_messages", 0)),
    }
