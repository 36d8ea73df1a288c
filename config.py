"""Configuration for Hotline, read from the environment.

One object, ``Config``, holds every setting. ``load_config`` builds it from the
environment (and ``instance/.env`` for local runs). In development the first run
generates the secrets into ``instance/`` (mode 0600) so the app just works; with
``HOTLINE_ENV=production`` a missing secret stops the app with a one-line reason.
"""

from __future__ import annotations

import base64
import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet

BASE_DIR = Path(__file__).resolve().parent
DEFAULT_INSTANCE_PATH = BASE_DIR / "instance"

# Files that hold generated development secrets, one value each.
SECRET_FILES = {
    "SECRET_KEY": "secret_key",
    "HOTLINE_ENCRYPTION_KEYS": "encryption_keys",
    "HOTLINE_INDEX_KEY": "index_key",
}
# A stand-in Twilio token for purely local runs (no Twilio account configured), so
# ``simulate`` can sign requests and the app can check them out of the box.
LOCAL_TWILIO_TOKEN_FILE = "twilio_local_auth_token"  # noqa: S105 - a file name, not a secret
# ``make run PORT=…`` writes the port it serves on here, so ``simulate`` in a second
# terminal (without that variable) sends to the same server.
RUN_PORT_FILE = "run-port"


class ConfigError(RuntimeError):
    """The configuration cannot run safely; the message is the one-line reason."""


def _generate(name: str) -> str:
    if name == "HOTLINE_ENCRYPTION_KEYS":
        return Fernet.generate_key().decode()
    if name == "HOTLINE_INDEX_KEY":
        return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
    return secrets.token_urlsafe(48)


def _read_or_create_secret(instance_path: Path, name: str, filename: str | None = None) -> str:
    """Return the development secret stored in instance/, creating it (0600) once."""
    path = instance_path / (filename or SECRET_FILES[name])
    if path.exists():
        return path.read_text().strip()
    instance_path.mkdir(parents=True, exist_ok=True)
    value = _generate(name)
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


def normalise_database_url(url: str) -> str:
    """Map plain ``postgres://`` / ``postgresql://`` URLs to the installed psycopg driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def _flag(value: str | None, default: bool) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() not in ("0", "false", "no", "off")


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from exc


def _list(value: str | None, default: list[str]) -> list[str]:
    if not value:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


class Config:
    """Defaults; ``load_config`` overlays the environment on these."""

    HOTLINE_ENV = "development"
    SECRET_KEY: str | None = None
    SQLALCHEMY_DATABASE_URI: str | None = None
    SQLALCHEMY_ENGINE_OPTIONS: dict[str, Any] = {}
    HOTLINE_ENCRYPTION_KEYS: list[str] = []
    HOTLINE_INDEX_KEY: str | None = None

    TWILIO_ACCOUNT_SID: str | None = None
    TWILIO_AUTH_TOKEN: str | None = None
    TWILIO_VALIDATE_SIGNATURES = True
    TWILIO_MESSAGING_FROM: str | None = None
    PUBLIC_BASE_URL: str | None = None
    PROXY_FIX_HOPS = 0

    REDIS_URL: str | None = None
    RATELIMIT_STORAGE_URI = "memory://"
    # Redis down must not turn the public form into an error page: limit in memory meanwhile.
    RATELIMIT_IN_MEMORY_FALLBACK_ENABLED = True

    REOPEN_WINDOW_DAYS = 7
    IVR_LANGUAGES = ["ko", "ru", "uk", "en"]
    LANGUAGES = ["ko", "ru", "uk", "en"]
    DEFAULT_LANGUAGE = "en"
    AUTO_REPLY_ENABLED = True
    VOICEMAIL_MAX_SECONDS = 180

    # Twilio posts small forms; anything larger is refused with 413 before parsing.
    MAX_CONTENT_LENGTH = 64 * 1024
    MESSAGE_MAX_CHARS = 5000

    # Numbers shown on the public page exactly as written (unset: the line is left out).
    HOTLINE_PHONE_DISPLAY: str | None = None
    HOTLINE_WHATSAPP_DISPLAY: str | None = None

    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = False
    SESSION_IDLE_MINUTES = 30
    SESSION_MAX_HOURS = 12

    # argon2id parameters (RFC 9106 second recommended option); tests lower them.
    ARGON2_TIME_COST = 3
    ARGON2_MEMORY_COST = 64 * 1024
    ARGON2_PARALLELISM = 4

    WTF_CSRF_TIME_LIMIT = 8 * 3600
    BABEL_DEFAULT_LOCALE = "en"

    SPOOL_DIR: str | None = None
    # The local server's port (``make run PORT=5050``) and where ``simulate`` sends to.
    PORT = 5000
    # ``human``: one readable line per request and event (development default);
    # ``json``: one JSON object per line (production default, for log collectors).
    LOG_FORMAT = "human"
    # Voice: a number the fallback dials when the app fails; recorded menu prompts
    # per language ({"ko": "https://…/ko.mp3"}) played instead of text-to-speech.
    VOICE_BACKUP_NUMBER: str | None = None
    IVR_PROMPT_URLS: dict[str, str] = {}
    TWILIO_MEDIA_HOSTS = ["api.twilio.com"]
    OUTBOX_BACKGROUND_THREAD = False
    RETENTION_DAYS: int | None = None


def load_config(
    overrides: Mapping[str, Any] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    instance_path: Path | str | None = None,
) -> dict[str, Any]:
    """Build the settings mapping from defaults, ``instance/.env``, the environment and overrides.

    Raises ConfigError (one line) when production settings are unsafe.
    """
    overrides = dict(overrides or {})
    instance = Path(instance_path or overrides.get("INSTANCE_PATH") or DEFAULT_INSTANCE_PATH)
    env: dict[str, str] = _read_dotenv(instance / ".env")
    env.update(os.environ if environ is None else environ)

    cfg: dict[str, Any] = {k: v for k, v in vars(Config).items() if k.isupper()}
    cfg["INSTANCE_PATH"] = str(instance)
    cfg["HOTLINE_ENV"] = env.get("HOTLINE_ENV", "development").strip().lower()
    production = cfg["HOTLINE_ENV"] == "production"

    cfg["SECRET_KEY"] = env.get("SECRET_KEY") or None
    cfg["HOTLINE_ENCRYPTION_KEYS"] = _list(env.get("HOTLINE_ENCRYPTION_KEYS"), [])
    cfg["HOTLINE_INDEX_KEY"] = env.get("HOTLINE_INDEX_KEY") or None
    db_url = env.get("DATABASE_URL") or f"sqlite:///{instance / 'hotline.sqlite3'}"
    cfg["SQLALCHEMY_DATABASE_URI"] = normalise_database_url(db_url)

    for name in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_MESSAGING_FROM", "REDIS_URL",
                 "HOTLINE_PHONE_DISPLAY", "HOTLINE_WHATSAPP_DISPLAY"):
        cfg[name] = env.get(name) or None
    base_url = env.get("PUBLIC_BASE_URL") or None
    cfg["PUBLIC_BASE_URL"] = base_url.rstrip("/") if base_url else None
    cfg["TWILIO_VALIDATE_SIGNATURES"] = _flag(env.get("TWILIO_VALIDATE_SIGNATURES"), True)
    cfg["PROXY_FIX_HOPS"] = _int(env, "PROXY_FIX_HOPS", 0)
    cfg["REOPEN_WINDOW_DAYS"] = _int(env, "REOPEN_WINDOW_DAYS", Config.REOPEN_WINDOW_DAYS)
    cfg["IVR_LANGUAGES"] = _list(env.get("IVR_LANGUAGES"), list(Config.IVR_LANGUAGES))
    cfg["AUTO_REPLY_ENABLED"] = _flag(env.get("AUTO_REPLY_ENABLED"), True)
    cfg["VOICEMAIL_MAX_SECONDS"] = _int(env, "VOICEMAIL_MAX_SECONDS", Config.VOICEMAIL_MAX_SECONDS)
    cfg["SESSION_IDLE_MINUTES"] = _int(env, "SESSION_IDLE_MINUTES", Config.SESSION_IDLE_MINUTES)
    cfg["SESSION_MAX_HOURS"] = _int(env, "SESSION_MAX_HOURS", Config.SESSION_MAX_HOURS)
    if env.get("RETENTION_DAYS"):
        cfg["RETENTION_DAYS"] = _int(env, "RETENTION_DAYS", 0)
    cfg["VOICE_BACKUP_NUMBER"] = env.get("VOICE_BACKUP_NUMBER") or None
    prompts = {code: env.get(f"IVR_PROMPT_URL_{code.upper()}") for code in cfg["LANGUAGES"]}
    cfg["IVR_PROMPT_URLS"] = {code: url for code, url in prompts.items() if url}
    cfg["TWILIO_MEDIA_HOSTS"] = _list(env.get("TWILIO_MEDIA_HOSTS"),
                                      list(Config.TWILIO_MEDIA_HOSTS))
    if env.get("SPOOL_DIR"):
        cfg["SPOOL_DIR"] = env["SPOOL_DIR"]
    cfg["OUTBOX_BACKGROUND_THREAD"] = _flag(env.get("OUTBOX_BACKGROUND_THREAD"), not production)
    cfg["RATELIMIT_STORAGE_URI"] = cfg["REDIS_URL"] or "memory://"
    cfg["PORT"] = _port(env, instance)
    cfg["LOG_FORMAT"] = (env.get("LOG_FORMAT") or ("json" if production else "human")).lower()
    if cfg["LOG_FORMAT"] not in ("human", "json"):
        raise ConfigError(f"LOG_FORMAT must be human or json, got {cfg['LOG_FORMAT']!r}")
    cfg["SESSION_COOKIE_SECURE"] = production

    cfg.update(overrides)
    # An explicit HOTLINE_ENV override (create_app({...})) counts like the environment.
    production = str(cfg["HOTLINE_ENV"]).strip().lower() == "production"
    if "SESSION_COOKIE_SECURE" not in overrides:
        cfg["SESSION_COOKIE_SECURE"] = production

    if production:
        _check_production(cfg)
    else:
        for name in SECRET_FILES:
            if not cfg.get(name):
                value = _read_or_create_secret(instance, name)
                cfg[name] = _list(value, []) if name == "HOTLINE_ENCRYPTION_KEYS" else value
        if not cfg.get("TWILIO_AUTH_TOKEN") and not cfg.get("TWILIO_ACCOUNT_SID"):
            cfg["TWILIO_AUTH_TOKEN"] = _read_or_create_secret(
                instance, "TWILIO_AUTH_TOKEN", LOCAL_TWILIO_TOKEN_FILE)
    if isinstance(cfg["HOTLINE_ENCRYPTION_KEYS"], str):
        cfg["HOTLINE_ENCRYPTION_KEYS"] = _list(cfg["HOTLINE_ENCRYPTION_KEYS"], [])
    if cfg.get("SPOOL_DIR") is None:
        cfg["SPOOL_DIR"] = str(instance / "spool")
    return cfg


def _port(env: Mapping[str, str], instance: Path) -> int:
    """``PORT`` from the environment, else the one ``make run`` last served on, else 5000."""
    if not env.get("PORT"):
        recorded = instance / RUN_PORT_FILE
        if recorded.is_file():
            env = {"PORT": recorded.read_text().strip()}
    port = _int(env, "PORT", Config.PORT)
    if not 0 < port < 65536:
        raise ConfigError(f"PORT must be between 1 and 65535, got {port}")
    return port


def _check_production(cfg: Mapping[str, Any]) -> None:
    for name in SECRET_FILES:
        if not cfg.get(name):
            raise ConfigError(f"{name} is not set; production refuses to start without it")
    if cfg["TWILIO_VALIDATE_SIGNATURES"] and not cfg.get("TWILIO_AUTH_TOKEN"):
        raise ConfigError(
            "TWILIO_AUTH_TOKEN is not set but signature checks are on; "
            "production refuses to accept unverifiable webhooks"
        )
    for key in cfg["HOTLINE_ENCRYPTION_KEYS"]:
        try:
            Fernet(key)
        except (ValueError, TypeError) as exc:
            raise ConfigError(
                "HOTLINE_ENCRYPTION_KEYS holds a key that is not a Fernet key") from exc
