"""Security review, findings 5 and 6: production refuses placeholder, weak or shared secrets
and unsigned webhooks, each with one line naming the variable.

The attack of finding 5: the operator copied ``deploy/hotline.env.example`` with
``SECRET_KEY=change-me``; with that known key anyone could sign a session cookie. The
start-up is driven the way gunicorn does it (``import wsgi`` in a fresh process).
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from config import ConfigError, load_config
from tests.conftest import ROOT

GOOD = {
    "HOTLINE_ENV": "production",
    "SECRET_KEY": secrets.token_urlsafe(48),
    "HOTLINE_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
    "HOTLINE_INDEX_KEY": secrets.token_urlsafe(48),
    "HOTLINE_AUDIT_KEY": secrets.token_urlsafe(48),
    "TWILIO_AUTH_TOKEN": secrets.token_hex(16),
    "DATABASE_URL": "postgresql://hotline@db.internal/hotline",
}
OURS = ("SECRET_KEY", "HOTLINE_INDEX_KEY", "HOTLINE_AUDIT_KEY")


def _refusal(environ: dict, tmp_path: Path) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(environ=environ, instance_path=tmp_path)
    reason = str(info.value)
    assert "\n" not in reason
    return reason


def test_good_secrets_start(tmp_path: Path) -> None:
    assert load_config(environ=GOOD, instance_path=tmp_path)["HOTLINE_ENV"] == "production"


@pytest.mark.parametrize("name", OURS)
@pytest.mark.parametrize("placeholder", ["change-me", "CHANGEME-please-0123456789abcdefghijk",
                                         "replace-me-with-a-long-random-string-0123456789"])
def test_a_placeholder_is_refused_naming_the_variable(name, placeholder, tmp_path) -> None:
    reason = _refusal({**GOOD, name: placeholder}, tmp_path)
    assert reason.startswith(f"{name} is a placeholder")


@pytest.mark.parametrize("name", OURS)
@pytest.mark.parametrize("weak", [
    "a" * 64,                                    # repetition
    "3f9c1a7e5b2d8046c1e9a3f7b5d20846",          # 16 random bytes in hex
    "Qm9vdGxlZ0s3Zk1wV1hqTnl2ckRz",             # ~21 random bytes in base64
    "abcdefghijklmnop" * 2,                      # 32 characters, 192 bits at most
])
def test_under_32_random_bytes_is_refused(name, weak, tmp_path) -> None:
    assert _refusal({**GOOD, name: weak}, tmp_path).startswith(f"{name} is too weak")


@pytest.mark.parametrize(("first", "second"), [
    ("SECRET_KEY", "HOTLINE_INDEX_KEY"), ("SECRET_KEY", "HOTLINE_AUDIT_KEY"),
    ("HOTLINE_INDEX_KEY", "HOTLINE_AUDIT_KEY"),
])
def test_one_value_for_two_secrets_is_refused(first, second, tmp_path) -> None:
    reason = _refusal({**GOOD, second: GOOD[first]}, tmp_path)
    assert reason == f"{second} has the same value as {first}; every secret must be different"


def test_an_encryption_key_reused_as_another_secret_is_refused(tmp_path) -> None:
    key = GOOD["HOTLINE_ENCRYPTION_KEYS"]
    reason = _refusal({**GOOD, "HOTLINE_INDEX_KEY": key}, tmp_path)
    assert "HOTLINE_INDEX_KEY has the same value as HOTLINE_ENCRYPTION_KEYS" in reason
    twice = _refusal({**GOOD, "HOTLINE_ENCRYPTION_KEYS": f"{key},{key}"}, tmp_path)
    assert twice.startswith("HOTLINE_ENCRYPTION_KEYS lists the same key twice")


def test_development_keeps_working_with_anything(tmp_path) -> None:
    cfg = load_config(environ={"SECRET_KEY": "change-me", "TWILIO_VALIDATE_SIGNATURES": "0"},
                      instance_path=tmp_path)
    assert cfg["SECRET_KEY"] == "change-me" and cfg["TWILIO_VALIDATE_SIGNATURES"] is False


def _start(environ: dict, tmp_path: Path) -> subprocess.CompletedProcess:
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), **environ}
    return subprocess.run([sys.executable, "-c", "import wsgi"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60, check=False)


def test_the_example_files_placeholder_secret_key_stops_the_server(tmp_path) -> None:
    done = _start({**GOOD, "SECRET_KEY": "change-me"}, tmp_path)
    assert done.returncode == 1
    assert done.stderr.strip().startswith("hotline: SECRET_KEY is a placeholder")
    assert len(done.stderr.strip().splitlines()) == 1


def test_unsigned_webhooks_stop_the_server_in_production(tmp_path) -> None:
    done = _start({**GOOD, "TWILIO_VALIDATE_SIGNATURES": "0"}, tmp_path)
    assert done.returncode == 1
    assert done.stderr.strip() == (
        "hotline: TWILIO_VALIDATE_SIGNATURES=0 is for local experiments only; production "
        "refuses to accept unsigned webhooks")
