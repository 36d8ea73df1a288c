"""Telegram settings: production refuses a token without a secret; malformed values are a
one-line refusal everywhere; development generates the secret once."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from config import ConfigError, load_config
from tests.channels.telegram.conftest import BOT_TOKEN

PRODUCTION = {
    "HOTLINE_ENV": "production", "SECRET_KEY": secrets.token_urlsafe(48),
    "HOTLINE_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
    "HOTLINE_INDEX_KEY": secrets.token_urlsafe(48), "HOTLINE_AUDIT_KEY": secrets.token_urlsafe(48),
    "TWILIO_AUTH_TOKEN": "t" * 32, "DATABASE_URL": "postgresql://hotline@db.internal/hotline",
}
# Production refuses weak or placeholder-looking secrets (the suite's SECRET says "secret").
STRONG_SECRET = secrets.token_urlsafe(48)


def refusal(environ: dict, tmp_path: Path) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(environ=environ, instance_path=tmp_path)
    assert "\n" not in str(info.value)
    return str(info.value)


def test_production_refuses_a_token_without_a_secret(tmp_path: Path) -> None:
    assert refusal({**PRODUCTION, "TELEGRAM_BOT_TOKEN": BOT_TOKEN}, tmp_path) == (
        "TELEGRAM_BOT_TOKEN is set but TELEGRAM_WEBHOOK_SECRET is not; "
        "production refuses to accept unverifiable Telegram webhooks")
    cfg = load_config(environ={**PRODUCTION, "TELEGRAM_BOT_TOKEN": BOT_TOKEN,
                               "TELEGRAM_WEBHOOK_SECRET": STRONG_SECRET},
                      instance_path=tmp_path)
    assert cfg["TELEGRAM_API_BASE"] == "https://api.telegram.org"
    assert not any(tmp_path.iterdir())  # nothing generated in production


def test_production_starts_with_telegram_off(tmp_path: Path) -> None:
    cfg = load_config(environ=PRODUCTION, instance_path=tmp_path)
    assert cfg["TELEGRAM_BOT_TOKEN"] is None and cfg["TELEGRAM_WEBHOOK_SECRET"] is None


@pytest.mark.parametrize("secret", ["has space", "ä" * 3, "x" * 257, "semi;colon", "a/b"])
def test_a_secret_telegram_would_refuse_is_refused(secret: str, tmp_path: Path) -> None:
    assert "TELEGRAM_WEBHOOK_SECRET must be 1-256 characters" in refusal(
        {"TELEGRAM_BOT_TOKEN": BOT_TOKEN, "TELEGRAM_WEBHOOK_SECRET": secret}, tmp_path)


def test_the_longest_allowed_secret_is_accepted(tmp_path: Path) -> None:
    cfg = load_config(environ={"TELEGRAM_WEBHOOK_SECRET": "A-z_9" * 51 + "x"},
                      instance_path=tmp_path)
    assert len(cfg["TELEGRAM_WEBHOOK_SECRET"]) == 256


@pytest.mark.parametrize("token", ["not-a-token", "123:short", "123456:AAAA/../../x" + "a" * 20,
                                   "123456:" + "a" * 20 + "?x=1"])
def test_a_malformed_token_is_refused(token: str, tmp_path: Path) -> None:
    assert "does not look like a bot token" in refusal({"TELEGRAM_BOT_TOKEN": token}, tmp_path)


@pytest.mark.parametrize(("base", "production", "refused"), [
    ("ftp://api.telegram.org", False, True),
    ("https://user:pw@api.telegram.org", False, True),
    ("https://api.telegram.org?x=1", False, True),
    ("http://api.telegram.org", True, True),
    ("http://127.0.0.1:8081", True, False),
    ("http://10.0.0.5:8081", False, False),
])
def test_the_api_base(base: str, production: bool, refused: bool, tmp_path: Path) -> None:
    environ = {**(PRODUCTION if production else {}), "TELEGRAM_API_BASE": base}
    if refused:
        assert "TELEGRAM_API_BASE must be" in refusal(environ, tmp_path)
    else:
        assert load_config(environ=environ, instance_path=tmp_path)["TELEGRAM_API_BASE"] == base


def test_development_generates_the_secret_once_when_a_token_is_set(tmp_path: Path) -> None:
    assert load_config(environ={}, instance_path=tmp_path)["TELEGRAM_WEBHOOK_SECRET"] is None
    first = load_config(environ={"TELEGRAM_BOT_TOKEN": BOT_TOKEN}, instance_path=tmp_path)
    again = load_config(environ={"TELEGRAM_BOT_TOKEN": BOT_TOKEN}, instance_path=tmp_path)
    secret = first["TELEGRAM_WEBHOOK_SECRET"]
    assert secret and secret == again["TELEGRAM_WEBHOOK_SECRET"]
    assert (tmp_path / "telegram_webhook_secret").stat().st_mode & 0o777 == 0o600
