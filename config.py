"""Configuration for Hotline, read from the environment through the settings table.

``settings.SETTINGS`` declares every setting (type, default, meaning, who sets it,
production refusals). ``load_config`` builds the settings mapping from that table, the
environment and ``instance/.env`` for local runs, then ``create_app`` overrides. In
development the first run generates the secrets into ``instance/`` (mode 0600) so the app
just works; with ``HOTLINE_ENV=production`` an unsafe setting stops the app with a
one-line reason (``ConfigError``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from settings import (
    BY_NAME,
    PRODUCTION,
    RUN_PORT_FILE,
    SETTINGS,
    Context,
    SettingError,
    normalise_database_url,
    read_environment,
    refusals,
)

__all__ = ["RUN_PORT_FILE", "SECRET_FILES", "ConfigError", "load_config",
           "normalise_database_url"]

BASE_DIR = Path(__file__).resolve().parent
DEFAULT_INSTANCE_PATH = BASE_DIR / "instance"

# Development secrets generated into instance/: setting name -> file name.
SECRET_FILES = {s.name: s.dev_secret.file for s in SETTINGS
                if s.dev_secret is not None and s.dev_secret.when is None}


class ConfigError(RuntimeError):
    """The configuration cannot run safely; the message is the one-line reason."""


def _read_or_create_secret(instance_path: Path, name: str) -> str:
    """Return the development secret of setting ``name`` in instance/, creating it (0600) once."""
    secret = BY_NAME[name].dev_secret
    if secret is None:
        raise KeyError(f"{name} declares no development secret")
    path = instance_path / secret.file
    if path.exists():
        return path.read_text().strip()
    instance_path.mkdir(parents=True, exist_ok=True)
    value = secret.make()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(value + "\n")
    return value


def _read_dotenv(path: Path) -> dict[str, str]:
    """Parse a minimal KEY=VALUE file (comments and blank lines ignored)."""
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        values[key.strip()] = value.strip().strip("'\"")
    return values


def _is_production(value: Any) -> bool:
    return str(value or "").strip().lower() == PRODUCTION


def load_config(
    overrides: Mapping[str, Any] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    instance_path: Path | str | None = None,
) -> dict[str, Any]:
    """Build the settings mapping from the table's defaults, ``instance/.env``, the
    environment and ``overrides`` (in that order, later wins).

    Raises ConfigError (one line) when a value is unreadable or production is unsafe.
    """
    overrides = dict(overrides or {})
    instance = Path(instance_path or overrides.get("INSTANCE_PATH") or DEFAULT_INSTANCE_PATH)
    env: dict[str, str] = _read_dotenv(instance / ".env")
    env.update(os.environ if environ is None else environ)
    # An explicit HOTLINE_ENV override (create_app({...})) counts like the environment.
    production = _is_production(overrides.get("HOTLINE_ENV", env.get("HOTLINE_ENV")))

    try:
        cfg = read_environment(env, Context(instance=instance, production=production))
    except SettingError as exc:
        raise ConfigError(str(exc)) from None
    cfg["INSTANCE_PATH"] = str(instance)
    cfg["RATELIMIT_STORAGE_URI"] = cfg["REDIS_URL"] or "memory://"
    cfg.update(overrides)
    if isinstance(cfg["HOTLINE_ENCRYPTION_KEYS"], str):
        cfg["HOTLINE_ENCRYPTION_KEYS"] = BY_NAME["HOTLINE_ENCRYPTION_KEYS"].parse(
            cfg["HOTLINE_ENCRYPTION_KEYS"])

    if not production:
        _generate_development_secrets(cfg, instance)
    reasons = refusals(cfg, production=production)
    if reasons:
        raise ConfigError(reasons[0])
    return cfg


def _generate_development_secrets(cfg: dict[str, Any], instance: Path) -> None:
    """Fill unset secrets from ``instance/`` (generated there once) for local runs."""
    for setting in SETTINGS:
        secret = setting.dev_secret
        if secret is None or cfg.get(setting.name):
            continue
        if secret.when is not None and not secret.when(cfg):
            continue
        value = _read_or_create_secret(instance, setting.name)
        cfg[setting.name] = setting.parse(value) if setting.kind == "list" else value
