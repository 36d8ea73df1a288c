"""The case workflow: statuses, the one table of allowed transitions, resolutions."""

from __future__ import annotations

STATUSES = ("new", "triaged", "in_progress", "waiting", "closed")
OPEN_STATUSES = ("new", "triaged", "in_progress", "waiting")

RESOLUTIONS = (
    "handed_over",
    "information_provided",
    "referred",
    "no_contact",
    "duplicate",
    "hoax",
)

# The only allowed manual transitions. A closed case may be reopened by staff.
TRANSITIONS: dict[str, frozenset[str]] = {
    "new": frozenset({"triaged", "in_progress", "closed"}),
    "triaged": frozenset({"in_progress", "waiting", "closed"}),
    "in_progress": frozenset({"waiting", "closed"}),
    "waiting": frozenset({"in_progress", "closed"}),
    "closed": frozenset({"in_progress"}),
}

# Where a case goes when the caller writes again: a closed case inside the reopen
# window and a case waiting for the caller both need staff attention again.
STATUS_ON_CALLER_CONTACT = {"closed": "in_progress", "waiting": "in_progress"}


class TransitionError(ValueError):
    """The requested status change is not allowed."""


def can_transition(current: str, target: str) -> bool:
    """True when the table allows ``current`` → ``target``."""
    return target in TRANSITIONS.get(current, frozenset())


def check_transition(current: str, target: str, resolution: str | None = None) -> None:
    """Raise TransitionError unless ``current`` → ``target`` is allowed and complete."""
    if target not in STATUSES:
        raise TransitionError(f"unknown status {target!r}")
    if not can_transition(current, target):
        raise TransitionError(f"a {current} case cannot become {target}")
    if target == "closed" and resolution not in RESOLUTIONS:
        raise TransitionError("closing a case requires a resolution")
