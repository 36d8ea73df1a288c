"""The clock the sign-in code reads, injectable through the ``AUTH_CLOCK`` setting.

Lockouts, TOTP windows and session lifetimes all depend on "now"; tests hand in a
callable returning a fixed, tz-aware datetime instead of patching globals.
"""

from __future__ import annotations

from datetime import datetime

from flask import current_app

from hotline.models import utcnow


def now() -> datetime:
    """The current tz-aware UTC time (or the configured test clock's)."""
    clock = current_app.config.get("AUTH_CLOCK")
    return clock() if clock is not None else utcnow()
