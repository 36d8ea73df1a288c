"""Secret receipts for the web follow-up, and checking them.

A receipt is 16 random digits, shown once as four groups of four. Digits are easy to
memorise in chunks, read the same in every language and can be typed on any phone
keypad, whatever script its keyboard is set to. 16 digits carry 53 bits; with the
throttle on wrong attempts they cannot be guessed. Only an argon2id hash is stored
(``Case.followup_hash``).

``authenticate`` takes the typed reference and receipt and returns the case or raises
``ReceiptRefused``, which never says which half was wrong; unknown references cost the
same hash work as known ones so timing does not tell either.
"""

from __future__ import annotations

import secrets
import unicodedata

from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from sqlalchemy import select

from hotline.auth.passwords import hasher
from hotline.cases.references import parse_reference
from hotline.extensions import db
from hotline.models import Case

RECEIPT_DIGITS = 16
RECEIPT_GROUP = 4
_DUMMY_KEY = "hotline_dummy_receipt_hash"


class ReceiptRefused(Exception):
    """The reference and receipt do not open a case (which half was wrong is not said)."""


def new_receipt() -> str:
    """A fresh receipt: ``RECEIPT_DIGITS`` random decimal digits."""
    return "".join(secrets.choice("0123456789") for _ in range(RECEIPT_DIGITS))


def format_receipt(receipt: str) -> str:
    """Display form: groups of four digits separated by spaces."""
    return " ".join(receipt[i:i + RECEIPT_GROUP] for i in range(0, len(receipt), RECEIPT_GROUP))


def normalise_receipt(typed: str | None) -> str | None:
    """The receipt as stored for hashing, or None when ``typed`` cannot be one.

    Spaces and dashes are ignored; digits from any script (full-width, Arabic-Indic...)
    count as the digits they stand for, so a phone keyboard in another script still works.
    """
    digits = []
    for ch in typed or "":
        if ch in " -\t\u00a0":
            continue
        value = unicodedata.digit(ch, None)
        if value is None:
            return None
        digits.append(str(value))
    if len(digits) != RECEIPT_DIGITS:
        return None
    return "".join(digits)


def hash_receipt(receipt: str) -> str:
    """argon2id hash of a normalised receipt."""
    return hasher().hash(receipt)


def _dummy_hash() -> str:
    """A hash to verify against when there is no case, so a miss costs the same time."""
    cached = current_app.extensions.get(_DUMMY_KEY)
    if cached is None:
        cached = hasher().hash(new_receipt())
        current_app.extensions[_DUMMY_KEY] = cached
    return cached


def _verify(stored_hash: str, receipt: str) -> bool:
    try:
        return hasher().verify(stored_hash, receipt)
    except (VerificationError, InvalidHashError):
        return False


def authenticate(typed_reference: str | None, typed_receipt: str | None) -> Case:
    """The case opened by this reference and receipt; raises ReceiptRefused otherwise.

    A hash made with older argon2 parameters is replaced on success (the caller commits).
    """
    reference = parse_reference(typed_reference or "")
    receipt = normalise_receipt(typed_receipt)
    case = None
    if reference is not None:
        case = db.session.execute(
            select(Case).where(Case.reference == reference)
        ).scalar_one_or_none()
    stored = case.followup_hash if case is not None else None
    matched = _verify(stored or _dummy_hash(), receipt or "-")
    if not (matched and stored and receipt and case is not None and case.purged_at is None):
        raise ReceiptRefused()
    if hasher().check_needs_rehash(stored):
        case.followup_hash = hash_receipt(receipt)
    return case
