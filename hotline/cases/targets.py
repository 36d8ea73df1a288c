"""Response targets: how soon a case should have its first response, per urgency.

The targets are settings (``RESPONSE_TARGET_<URGENCY>_MINUTES``: immediate 5 min, high
30 min, normal 4 h). An open case with no first response yet whose age passed its
urgency's target is **overdue**: the queue marks it and filters on it
(``overdue_condition``), and the report counts the share answered within target
(``within_target_seconds``, used by ``reports.rollup``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, literal, or_

from hotline.cases.ordering import CLOSED_RANK_MIN
from hotline.models import Case, UTCDateTime

URGENCIES = ("immediate", "high", "normal")
DEFAULT_MINUTES = {"immediate": 5, "high": 30, "normal": 240}


def setting_name(urgency: str) -> str:
    """The setting holding the target of ``urgency``."""
    return f"RESPONSE_TARGET_{urgency.upper()}_MINUTES"


def response_targets(config: Mapping[str, Any]) -> dict[str, timedelta]:
    """The target of each urgency in force."""
    return {urgency: timedelta(minutes=int(config.get(setting_name(urgency))
                                           or DEFAULT_MINUTES[urgency]))
            for urgency in URGENCIES}


def target_for(urgency: str | None, config: Mapping[str, Any]) -> timedelta:
    """The target of one urgency (an unknown one counts as normal)."""
    targets = response_targets(config)
    return targets.get(urgency or "normal", targets["normal"])


def is_overdue(case: Any, now: datetime, config: Mapping[str, Any]) -> bool:
    """True when open ``case`` has no first response and passed its target."""
    return (case.status != "closed" and case.first_response_at is None
            and now - case.created_at > target_for(case.urgency, config))


def overdue_condition(now: datetime, config: Mapping[str, Any]) -> ColumnElement[bool]:
    """SQL for ``is_overdue``: one created-before bound per urgency."""
    targets = response_targets(config)
    per_urgency = [and_(Case.urgency == urgency,
                        Case.created_at < literal(now - target, UTCDateTime()))
                   for urgency, target in targets.items()]
    return and_(Case.queue_rank < CLOSED_RANK_MIN, Case.first_response_at.is_(None),
                or_(*per_urgency))
