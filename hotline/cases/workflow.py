"""The case workflow: statuses, the one table of allowed transitions, resolutions."""

from __future__ import annotations

from flask_babel import gettext as _

from hotline.cases.labels import label

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

# The only allowed manual transitions, each row in the order staff are offered them: the
# natural next status first, closing last (a status menu never defaults to closing). A
# closed case may be reopened by staff.
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "new": ("triaged", "in_progress", "closed"),
    "triaged": ("in_progress", "waiting", "closed"),
    "in_progress": ("waiting", "closed"),
    "waiting": ("in_progress", "closed"),
    "closed": ("in_progress",),
}

# The status follows the work: doing one of these to a ``new`` case moves it on, as the
# system's own change on the timeline (``reason="work"``). Claiming or replying means
# someone is working it; classifying alone means it was triaged.
STATUS_ON_WORK = {"claim": "in_progress", "reply": "in_progress", "classify": "triaged"}

# Where a case goes when the caller writes again: a closed case inside the reopen
# window and a case waiting for the caller both need staff attention again.
STATUS_ON_CALLER_CONTACT = {"closed": "in_progress", "waiting": "in_progress"}


class TransitionError(ValueError):
    """The requested status change is not allowed."""


def can_transition(current: str, target: str) -> bool:
    """True when the table allows ``current`` → ``target``."""
    return target in TRANSITIONS.get(current, ())


def next_statuses(current: str) -> tuple[str, ...]:
    """The statuses ``current`` may move to, the natural next one first."""
    return TRANSITIONS.get(current, ())


def status_after_work(current: str, work: str) -> str | None:
    """The status a ``current`` case moves to when staff do ``work`` to it, if any."""
    target = STATUS_ON_WORK.get(work) if current == "new" else None
    return target if target is not None and can_transition(current, target) else None


def check_transition(current: str, target: str, resolution: str | None = None) -> None:
    """Raise TransitionError unless ``current`` → ``target`` is allowed and complete (its
    message is a sentence for staff, in the reader's language)."""
    if target not in STATUSES:
        raise TransitionError(_("Unknown status %(status)s.", status=repr(target)))
    if not can_transition(current, target):
        raise TransitionError(_("A %(current)s case cannot become %(target)s.",
                                current=label(current), target=label(target)))
    if target == "closed" and resolution not in RESOLUTIONS:
        raise TransitionError(_("Closing a case requires a resolution."))
