"""Who may see and do what with a case.

Staff see unassigned cases and their own; supervisors and admins see every case. A
case a user may not see is reported exactly like a reference that does not exist.

So that nothing falls between shifts, a case is **unattended** when its assignee is off
duty, deactivated, or has not been signed in for ``UNATTENDED_AFTER_MINUTES`` (no staff
session seen since), and the caller contacted the line after the last staff action
(``Case.awaiting_staff_since``). Every staff member *on duty* sees an unattended case and
may claim it (only claim it: the rest is for whoever works it). Who is present is one
small query over the users and their sessions, asked once per request.
"""

from __future__ import annotations

from datetime import timedelta

from flask import current_app, g, has_request_context
from sqlalchemy import ColumnElement, and_, exists, or_, select, true

from hotline.cases.ordering import CLOSED_RANK_MIN
from hotline.cases.vocabularies import role_at_least
from hotline.extensions import db
from hotline.models import Case, ServerSession, User, utcnow

# The lowest role that sees every case, assigns cases to others and reveals numbers.
SEE_ALL_MIN_ROLE = "supervisor"
ASSIGN_OTHERS_MIN_ROLE = "supervisor"
REVEAL_MIN_ROLE = "supervisor"
STAFF_SESSION = "staff"  # ServerSession.kind of a signed-in staff browser


def sees_all(user: User) -> bool:
    """True for roles that see every case."""
    return role_at_least(user.role, SEE_ALL_MIN_ROLE)


def present_user_ids() -> frozenset[int]:
    """Users on duty, active, and signed in within ``UNATTENDED_AFTER_MINUTES``.

    Cached for the request: every visibility check of one page agrees.
    """
    if has_request_context() and "present_user_ids" in g:
        return g.present_user_ids
    since = utcnow() - timedelta(minutes=current_app.config["UNATTENDED_AFTER_MINUTES"])
    signed_in = exists().where(ServerSession.user_id == User.id,
                               ServerSession.kind == STAFF_SESSION,
                               ServerSession.seen_at >= since)
    present = frozenset(db.session.execute(
        select(User.id).where(User.on_duty.is_(True), User.active.is_(True), signed_in)
    ).scalars())
    if has_request_context():
        g.present_user_ids = present
    return present


def unattended_condition() -> ColumnElement[bool]:
    """A WHERE clause for the unattended cases (read through ``ix_cases_unattended``)."""
    present = present_user_ids()
    conds = [Case.awaiting_staff_since.is_not(None), Case.assigned_to_id.is_not(None),
             Case.queue_rank < CLOSED_RANK_MIN]
    if present:
        conds.append(Case.assigned_to_id.not_in(sorted(present)))
    return and_(*conds)


def is_unattended(case: Case) -> bool:
    """True when ``case`` is unattended (see the module docstring)."""
    return (case.assigned_to_id is not None and case.awaiting_staff_since is not None
            and case.status != "closed" and case.assigned_to_id not in present_user_ids())


def sees_unattended(user: User) -> bool:
    """True for whoever may see (and claim) unattended cases: staff on duty."""
    return bool(user.on_duty) and bool(user.active)


def can_view(user: User, case: Case) -> bool:
    """True when ``user`` may open ``case``."""
    return (sees_all(user) or case.assigned_to_id in (None, user.id)
            or (sees_unattended(user) and is_unattended(case)))


def only_as_unattended(user: User, case: Case) -> bool:
    """True when ``user`` sees ``case`` only because it is unattended: they may claim it,
    nothing else, until it is theirs."""
    return (not sees_all(user) and case.assigned_to_id not in (None, user.id)
            and can_view(user, case))


def visible_condition(user: User) -> ColumnElement[bool]:
    """A WHERE clause limiting a case query to what ``user`` may see."""
    if sees_all(user):
        return true()
    own = or_(Case.assigned_to_id.is_(None), Case.assigned_to_id == user.id)
    if sees_unattended(user):
        return or_(own, unattended_condition())
    return own


def can_reveal(user: User) -> bool:
    """True when ``user`` may reveal a caller's number."""
    return role_at_least(user.role, REVEAL_MIN_ROLE)


def can_assign_others(user: User) -> bool:
    """True when ``user`` may give a case to someone else."""
    return role_at_least(user.role, ASSIGN_OTHERS_MIN_ROLE)
