"""Field encryption at rest and blind indexes for lookups.

Caller addresses, names and every piece of free text are stored as MultiFernet
tokens: the first key of ``HOTLINE_ENCRYPTION_KEYS`` encrypts, all keys decrypt,
so keys can be rotated. Lookups never use the clear value: they use an HMAC-SHA256
"blind index" of the normalised value under ``HOTLINE_INDEX_KEY``.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

import phonenumbers
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask import current_app
from sqlalchemy import Text
from sqlalchemy.types import TypeDecorator

EXTENSION_KEY = "hotline_crypto"


class DecryptionError(RuntimeError):
    """A stored value cannot be decrypted with any configured key."""


class FieldCipher:
    """Encrypts and decrypts text fields and computes blind indexes."""

    def __init__(self, encryption_keys: Sequence[str], index_key: str) -> None:
        if not encryption_keys:
            raise ValueError("at least one encryption key is required")
        self._fernets = [Fernet(key.encode() if isinstance(key, str) else key)
                         for key in encryption_keys]
        self._multi = MultiFernet(self._fernets)
        self._index_key = index_key.encode()

    def encrypt(self, plaintext: str) -> str:
        """Encrypt under the first key; returns an ASCII token."""
        return self._multi.encrypt(plaintext.encode("utf-8")).decode("ascii")

    def decrypt(self, token: str) -> str:
        """Decrypt with whichever configured key fits."""
        try:
            return self._multi.decrypt(token.encode("ascii")).decode("utf-8")
        except InvalidToken as exc:
            raise DecryptionError("no configured key decrypts this value") from exc

    def is_current(self, token: str) -> bool:
        """True when the token was made with the first (current) key."""
        try:
            self._fernets[0].decrypt(token.encode("ascii"))
        except InvalidToken:
            return False
        return True

    def rotate(self, token: str) -> str:
        """Re-encrypt a token under the first key."""
        return self._multi.rotate(token.encode("ascii")).decode("ascii")

    def blind_index(self, normalised: str) -> str:
        """Keyed hash of an already-normalised value (hex, 64 characters)."""
        return hmac.new(self._index_key, normalised.encode("utf-8"), hashlib.sha256).hexdigest()


def cipher() -> FieldCipher:
    """The cipher of the current app."""
    return current_app.extensions[EXTENSION_KEY]


class EncryptedText(TypeDecorator):
    """A Text column whose value is encrypted with the app's FieldCipher."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        return cipher().encrypt(value)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return cipher().decrypt(value)


# Telegram ids fit in 52 bits (their documentation); 16 digits leave room.
TELEGRAM_ID_DIGITS = 16


class AddressError(ValueError):
    """The sender address cannot be normalised."""


def normalise_address(kind: str, raw: str) -> str:
    """Normalise a caller address: E.164 for phone and WhatsApp numbers.

    ``kind`` is ``phone``, ``whatsapp``, ``telegram`` or ``web``. WhatsApp senders arrive
    as ``whatsapp:+7...``; the prefix is dropped so both map to the same number form.
    Telegram addresses are private-chat ids (positive integers, in decimal). Web
    addresses (form submission keys) are kept as given.
    """
    value = (raw or "").strip()
    if kind == "web":
        if not value:
            raise AddressError("empty web address")
        return value
    if kind == "telegram":
        if not (value.isascii() and value.isdigit()) or len(value) > TELEGRAM_ID_DIGITS:
            raise AddressError("not a Telegram private chat id")
        return str(int(value))
    if value.lower().startswith("whatsapp:"):
        value = value[len("whatsapp:"):]
    if value.lower().startswith("client:") or not value:
        raise AddressError("not a phone number")
    try:
        number = phonenumbers.parse(value if value.startswith("+") else "+" + value, None)
    except phonenumbers.NumberParseException as exc:
        raise AddressError("not a phone number") from exc
    if not phonenumbers.is_possible_number(number):
        raise AddressError("not a possible phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def address_index(kind: str, normalised: str) -> str:
    """Blind index of a caller address; WhatsApp and phone differ so threads stay apart."""
    return cipher().blind_index(f"{kind}:{normalised}")


def mask_number(e164: str) -> str:
    """Show only the country code and the last two digits: ``+7 *** *** ** 45``."""
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return "***"
    national = str(number.national_number)
    hidden = "*" * max(len(national) - 2, 0)
    groups = [hidden[i:i + 3] for i in range(0, len(hidden), 3)]
    return f"+{number.country_code} {' '.join(groups)} {national[-2:]}".replace("  ", " ")


def mask_contact(text: str) -> str:
    """Contact details as staff see them before an audited reveal.

    A phone number is masked like a caller's number; anything else (an e-mail, a
    messenger handle) keeps only its last two characters.
    """
    try:
        return mask_number(normalise_address("phone", text))
    except ValueError:
        pass
    visible = text.strip()[-2:]
    return "*" * 6 + " " + visible if len(text.strip()) > 4 else "***"
