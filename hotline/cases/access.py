"""Who may see and do what with a case.

Staff see unassigned cases and their own; supervisors and admins see every case. A
case a user may not see is reported exactly like a reference that does not exist.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, or_, true

from hotline.cases.vocabularies import role_at_least
from hotline.models import Case, User

# The lowest role that sees every case, assigns cases to others and reveals numbers.
SEE_ALL_MIN_ROLE = "supervisor"
ASSIGN_OTHERS_MIN_ROLE = "supervisor"
REVEAL_MIN_ROLE = "supervisor"


def sees_all(user: User) -> bool:
    """True for roles that see every case."""
    return role_at_least(user.role, SEE_ALL_MIN_ROLE)


def can_view(user: User, case: Case) -> bool:
    """True when ``user`` may open ``case``."""
    return sees_all(user) or case.assigned_to_id in (None, user.id)


def visible_condition(user: User) -> ColumnElement[bool]:
    """A WHERE clause limiting a case query to what ``user`` may see."""
    if sees_all(user):
        return true()
    return or_(Case.assigned_to_id.is_(None), Case.assigned_to_id == user.id)


def can_reveal(user: User) -> bool:
    """True when ``user`` may reveal a caller's number."""
    return role_at_least(user.role, REVEAL_MIN_ROLE)


def can_assign_others(user: User) -> bool:
    """True when ``user`` may give a case to someone else."""
    return role_at_least(user.role, ASSIGN_OTHERS_MIN_ROLE)
