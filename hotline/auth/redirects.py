"""Open-redirect guard for the ``next`` parameter of the sign-in pages."""

from __future__ import annotations

from urllib.parse import urlsplit

DEFAULT_LANDING = "/dashboard/"
MAX_NEXT_LENGTH = 2000


def safe_next(target: str | None) -> str | None:
    """``target`` when it is a same-site relative path, else None.

    Refused: absolute URLs, scheme-relative ``//host`` (and the ``/\\host`` spelling
    browsers treat the same way), anything with control characters or a scheme.
    """
    if not target or len(target) > MAX_NEXT_LENGTH:
        return None
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in target) or "\\" in target:
        return None
    if not target.startswith("/") or target.startswith("//"):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


def landing(target: str | None) -> str:
    """Where to go after signing in: a safe ``next`` or the dashboard."""
    return safe_next(target) or DEFAULT_LANDING
