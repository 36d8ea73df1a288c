"""Configuration: production refuses to start unsafe with a one-line reason; development
just works (generated secrets); environment, .env and URL mapping."""

from __future__ import annotations

import os
import secrets
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from config import SECRET_FILES, ConfigError, load_config, normalise_database_url
from tests.conftest import ROOT

PRODUCTION = {
    "HOTLINE_ENV": "production",
    "SECRET_KEY": secrets.token_urlsafe(48),
    "HOTLINE_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
    "HOTLINE_INDEX_KEY": secrets.token_urlsafe(48),
    "HOTLINE_AUDIT_KEY": secrets.token_urlsafe(48),
    "TWILIO_AUTH_TOKEN": secrets.token_hex(16),
    "DATABASE_URL": "postgresql://hotline@db.internal/hotline",
}


def _refusal(environ: dict, tmp_path: Path) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(environ=environ, instance_path=tmp_path)
    reason = str(info.value)
    assert reason and "\n" not in reason
    return reason


@pytest.mark.parametrize("missing", sorted(SECRET_FILES))
def test_production_refuses_a_missing_secret(missing: str, tmp_path: Path) -> None:
    environ = {k: v for k, v in PRODUCTION.items() if k != missing}
    assert _refusal(environ, tmp_path) == (
        f"{missing} is not set; production refuses to start without it")
    assert not any(tmp_path.iterdir())  # nothing generated in production


def test_production_refuses_signature_checks_without_a_token(tmp_path: Path) -> None:
    environ = {k: v for k, v in PRODUCTION.items() if k != "TWILIO_AUTH_TOKEN"}
    assert "TWILIO_AUTH_TOKEN is not set but signature checks are on" in _refusal(
        environ, tmp_path)
    # Switching the checks off is no way round it in production (review finding 6).
    assert _refusal({**environ, "TWILIO_VALIDATE_SIGNATURES": "0"}, tmp_path) == (
        "TWILIO_VALIDATE_SIGNATURES=0 is for local experiments only; production refuses "
        "to accept unsigned webhooks")


def test_production_refuses_a_malformed_key(tmp_path: Path) -> None:
    environ = {**PRODUCTION, "HOTLINE_ENCRYPTION_KEYS": "not-a-key"}
    assert "not a Fernet key" in _refusal(environ, tmp_path)


def test_production_settings(tmp_path: Path) -> None:
    cfg = load_config(environ=PRODUCTION, instance_path=tmp_path)
    assert cfg["SESSION_COOKIE_SECURE"] is True
    assert cfg["SESSION_COOKIE_HTTPONLY"] is True
    assert cfg["SESSION_COOKIE_SAMESITE"] in ("Lax", "Strict")
    assert cfg["SQLALCHEMY_DATABASE_URI"].startswith("postgresql+psycopg://")
    assert cfg["OUTBOX_BACKGROUND_THREAD"] is False


def test_production_as_an_override_is_checked_too(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        load_config({"HOTLINE_ENV": "production"}, environ={}, instance_path=tmp_path)
    cfg = load_config({"HOTLINE_ENV": "production"}, environ=PRODUCTION, instance_path=tmp_path)
    assert cfg["SESSION_COOKIE_SECURE"] is True


def test_retention_days_is_read_from_the_environment(tmp_path: Path) -> None:
    assert load_config(environ=PRODUCTION, instance_path=tmp_path)["RETENTION_DAYS"] is None
    cfg = load_config(environ={**PRODUCTION, "RETENTION_DAYS": "90"}, instance_path=tmp_path)
    assert cfg["RETENTION_DAYS"] == 90
    assert "RETENTION_DAYS must be an integer" in _refusal(
        {**PRODUCTION, "RETENTION_DAYS": "ninety"}, tmp_path)


def test_development_generates_private_secrets_once(tmp_path: Path) -> None:
    first = load_config(environ={}, instance_path=tmp_path)
    second = load_config(environ={}, instance_path=tmp_path)
    for name, filename in SECRET_FILES.items():
        assert first[name] and first[name] == second[name]
        mode = stat.S_IMODE((tmp_path / filename).stat().st_mode)
        assert mode == 0o600
    assert first["SESSION_COOKIE_SECURE"] is False
    assert first["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'hotline.sqlite3'}"
    Fernet(first["HOTLINE_ENCRYPTION_KEYS"][0])


def test_wsgi_stops_with_one_line_and_no_traceback(tmp_path: Path) -> None:
    env = {"PATH": os.environ.get("PATH", ""), "HOTLINE_ENV": "production",
           "HOME": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", "import wsgi"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert done.stderr.strip() == (
        "hotline: SECRET_KEY is not set; production refuses to start without it")


DESIGN_VARIABLES = ["SECRET_KEY", "DATABASE_URL", "HOTLINE_ENCRYPTION_KEYS", "HOTLINE_INDEX_KEY",
                    "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_VALIDATE_SIGNATURES",
                    "PUBLIC_BASE_URL", "TWILIO_MESSAGING_FROM", "REDIS_URL",
                    "REOPEN_WINDOW_DAYS"]


def test_example_env_file_lists_every_variable_and_starts(tmp_path: Path) -> None:
    from config import _read_dotenv

    example = _read_dotenv(ROOT / "deploy" / "hotline.env.example")
    assert set(DESIGN_VARIABLES) <= set(example)
    assert {"HOTLINE_ENV", "RETENTION_DAYS"} <= set(example)
    # The example holds no usable secret (review finding 5): every one is empty ...
    for name in ("SECRET_KEY", "HOTLINE_ENCRYPTION_KEYS", "HOTLINE_INDEX_KEY",
                 "HOTLINE_AUDIT_KEY", "TWILIO_AUTH_TOKEN"):
        assert example[name] == "", name
    assert "SECRET_KEY is not set" in _refusal(example, tmp_path)
    # ... and with them generated, the example is a valid production configuration.
    filled = {**example, "SECRET_KEY": secrets.token_urlsafe(48),
              "HOTLINE_INDEX_KEY": secrets.token_urlsafe(48),
              "HOTLINE_AUDIT_KEY": secrets.token_urlsafe(48),
              "TWILIO_AUTH_TOKEN": secrets.token_hex(16),
              "DATABASE_URL": "postgresql://hotline@127.0.0.1:5432/hotline",
              "HOTLINE_ENCRYPTION_KEYS": Fernet.generate_key().decode()}
    cfg = load_config(environ=filled, instance_path=tmp_path)
    assert cfg["HOTLINE_ENV"] == "production" and cfg["RETENTION_DAYS"] == 90
    assert cfg["RATELIMIT_STORAGE_URI"] == example["REDIS_URL"]


def test_environment_overrides_the_dotenv_file(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("REOPEN_WINDOW_DAYS=3\nIVR_LANGUAGES=ru,en\n")
    cfg = load_config(environ={"REOPEN_WINDOW_DAYS": "5"}, instance_path=tmp_path)
    assert cfg["REOPEN_WINDOW_DAYS"] == 5
    assert cfg["IVR_LANGUAGES"] == ["ru", "en"]


def test_bad_integer_is_a_clear_error(tmp_path: Path) -> None:
    assert "REOPEN_WINDOW_DAYS must be an integer" in _refusal(
        {"REOPEN_WINDOW_DAYS": "week"}, tmp_path)


@pytest.mark.parametrize(("url", "expected"), [
    ("postgres://u@h/db", "postgresql+psycopg://u@h/db"),
    ("postgresql://u@h:5432/db", "postgresql+psycopg://u@h:5432/db"),
    ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
    ("sqlite:///x.db", "sqlite:///x.db"),
])
def test_database_urls_map_to_the_installed_driver(url: str, expected: str) -> None:
    assert normalise_database_url(url) == expected


def test_importing_the_package_has_no_side_effects(tmp_path: Path) -> None:
    """Importing reads no configuration: production without secrets would refuse to start."""
    env = {**os.environ, "HOTLINE_ENV": "production", "PYTHONPATH": str(ROOT)}
    for name in SECRET_FILES:
        env.pop(name, None)
    code = "import hotline, hotline.models, hotline.intake.service, hotline.api.v1"
    result = subprocess.run([sys.executable, "-c", code], env=env, cwd=tmp_path,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert list(tmp_path.iterdir()) == []


def test_local_runs_get_a_stand_in_twilio_token_for_simulate(tmp_path: Path) -> None:
    first = load_config(environ={}, instance_path=tmp_path)
    assert first["TWILIO_AUTH_TOKEN"]
    assert load_config(environ={}, instance_path=tmp_path)["TWILIO_AUTH_TOKEN"] == \
        first["TWILIO_AUTH_TOKEN"]
    # With a real account configured, nothing is invented: signatures use the real token.
    real = load_config(environ={"TWILIO_ACCOUNT_SID": "AC" + "0" * 32}, instance_path=tmp_path)
    assert real["TWILIO_AUTH_TOKEN"] is None
