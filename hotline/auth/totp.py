"""TOTP second factor (RFC 6238, pyotp): secrets, enrolment QR codes, code checks.

A code is accepted once: the time-step counter it belongs to is stored in
``User.totp_last_counter`` and any code for that step or an earlier one is refused.
"""

from __future__ import annotations

import hmac
from datetime import datetime

import pyotp
import segno

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
                           title="QR code for your authenticator app")


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
    if user.totp_last_counter is not None and counter <= user.totp_last_counter:
        return False
    user.totp_last_counter = counter
    return True
