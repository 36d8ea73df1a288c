"""Password hashing with argon2id (argon2-cffi), parameters from the app config."""

from __future__ import annotations

import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app

MIN_PASSWORD_LENGTH = 12
# Longest accepted password: argon2 would hash megabytes, but nobody types them.
MAX_PASSWORD_LENGTH = 1024


def hasher() -> PasswordHasher:
    """An argon2id hasher with the configured cost (tests configure a cheap one)."""
    cfg = current_app.config
    return PasswordHasher(time_cost=cfg["ARGON2_TIME_COST"], memory_cost=cfg["ARGON2_MEMORY_COST"],
                          parallelism=cfg["ARGON2_PARALLELISM"])


def hash_password(password: str) -> str:
    """argon2id hash of ``password``."""
    return hasher().hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    """True when ``password`` matches; never raises on a malformed hash."""
    try:
        return hasher().verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    """True when the hash was made with other parameters than the current ones."""
    return hasher().check_needs_rehash(stored_hash)


def generate_password() -> str:
    """A random one-time password, easy to type: 4 groups of 5 lowercase letters/digits."""
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
    groups = ["".join(secrets.choice(alphabet) for _ in range(5)) for _ in range(4)]
    return "-".join(groups)


def new_session_token() -> str:
    """A fresh session token; rotating it ends every session of the user."""
    return secrets.token_hex(32)
