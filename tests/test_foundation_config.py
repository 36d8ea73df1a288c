"""Configuration: generated development secrets, production refusals, URL mapping."""

from __future__ import annotations

import stat

import pytest

from config import ConfigError, load_config, normalise_database_url


def test_development_generates_secrets_once_with_mode_0600(tmp_path):
    first = load_config(environ={}, instance_path=tmp_path)
    for name in ("secret_key", "encryption_keys", "index_key"):
        path = tmp_path / name
        assert path.exists()
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    second = load_config(environ={}, instance_path=tmp_path)
    assert first["SECRET_KEY"] == second["SECRET_KEY"]
    assert first["HOTLINE_ENCRYPTION_KEYS"] == second["HOTLINE_ENCRYPTION_KEYS"]
    assert first["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'hotline.sqlite3'}"


def test_environment_overrides_and_dotenv(tmp_path):
    (tmp_path / ".env").write_text("REOPEN_WINDOW_DAYS=3\nIVR_LANGUAGES=ru,en\n")
    cfg = load_config(environ={"REOPEN_WINDOW_DAYS": "5"}, instance_path=tmp_path)
    assert cfg["REOPEN_WINDOW_DAYS"] == 5
    assert cfg["IVR_LANGUAGES"] == ["ru", "en"]


@pytest.mark.parametrize("missing", ["SECRET_KEY", "HOTLINE_ENCRYPTION_KEYS",
                                     "HOTLINE_INDEX_KEY"])
def test_production_refuses_a_missing_secret(tmp_path, missing):
    from cryptography.fernet import Fernet

    env = {"HOTLINE_ENV": "production", "SECRET_KEY": "s" * 40,
           "HOTLINE_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
           "HOTLINE_INDEX_KEY": "i" * 40, "TWILIO_AUTH_TOKEN": "t"}
    del env[missing]
    with pytest.raises(ConfigError) as info:
        load_config(environ=env, instance_path=tmp_path)
    assert missing in str(info.value) and "\n" not in str(info.value)
    assert not (tmp_path / "secret_key").exists()


def test_production_refuses_signature_checks_without_a_token(tmp_path):
    from cryptography.fernet import Fernet

    env = {"HOTLINE_ENV": "production", "SECRET_KEY": "s" * 40,
           "HOTLINE_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
           "HOTLINE_INDEX_KEY": "i" * 40}
    with pytest.raises(ConfigError, match="TWILIO_AUTH_TOKEN"):
        load_config(environ=env, instance_path=tmp_path)
    env["TWILIO_VALIDATE_SIGNATURES"] = "0"
    assert load_config(environ=env, instance_path=tmp_path)["SESSION_COOKIE_SECURE"] is True


def test_bad_integer_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="REOPEN_WINDOW_DAYS"):
        load_config(environ={"REOPEN_WINDOW_DAYS": "week"}, instance_path=tmp_path)


@pytest.mark.parametrize(("url", "expected"), [
    ("postgres://u@h/db", "postgresql+psycopg://u@h/db"),
    ("postgresql://u@h:5432/db", "postgresql+psycopg://u@h:5432/db"),
    ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
    ("sqlite:///x.db", "sqlite:///x.db"),
])
def test_database_urls_map_to_the_installed_driver(url, expected):
    assert normalise_database_url(url) == expected


def test_importing_the_package_has_no_side_effects(tmp_path):
    """Importing reads no configuration: production without secrets would refuse to start."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "HOTLINE_ENV": "production", "PYTHONPATH": str(root)}
    for name in ("SECRET_KEY", "HOTLINE_ENCRYPTION_KEYS", "HOTLINE_INDEX_KEY"):
        env.pop(name, None)
    code = "import hotline, hotline.models, hotline.intake.service, hotline.api.v1"
    result = subprocess.run([sys.executable, "-c", code], env=env, cwd=tmp_path,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert list(tmp_path.iterdir()) == []


def test_local_runs_get_a_stand_in_twilio_token_for_simulate(tmp_path):
    first = load_config(environ={}, instance_path=tmp_path)
    assert first["TWILIO_AUTH_TOKEN"]
    assert load_config(environ={}, instance_path=tmp_path)["TWILIO_AUTH_TOKEN"] == \
        first["TWILIO_AUTH_TOKEN"]
    # With a real account configured, nothing is invented: signatures use the real token.
    real = load_config(environ={"TWILIO_ACCOUNT_SID": "AC" + "0" * 32}, instance_path=tmp_path)
    assert real["TWILIO_AUTH_TOKEN"] is None
