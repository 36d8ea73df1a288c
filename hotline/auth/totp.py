"""TOTP second factor (RFC 6238, pyotp): secrets, enrolment QR codes, code checks.

A code is accepted once: the time-step counter it belongs to is stored in
``User.totp_last_counter`` and any code for that step or an earlier one is refused. The
step is burnt with one conditional ``UPDATE … WHERE totp_last_counter < :step``, so of two
requests racing with the same code exactly one wins (a read-then-write let both in).
"""

from __future__ import annotations

import hmac
from datetime import datetime

import pyotp
import segno
from flask_babel import gettext as _
from sqlalchemy import or_, update

from hotline.extensions import db
from hotline.models import User

ISSUER = "Hotline"
# Accept the previous and the next 30-second step too: phone clocks drift.
VALID_WINDOW = 1
CODE_DIGITS = 6


def new_secret() -> str:
    """A fresh base32 TOTP secret (160 bits)."""
    return pyotp.random_base32(length=32)


def provisioning_uri(user: User, secret: str) -> str:
    """The ``otpauth://`` URI an authenticator app reads from the QR code."""
    return pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=ISSUER)


def qr_svg(uri: str) -> str:
    """The QR code of ``uri`` as inline SVG markup (drawn on the server, no script)."""
    code = segno.make(uri, error="m")
    return code.svg_inline(scale=5, dark="#000", light="#fff",
                           title=_("QR code to scan with your authenticator app"))


def grouped(secret: str) -> str:
    """The secret in groups of four, easier to type by hand."""
    return " ".join(secret[i:i + 4] for i in range(0, len(secret), 4))


def matching_counter(secret: str, code: str, at: datetime) -> int | None:
    """The time-step counter whose code equals ``code`` within the window, else None."""
    code = "".join(code.split())
    if len(code) != CODE_DIGITS or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    current = totp.timecode(at)
    for offset in range(-VALID_WINDOW, VALID_WINDOW + 1):
        counter = current + offset
        if hmac.compare_digest(totp.generate_otp(counter), code):
            return counter
    return None


def accept_code(user: User, code: str, at: datetime) -> bool:
    """Check ``code`` for ``user`` and burn its time step; a reused code is refused."""
    if not user.totp_secret:
        return False
    counter = matching_counter(user.totp_secret, code, at)
    if counter is None:
        return False
    won = db.session.execute(
        update(User).where(User.id == user.id, or_(User.totp_last_counter.is_(None),
                                                    User.totp_last_counter < counter))
        .values(totp_last_counter=counter).returning(User.id),
        execution_options={"synchronize_session": False},
    ).scalar_one_or_none() is not None
    db.session.refresh(user, ["totp_last_counter"])
    return won
