"""Case references: 8 random Crockford base32 characters, shown as ``XXXX-XXXX``.

40 random bits: unguessable enough that a reference alone grants nothing (the web
follow-up also needs the receipt), short enough to read aloud over a bad line.
Crockford's alphabet leaves out I, L, O and U; when typed back, I/L read as 1 and
O as 0, case and dashes do not matter.
"""

from __future__ import annotations

import secrets

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
LENGTH = 8
_TYPED_ALIASES = str.maketrans({"I": "1", "L": "1", "O": "0"})


def new_reference() -> str:
    """A fresh random reference in stored form (8 characters, no dash)."""
    return "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))


def format_reference(stored: str) -> str:
    """Display form: ``ABCD-EFGH``."""
    return f"{stored[:4]}-{stored[4:]}"


def normalise(typed: str | None) -> str:
    """A typed (whole or partial) reference in stored form: upper case, no dashes or
    spaces, I/L read as 1 and O as 0. The one reading of what a person typed."""
    cleaned = "".join(ch for ch in (typed or "").upper() if ch not in "- \t")
    return cleaned.translate(_TYPED_ALIASES)


def parse_reference(typed: str) -> str | None:
    """Stored form of a typed whole reference, or None when it cannot be one."""
    cleaned = normalise(typed)
    if len(cleaned) != LENGTH or any(ch not in ALPHABET for ch in cleaned):
        return None
    return cleaned
