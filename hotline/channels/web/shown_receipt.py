"""The receipt page, shown again on a reload for ``RELOAD_SECONDS`` in the same browser.

After the contact form is sent, the browser is redirected (303) to ``/received``, a GET
page, so a reload neither sends the form again nor asks to. That page reads the case
number and receipt from this browser's session cookie, where they are kept encrypted
under the app's field key (Fernet: the cookie is only signed, and would otherwise show
the receipt to anyone who copies it) with the time they were issued; the signature
keeps the time honest. Nothing of it is stored on the server: the only copy is in the
visitor's cookie, and it is dropped once it is older than ``RELOAD_SECONDS``, when a
follow-up session starts (``session.clear()``) or when the browser session ends.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

from flask import session

from hotline.crypto import DecryptionError, cipher

SESSION_KEY = "web_receipt"
RELOAD_SECONDS = 10 * 60


@dataclass(frozen=True)
class ShownReceipt:
    """What the receipt page shows: the case number and the formatted receipt."""

    reference: str
    receipt: str


def remember(reference: str, receipt: str, now: float | None = None) -> None:
    """Keep what the receipt page shows, encrypted, in this browser's session."""
    token = cipher().encrypt(json.dumps({"reference": reference, "receipt": receipt}))
    session[SESSION_KEY] = {"token": token, "at": time.time() if now is None else now}


def recall(now: float | None = None) -> ShownReceipt | None:
    """The receipt still to show in this browser, or None (never issued, or expired:
    then it is dropped)."""
    data = session.get(SESSION_KEY)
    if not isinstance(data, dict):
        return None
    now = time.time() if now is None else now
    try:
        fresh = 0 <= now - float(data["at"]) <= RELOAD_SECONDS
        shown = json.loads(cipher().decrypt(data["token"])) if fresh else None
        result = ShownReceipt(str(shown["reference"]), str(shown["receipt"])) if shown else None
    except (KeyError, TypeError, ValueError, UnicodeEncodeError, DecryptionError):
        result = None
    if result is None:
        session.pop(SESSION_KEY, None)
    return result
