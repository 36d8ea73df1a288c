"""What the public web channel does: take in a form, hand out a receipt, keep the thread.

Submissions go through the one intake service (``receive``) with channel ``web`` and a
random per-submission address, so they appear in the queue, the API and the counts like
any other case. What the visitor tells about themselves has its own encrypted place,
never the message text: the name on the caller, the region in ``Case.region``, the
contact details in ``Case.contact_details`` and the contact-safety answer in
``Case.contact_ok``; staff see them in "What the caller told us", key rotation
re-encrypts them (every ``EncryptedText`` column) and a retention purge clears them.

The hidden submission id only makes a double-sent form idempotent, so it is never
stored or trusted as a name for anything: ``submission_key`` turns it into a keyed hash
(blind index) scoped to where it may de-duplicate, the browser session that drew the
public form, or the case a follow-up session is signed into. The same id posted from
another session, or into another case, is just a new message there; it can never lead
to somebody else's case (security review, finding 1).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from hotline import audit
from hotline.cases.timeline import caller_visible_condition, kind_of, message_in_meta
from hotline.channels.web.receipts import hash_receipt, new_receipt
from hotline.crypto import cipher
from hotline.extensions import db
from hotline.intake.service import receive
from hotline.models import Case, Interaction

# Audit actor for what a web visitor does; no address or other identifier of theirs.
WEB_ACTOR_LABEL = "web-visitor"
# Page budget for message text on the follow-up page, so a long thread stays small.
THREAD_TEXT_BUDGET_BYTES = 60_000
THREAD_MAX_ENTRIES = 50


class FollowupClosed(Exception):
    """The case can no longer take messages from the web (its caller data was purged)."""


@dataclass
class Submission:
    """The outcome of a form: the case, and the receipt when this submission was new."""

    case: Case
    receipt: str | None


@dataclass
class ThreadEntry:
    """One message on the follow-up page."""

    id: int
    mine: bool
    body: str
    created_at: datetime


def submission_key(scope: str, submission_id: str) -> str:
    """The stored ``external_id`` of a web submission: a keyed hash within ``scope``.

    ``scope`` is ``form:<the browser session's form key>`` for the public form and
    ``case:<id>`` for a follow-up session; the clear id is never stored.
    """
    return cipher().blind_index(f"web-submission|{scope}|{submission_id}")


def submit(*, message: str, name: str | None, contact: str | None, language: str,
           region: str | None, contact_ok: bool, submission_id: str,
           form_scope: str) -> Submission:
    """Take in one web form. A second submission of the same form returns no receipt.

    ``form_scope`` is the random key of the browser session that drew the form: only a
    repeat of this submission from that session counts as the same submission.
    """
    address = "web:" + secrets.token_urlsafe(18)
    result = receive(channel="web", address=address, body=message,
                     meta=message_in_meta(),
                     external_id=submission_key(f"form:{form_scope}", submission_id),
                     language=language, name=name or None)
    if not result.created:
        return Submission(result.case, None)
    case = result.case
    receipt = new_receipt()
    case.followup_hash = hash_receipt(receipt)
    case.contact_ok = contact_ok
    case.contact_details = contact or None
    if region:
        case.region = region
    audit.record("web.submitted", actor_label=WEB_ACTOR_LABEL, case=case,
                 detail={"channel": "web"})
    return Submission(case, receipt)


def record_opened(case: Case) -> None:
    """Audit a successful return with reference and receipt (the view commits)."""
    audit.record("web.followup_opened", actor_label=WEB_ACTOR_LABEL, case=case)


def add_message(case: Case, message: str, submission_id: str) -> Case:
    """Add a visitor's message to their case; returns the case it landed in.

    The intake service decides: an open case takes it, a recently closed one reopens,
    and after the reopen window a new case opens, which then shares the receipt. The
    message always goes to the signed-in case's own caller; ``submission_id`` only
    de-duplicates a repeat within this signed-in case.
    """
    address = case.caller.address
    if not address or case.purged_at is not None:
        raise FollowupClosed()
    told = {"followup_hash": case.followup_hash, "contact_ok": case.contact_ok,
            "contact_details": case.contact_details, "region": case.region}
    result = receive(channel="web", address=address, body=message, meta=message_in_meta(),
                     external_id=submission_key(f"case:{case.id}", submission_id),
                     language=case.language)
    target = result.case
    if result.created:
        if not target.followup_hash:
            # A new case of the same visitor: what they told us still holds.
            for name, value in told.items():
                setattr(target, name, value)
        audit.record("web.followup_message", actor_label=WEB_ACTOR_LABEL, case=target)
    return target


def latest_case(case: Case) -> Case:
    """The newest case of the signed-in case's caller: the number to show the visitor.

    After the reopen window a message opens a new case of the same caller (sharing the
    receipt); the follow-up session stays on the case it signed into, and the page shows
    this one so the visitor learns the number that will keep working.
    """
    newest = db.session.execute(
        select(Case).where(Case.caller_id == case.caller_id).order_by(Case.id.desc()).limit(1)
    ).scalar_one_or_none()
    return newest or case


def thread(case: Case, before: int | None = None) -> tuple[list[ThreadEntry], int | None]:
    """The visitor's messages and published web replies, across the caller's cases.

    Returns the newest entries that fit the page budget (oldest first) and, when older
    ones remain, the id to pass as ``before`` to see them.
    """
    query = (
        select(Interaction)
        .join(Case, Interaction.case_id == Case.id)
        .where(Case.caller_id == case.caller_id, caller_visible_condition(),
               Interaction.body.is_not(None))
        .order_by(Interaction.id.desc())
    )
    if before is not None:
        query = query.where(Interaction.id < before)
    entries: list[ThreadEntry] = []
    used = 0
    more: int | None = None
    for row in db.session.execute(query.limit(THREAD_MAX_ENTRIES + 1)).scalars():
        body = row.body or ""  # the query asks for bodies that are not NULL
        size = len(body.encode("utf-8"))
        if entries and (used + size > THREAD_TEXT_BUDGET_BYTES
                        or len(entries) == THREAD_MAX_ENTRIES):
            more = entries[-1].id
            break
        used += size
        mine = kind_of(row.kind).by_caller  # the visitor's own words: "You"
        entries.append(ThreadEntry(row.id, mine, body, row.created_at))
    entries.reverse()
    return entries, more
