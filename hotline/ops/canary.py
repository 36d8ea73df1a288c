"""The key canary: refuse to start with encryption keys that cannot open this database.

Security review, finding 15: with a wrong ``HOTLINE_ENCRYPTION_KEYS`` the app started,
every page that decrypts answered 500, and new data was written under the wrong key.
Migration ``0025_key_canary`` stores one row (``key_canary``) encrypted under the first
key. ``check`` runs when the app is started through ``wsgi`` (gunicorn, and every
``flask --app wsgi`` command) and in ``migrations/env.py`` before ``flask db upgrade``
migrates anything:

- no configured key opens the canary → ``KeyCanaryError`` with one line, and nothing
  starts;
- a key other than the first opens it → a key rotation is under way (the new key was put
  first, ``keys rotate`` has not finished): start, and say so once in the log;
- no canary table or row yet (a database before that migration) → nothing to check.

``keys rotate`` re-encrypts the canary with every other ``EncryptedText`` column, so once it
has run the first key opens it and the old key can be removed.
"""

from __future__ import annotations

import logging

from cryptography.fernet import Fernet, InvalidToken
from flask import Flask
from sqlalchemy import inspect, select
from sqlalchemy.engine import Connection

from hotline.logging_setup import log_event

CANARY_TEXT = "hotline key canary"
TABLE = "key_canary"
log = logging.getLogger(__name__)


class KeyCanaryError(RuntimeError):
    """The configured keys cannot open this database; the message is one line."""


def canary_token(keys: list[str]) -> str:
    """A new canary under the first key (for the migration)."""
    return Fernet(keys[0].encode()).encrypt(CANARY_TEXT.encode()).decode()


def opening_key(token: str, keys: list[str]) -> int | None:
    """The position of the first configured key that opens ``token``, or None."""
    for position, key in enumerate(keys):
        try:
            if Fernet(key.encode()).decrypt(token.encode()).decode() == CANARY_TEXT:
                return position
        except (InvalidToken, ValueError):
            continue
    return None


def check_connection(connection: Connection, keys: list[str]) -> int | None:
    """Check the canary over ``connection``; the opening key's position (None: no canary).

    Raises KeyCanaryError when no key opens it.
    """
    if not inspect(connection).has_table(TABLE):
        return None
    from sqlalchemy import Text, type_coerce

    from hotline.models import KeyCanary

    token = connection.execute(select(type_coerce(KeyCanary.__table__.c.value, Text()))
                               .order_by(KeyCanary.__table__.c.id).limit(1)).scalar()
    if token is None:
        return None
    position = opening_key(token, keys)
    if position is None:
        raise KeyCanaryError(
            f"HOTLINE_ENCRYPTION_KEYS cannot decrypt this database: none of the {len(keys)} "
            "configured keys opens its key canary (a wrong or missing key?); refusing to "
            "start so nothing is written under the wrong key")
    return position


def check(app: Flask) -> None:
    """The start-up check (see the module docstring); raises KeyCanaryError."""
    from hotline.extensions import db

    keys = list(app.config["HOTLINE_ENCRYPTION_KEYS"])
    with app.app_context(), db.engine.connect() as connection:
        position = check_connection(connection, keys)
    if position:
        log_event(log, "keys.rotation_pending", opened_by_key=position + 1,
                  hint="run `flask --app wsgi keys rotate`")
