"""Every vocabulary of the system in one place: channels, roles, classifications.

Classification vocabularies can be overridden by the ``CLASSIFICATION_VOCABULARIES``
setting (a mapping of field name to a list of values); ``classification_choices``
reads the effective lists.
"""

from __future__ import annotations

from collections.abc import Mapping

from hotline import languages

CHANNELS = ("web", "sms", "whatsapp", "telegram", "voice")
# How a caller is reached: a phone number, a WhatsApp number, a Telegram chat id (the
# bot's private chat with them), or an opaque key of the web form.
ADDRESS_KINDS = ("phone", "whatsapp", "telegram", "web")
# The languages are declared in ``hotline.languages``; these are the case vocabulary's names.
LANGUAGES = languages.CODES
LANGUAGE_NAMES = languages.NAMES

# The timeline's entry kinds are declared in ``cases.timeline`` (``KINDS``).

ROLES = ("staff", "supervisor", "admin")
ROLE_RANK = {"staff": 1, "supervisor": 2, "admin": 3}

CALLER_FLAGS = ("hostile", "blocked")

# Outbound message states: ours (queued, sending, not_sent, published: a reply shown on
# the web follow-up page; unknown: the provider may or may not have it, so it is never
# sent again by itself) then the providers'.
DELIVERY_STATUSES = (
    "queued", "sending", "not_sent", "published", "unknown", "accepted", "sent", "delivered",
    "read", "undelivered", "failed",
)

CLASSIFICATIONS: dict[str, tuple[str, ...]] = {
    "category": ("surrender", "conscription", "relative", "information", "hostile", "other"),
    "caller_type": ("serviceman", "conscript_risk", "relative", "civilian", "unknown"),
    "affiliation": ("russia", "dprk", "other", "unknown"),
    "urgency": ("immediate", "high", "normal"),
}


def classification_choices(
    overrides: Mapping[str, list[str]] | None = None,
) -> dict[str, tuple[str, ...]]:
    """The effective classification vocabularies, with configured overrides applied."""
    merged = dict(CLASSIFICATIONS)
    for field, values in (overrides or {}).items():
        if field in merged and values:
            merged[field] = tuple(values)
    return merged


def role_at_least(role: str | None, minimum: str) -> bool:
    """True when ``role`` ranks at or above ``minimum``."""
    return ROLE_RANK.get(role or "", 0) >= ROLE_RANK[minimum]
