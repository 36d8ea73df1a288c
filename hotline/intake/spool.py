"""The durable spool: webhook deliveries kept on disk while the database is away.

When a webhook cannot be stored (the database is down, or anything else fails) the
raw request — path, query string, form body, the headers needed to re-verify its
signature and the time it arrived — is written to ``SPOOL_DIR``: one file per
delivery, encrypted with the field cipher (it holds caller numbers and message
text), written to a temporary file, fsync'd, then linked into place. The name is
derived from the route and the delivery's Sids (or the key a JSON webhook names, such
as Telegram's ``update_id``), so a retried delivery spools once.

``replay_all`` pushes every spooled request, oldest first, through the app's own
WSGI stack (signature check, the same view, the one intake service); every handler
is idempotent, so replaying twice or while live traffic continues is safe. A file
is removed only after its request succeeded, i.e. after the view committed; a
request the app now refuses (4xx) moves to ``rejected/`` and is kept until the retention
purge removes it (``purge_rejected``, once older than ``RETENTION_DAYS``).
``intake replay --list`` shows what is there without decrypting anything.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import logging
import os
import re
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, Response, abort, current_app, g, request
from werkzeug.datastructures import ImmutableMultiDict
from werkzeug.exceptions import HTTPException
from werkzeug.test import EnvironBuilder

from hotline.crypto import EXTENSION_KEY, DecryptionError, cipher
from hotline.extensions import db
from hotline.intake.signature import SETTINGS_HEADER, SIGNATURE_HEADER, signed_url

log = logging.getLogger(__name__)

SPOOL_SUFFIX = ".spool"
REJECTED_DIR = "rejected"
REPLAY_ENVIRON_KEY = "hotline.spool_replay"
# Headers kept with a spooled delivery: enough to re-verify and re-parse it.
KEPT_HEADERS = (SIGNATURE_HEADER, SETTINGS_HEADER, "I-Twilio-Idempotency-Token", "Content-Type")
# Form fields that identify one delivery, in the order they make up the file name.
KEY_FIELDS = ("MessageSid", "RecordingSid", "CallSid", "MessageStatus", "RecordingStatus",
              "CallStatus", "DialCallStatus", "Digits")
_KEY_VALUE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
# A delivery waiting for something never stored (a recording of an unknown call) is
# moved aside after this long; deliveries spooled during an outage wait forever.
WAITING_MAX_AGE_SECONDS = 2 * 24 * 3600
# Status a replayed view answers with while what it refers to is not stored yet.
WAITING_STATUS = 425
_STATE_KEY = "hotline_spool_state"


class SpoolError(RuntimeError):
    """A delivery could not be written to the spool."""


class NotYetKnown(RuntimeError):
    """The delivery refers to something not stored yet (e.g. a recording of a spooled call).

    Views raise it to have the delivery spooled and replayed later.
    """


def is_replay() -> bool:
    """True while the current request is a replay from the spool."""
    return bool(request.environ.get(REPLAY_ENVIRON_KEY))


def spool_dir(app: Flask | None = None) -> Path:
    """The spool directory of ``app`` (the current app by default)."""
    app = app or current_app
    return Path(app.config["SPOOL_DIR"])


def entry_name(path: str, form: ImmutableMultiDict, raw: bytes,
               key: Sequence[str] = ()) -> str:
    """The file name of a delivery: the route plus its Sids (or ``key``), else a hash of
    the body."""
    slug = path.strip("/").replace("/", "_") or "root"
    parts = []
    values: list[str | None] = list(key) or [form.get(name) for name in KEY_FIELDS]
    for value in values:
        if value:
            parts.append(value if _KEY_VALUE.match(value)
                         else hashlib.sha256(value.encode()).hexdigest()[:16])
    if not parts:
        parts.append(hashlib.sha256(raw).hexdigest()[:32])
    return f"{slug}--{'-'.join(parts)}{SPOOL_SUFFIX}"


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def spool_current_request(key: Sequence[str] = ()) -> Path:
    """Write the current webhook request to the spool (once per delivery); its path.

    ``key``: the values that identify the delivery (default: its Twilio Sids). Touches
    no database. Raises SpoolError when the file cannot be written.
    """
    raw = request.get_data(cache=True)
    entry = {
        "version": 1,
        "received_at": time.time(),
        "method": request.method,
        "path": request.path,
        "query": request.query_string.decode("latin-1"),
        "url": signed_url(),
        "body": raw.decode("latin-1"),
        "headers": {name: request.headers[name] for name in KEPT_HEADERS
                    if name in request.headers},
    }
    directory = spool_dir()
    target = directory / entry_name(request.path, webhook_form(), raw, key)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        if target.exists():
            return target
        token = cipher().encrypt(json.dumps(entry))
        temp = directory / f".tmp-{uuid.uuid4().hex}"
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(token)
                handle.flush()
                os.fsync(handle.fileno())
            # link() refuses to replace: the first copy of a delivery wins.
            with contextlib.suppress(FileExistsError):
                os.link(temp, target)
        finally:
            temp.unlink(missing_ok=True)
        _fsync_dir(directory)
    except OSError as exc:
        raise SpoolError(f"cannot write to the spool: {type(exc).__name__}") from exc
    return target


def pending(app: Flask | None = None) -> list[Path]:
    """Spooled deliveries waiting for replay (unordered)."""
    directory = spool_dir(app)
    if not directory.is_dir():
        return []
    return [p for p in directory.iterdir()
            if p.is_file() and p.name.endswith(SPOOL_SUFFIX) and not p.name.startswith(".")]


def read_entry(path: Path, app: Flask | None = None) -> dict[str, Any]:
    """Decrypt and parse one spool file."""
    field_cipher = (app or current_app).extensions[EXTENSION_KEY]
    return json.loads(field_cipher.decrypt(path.read_text()))


@dataclass
class ReplayReport:
    """What one pass over the spool did."""

    done: int = 0
    rejected: int = 0
    kept: int = 0
    errors: list[str] = field(default_factory=list)


def _environ_for(app: Flask, entry: dict[str, Any]) -> dict[str, Any]:
    parts = urlsplit(entry["url"])
    builder = EnvironBuilder(
        path=entry["path"], base_url=f"{parts.scheme}://{parts.netloc}",
        query_string=entry["query"], method=entry["method"],
        data=entry["body"].encode("latin-1"), headers=entry["headers"],
        environ_overrides={REPLAY_ENVIRON_KEY: True},
    )
    try:
        return builder.get_environ()
    finally:
        builder.close()


def replay_entry(app: Flask, path: Path) -> str:
    """Replay one spooled delivery: ``done`` (file removed), ``rejected`` or ``kept``."""
    try:
        entry = read_entry(path, app)
    except FileNotFoundError:
        return "done"  # another replayer finished it
    except (OSError, ValueError, DecryptionError) as exc:
        log.error("spool file %s unreadable (%s); moved aside", path.name, type(exc).__name__)
        _reject(path)
        return "rejected"
    try:
        with app.request_context(_environ_for(app, entry)):
            try:
                response = app.full_dispatch_request()
            finally:
                db.session.remove()
    except Exception as exc:
        log.warning("replay of %s failed (%s); kept", path.name, type(exc).__name__)
        return "kept"
    if response.status_code < 400:
        path.unlink(missing_ok=True)
        return "done"
    if response.status_code == WAITING_STATUS:
        if time.time() - float(entry.get("received_at", 0)) < WAITING_MAX_AGE_SECONDS:
            return "kept"
        log.error("replay of %s still refers to nothing stored; moved to %s/", path.name,
                  REJECTED_DIR)
        _reject(path)
        return "rejected"
    if response.status_code < 500:
        log.error("replay of %s refused with %s; moved to %s/", path.name,
                  response.status_code, REJECTED_DIR)
        _reject(path)
        return "rejected"
    return "kept"


def _reject(path: Path) -> None:
    target_dir = path.parent / REJECTED_DIR
    target_dir.mkdir(exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        os.replace(path, target_dir / path.name)


def _received_at(app: Flask, path: Path) -> float:
    try:
        return float(read_entry(path, app)["received_at"])
    except (OSError, ValueError, KeyError, DecryptionError):
        return 0.0


@dataclass(frozen=True)
class SpoolFile:
    """One file in the spool as ``intake replay --list`` shows it: never its content."""

    name: str
    state: str  # "waiting" (to replay) or "rejected" (moved aside, kept for a person)
    size: int
    age_seconds: float


def listing(app: Flask | None = None, now: float | None = None) -> list[SpoolFile]:
    """Every spool file, waiting and rejected, oldest first: names, sizes and ages only.

    Nothing is decrypted (the age is the file's modification time, which moving a file
    to ``rejected/`` keeps), so the list can be shown to anyone who may see the folder.
    """
    directory = spool_dir(app)
    now = time.time() if now is None else now
    found: list[SpoolFile] = []
    for state, folder in (("waiting", directory), ("rejected", directory / REJECTED_DIR)):
        if not folder.is_dir():
            continue
        for path in folder.iterdir():
            if path.is_file() and path.name.endswith(SPOOL_SUFFIX) \
                    and not path.name.startswith("."):
                info = path.stat()
                found.append(SpoolFile(path.name, state, info.st_size,
                                       max(now - info.st_mtime, 0.0)))
    return sorted(found, key=lambda item: -item.age_seconds)


def purge_rejected(older_than_seconds: float, *, dry_run: bool = False,
                   app: Flask | None = None, now: float | None = None) -> tuple[int, int]:
    """Remove rejected spool files older than the retention period (security review,
    finding 12); returns (removed, waiting files older than it, which are kept).

    Waiting files are never removed here: they are deliveries not yet stored, and
    ``intake replay`` is what empties them (the count tells the operator to run it).
    """
    removed = old_waiting = 0
    for item in listing(app, now):
        if item.age_seconds <= older_than_seconds:
            continue
        if item.state == "waiting":
            old_waiting += 1
            continue
        if not dry_run:
            (spool_dir(app) / REJECTED_DIR / item.name).unlink(missing_ok=True)
        removed += 1
    return removed, old_waiting


def replay_all(app: Flask) -> ReplayReport:
    """Replay every spooled delivery, oldest first; see the module docstring."""
    report = ReplayReport()
    entries = sorted(pending(app), key=lambda p: (_received_at(app, p), p.name))
    for path in entries:
        outcome = replay_entry(app, path)
        setattr(report, outcome, getattr(report, outcome) + 1)
        if outcome != "done":
            report.errors.append(path.name)
    return report


def _state(app: Flask) -> dict[str, Any]:
    return app.extensions.setdefault(
        _STATE_KEY, {"last": 0.0, "thread": None, "lock": threading.Lock()})


def maybe_replay_soon(app: Flask) -> threading.Thread | None:
    """Start a background replay when the spool holds files and none ran lately.

    Called after a webhook was stored, i.e. when the database is evidently back.
    ``SPOOL_AUTO_REPLAY=False`` leaves replaying to the worker and the CLI.
    Returns the started thread (tests join it), else None.
    """
    if not app.config["SPOOL_AUTO_REPLAY"]:
        return None
    state = _state(app)
    interval = app.config["SPOOL_REPLAY_INTERVAL"]
    now = time.monotonic()
    with state["lock"]:
        if state["last"] and now - state["last"] < interval:
            return None
        running = state["thread"]
        if running is not None and running.is_alive():
            return None
        state["last"] = now
        if not pending(app):
            return None
        thread = threading.Thread(target=_replay_in_background, args=(app,),
                                  name="spool-replay", daemon=True)
        state["thread"] = thread
    thread.start()
    return thread


def _replay_in_background(app: Flask) -> None:
    with app.app_context():
        report = replay_all(app)
    if report.done or report.kept or report.rejected:
        log.info("spool replay: %d done, %d kept, %d rejected",
                 report.done, report.kept, report.rejected)


def webhook_form() -> ImmutableMultiDict:
    """The checked Twilio form of this request; empty for a JSON webhook (Telegram)."""
    return g.get("twilio_form") or ImmutableMultiDict()


def durable(offline: Callable[[ImmutableMultiDict], Response], *,
            always_answer: bool = False,
            key: Callable[[], Sequence[str]] | None = None) -> Callable:
    """Make a webhook view loss-proof.

    If the view fails for any reason but a deliberate HTTP answer (bad input), the
    request is spooled (under ``key()`` when given, see ``spool_current_request``) and
    ``offline(form)`` answers the provider. If even the spool fails,
    message and callback routes answer 503 (Twilio retries or calls the fallback URL);
    voice routes (``always_answer``) still answer with ``offline``. During a replay
    the failure propagates, so the spool file is kept.
    """

    def decorate(view: Callable[..., Response]) -> Callable[..., Response]:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Response:
            try:
                response = view(*args, **kwargs)
            except HTTPException:
                raise
            except Exception as exc:
                _rollback_quietly()
                if is_replay():
                    if isinstance(exc, NotYetKnown):
                        return Response(status=WAITING_STATUS)
                    raise
                log.warning("webhook %s could not be stored (%s); spooling",
                            request.path, type(exc).__name__)
                try:
                    spool_current_request(key() if key is not None else ())
                except SpoolError:
                    log.error("webhook %s could not be spooled either", request.path)
                    if not always_answer:
                        abort(503, description="temporarily unavailable")
                return offline(webhook_form())
            if not is_replay():
                maybe_replay_soon(current_app._get_current_object())  # type: ignore[attr-defined]
            return response

        return wrapper

    return decorate


def _rollback_quietly() -> None:
    # The connection may be gone; then there is nothing to undo.
    with contextlib.suppress(Exception):
        db.session.rollback()
