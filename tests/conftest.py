"""Shared fixtures: an app on a freshly migrated database per test, clients, signers.

The suite runs on SQLite by default. With ``HOTLINE_TEST_DATABASE_URL`` set to a
PostgreSQL URL it runs on PostgreSQL: the schema is migrated once per test session
(each xdist worker gets its own database) and every table is emptied after each test.
"""

from __future__ import annotations

import os
import re
import shutil
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlencode

import pytest
from cryptography.fernet import Fernet
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text
from twilio.request_validator import RequestValidator

from hotline import create_app
from hotline.extensions import db

ROOT = Path(__file__).resolve().parent.parent  # the repository
TEST_AUTH_TOKEN = "test-auth-token-0123456789abcdef"
PUBLIC_BASE_URL = "https://hotline.example.org"
ENCRYPTION_KEY = Fernet.generate_key().decode()
INDEX_KEY = "test-index-key-0123456789abcdef0123456789-ABCDEFGHIJKLMNOPQRSTUVWXYZ"
# Strong enough for production mode's secret checks (tests switch HOTLINE_ENV on).
SECRET_KEY = "test-session-key-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJ"
AUDIT_KEY = "test-audit-key-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKL"

# The fast-crypto settings: production argon2 parameters are far too slow for a suite.
FAST_ARGON2 = {"ARGON2_TIME_COST": 1, "ARGON2_MEMORY_COST": 8, "ARGON2_PARALLELISM": 1}


def base_config(tmp_path: Path, database_url: str) -> dict:
    """Settings every test app shares; tests override single keys."""
    return {
        "TESTING": True,
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "SECRET_KEY": SECRET_KEY,
        "HOTLINE_AUDIT_KEY": AUDIT_KEY,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "HOTLINE_ENCRYPTION_KEYS": [ENCRYPTION_KEY],
        "HOTLINE_INDEX_KEY": INDEX_KEY,
        "TWILIO_AUTH_TOKEN": TEST_AUTH_TOKEN,
        "TWILIO_ACCOUNT_SID": None,
        "PUBLIC_BASE_URL": PUBLIC_BASE_URL,
        "TWILIO_VALIDATE_SIGNATURES": True,
        "OUTBOX_BACKGROUND_THREAD": False,
        "RATELIMIT_STORAGE_URI": "memory://",
        **FAST_ARGON2,
    }


def postgres_url() -> str | None:
    """The PostgreSQL URL the suite runs against, or None for SQLite."""
    return os.environ.get("HOTLINE_TEST_DATABASE_URL") or None


def _worker_database(url: str, worker: str) -> str:
    """Create (once) and return a database for this xdist worker on the given server."""
    from config import normalise_database_url

    url = normalise_database_url(url)
    base, _, name = url.rpartition("/")
    target = f"{name}_{worker}"
    admin = create_engine(f"{base}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{target}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{target}"'))
    admin.dispose()
    return f"{base}/{target}"


def _upgrade(app: Flask) -> None:
    from flask_migrate import upgrade

    with app.app_context():
        upgrade()


@pytest.fixture(scope="session", autouse=True)
def compiled_translations() -> None:
    """Compile the message catalogues when their .mo files are missing or stale (not in git)."""
    from hotline.catalogues import compile_catalogues

    compile_catalogues()


@pytest.fixture(scope="session")
def migrated_database(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> str:
    """A database URL migrated to head once per session (SQLite: a template file)."""
    root = tmp_path_factory.mktemp("template")
    pg = postgres_url()
    url = _worker_database(pg, worker_id) if pg else f"sqlite:///{root / 'template.sqlite3'}"
    app = create_app(base_config(root, url))
    _upgrade(app)
    with app.app_context():
        db.engine.dispose()
    return url


def _empty_postgres(database_url: str) -> None:
    from hotline.ops.canary import canary_token

    tables = ", ".join(f'"{t.name}"' for t in db.metadata.sorted_tables)
    engine = create_engine(database_url)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        # The key canary is what the migration leaves in a fresh database: put it back.
        conn.execute(text("INSERT INTO key_canary (value, created_at) "
                          "VALUES (:value, CURRENT_TIMESTAMP)"),
                     {"value": canary_token([ENCRYPTION_KEY])})
        # So are the report's response targets (migration 0035's defaults).
        conn.execute(text("INSERT INTO report_targets (urgency, seconds) VALUES "
                          "('immediate', 300), ('high', 1800), ('normal', 14400)"))
    engine.dispose()


@pytest.fixture
def database_url(migrated_database: str, tmp_path: Path) -> str:
    """A fresh migrated database for one test."""
    if migrated_database.startswith("sqlite"):
        template = Path(migrated_database.removeprefix("sqlite:///"))
        target = tmp_path / "hotline.sqlite3"
        shutil.copyfile(template, target)
        return f"sqlite:///{target}"
    return migrated_database


@pytest.fixture
def make_app(database_url: str, tmp_path: Path) -> Iterator:
    """Factory for apps on this test's database, with per-test overrides."""
    apps: list[Flask] = []

    def factory(**overrides: object) -> Flask:
        app = create_app({**base_config(tmp_path, database_url), **overrides})
        apps.append(app)
        return app

    yield factory
    for app in apps:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
    if apps and not database_url.startswith("sqlite"):
        _empty_postgres(database_url)


@pytest.fixture
def fake():
    """A fake Twilio HTTP client (``tests.twilio_fakes``) for apps that talk to Twilio."""
    from tests.twilio_fakes import FakeTwilioHttp  # (it imports this module)

    return FakeTwilioHttp()


@pytest.fixture
def app(make_app) -> Flask:
    """The default test app."""
    return make_app()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def app_ctx(app: Flask) -> Iterator[Flask]:
    """Run the test body inside an application context."""
    with app.app_context():
        yield app


# Any form's CSRF field: ``csrf_token`` or a prefixed one (``callback-csrf_token``), as
# Flask-WTF renders it or as a template writes it by hand (the sign-out form).
CSRF_FIELD = re.compile(r'name="(?:[\w-]+-)?csrf_token"[^>]*?value="([^"]+)"')


def csrf_token(html: str) -> str:
    """The CSRF token of the first form on a rendered page (every form of one page carries
    the same token, whatever its field's prefix)."""
    match = CSRF_FIELD.search(html)
    assert match, "no CSRF token on the page"
    return match.group(1)


def in_parallel(jobs: list[Callable[[], object]]) -> list[object]:
    """Run the jobs in threads released together; their results in order."""
    barrier = threading.Barrier(len(jobs))
    results: list[object] = [None] * len(jobs)
    errors: list[BaseException] = []

    def run(n: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[n] = jobs[n]()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(len(jobs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    return results


def sign(url: str, params: dict | list, token: str = TEST_AUTH_TOKEN) -> str:
    """The X-Twilio-Signature Twilio would send for a form POST to ``url``."""
    from werkzeug.datastructures import MultiDict

    return RequestValidator(token).compute_signature(url, MultiDict(params))


@pytest.fixture
def twilio_post(client: FlaskClient):
    """POST a form to a webhook path with a valid Twilio signature."""

    def post(path: str, params: dict | list, *, signature: str | None = None,
             headers: dict | None = None):
        url = PUBLIC_BASE_URL + path
        body = urlencode(params, doseq=True)
        sig = sign(url, params) if signature is None else signature
        return client.post(path, data=body, headers={
            "X-Twilio-Signature": sig,
            "Content-Type": "application/x-www-form-urlencoded",
            **(headers or {}),
        })

    return post


DEFAULT_PASSWORD = "correct horse battery staple"


@pytest.fixture
def make_user(app: Flask):
    """Create a user: ``make_user("supervisor", email=..., languages="ru,uk")``."""
    from hotline.auth.passwords import hash_password, new_session_token
    from hotline.models import User

    counter = {"n": 0}

    def factory(role: str = "staff", **fields: object) -> User:
        counter["n"] += 1
        with app.app_context():
            user = User(
                email=fields.pop("email", f"{role}{counter['n']}@hotline.test"),
                display_name=fields.pop("display_name", f"{role.title()} {counter['n']}"),
                role=role,
                password_hash=hash_password(str(fields.pop("password", DEFAULT_PASSWORD))),
                session_token=new_session_token(),
                **fields,
            )
            db.session.add(user)
            db.session.commit()
            db.session.refresh(user)
            db.session.expunge(user)
            return user

    return factory


@pytest.fixture
def staff(make_user):
    """A staff member (the shift's usual user)."""
    return make_user("staff", display_name="Olena K.")


@pytest.fixture
def supervisor(make_user):
    """A supervisor."""
    return make_user("supervisor")


@pytest.fixture
def admin(make_user):
    """An administrator."""
    return make_user("admin", display_name="Ada Admin")


def login_as(client: FlaskClient, user, at=None) -> None:
    """Put a fully signed-in session (password and second factor passed) into ``client``.

    ``at`` (a tz-aware datetime) is when the sign-in happened; default now. The auth
    package owns the session contract; it keeps this helper in step with it.
    """
    from hotline.auth import server_sessions
    from hotline.auth.guards import MFA_SESSION_KEY
    from hotline.auth.lifetime import AUTH_AT_KEY, SEEN_AT_KEY, SERVER_SESSION_KEY
    from hotline.models import utcnow

    at = at or utcnow()
    stamp = int(at.timestamp())
    with client.application.app_context():
        token = server_sessions.open_session(server_sessions.STAFF, at, user_id=user.id)
        db.session.commit()
    with client.session_transaction() as sess:
        sess.clear()
        sess[SERVER_SESSION_KEY] = token
        sess["_user_id"] = user.get_id()
        sess["_fresh"] = True
        sess[MFA_SESSION_KEY] = True
        sess[AUTH_AT_KEY] = stamp
        sess[SEEN_AT_KEY] = stamp


pytest_plugins = ["tests.browser"]
