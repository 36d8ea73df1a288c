"""Running the outbox outside the request: a worker loop and a development thread.

``run`` is the loop behind ``flask outbox work``: send what is due, replay the
intake spool when it holds files, then sleep until woken or ``POLL_SECONDS`` pass.
In development (``OUTBOX_BACKGROUND_THREAD``) the same loop runs in a daemon thread
started with the first request; a commit that queued a message wakes it at once.
"""

from __future__ import annotations

import logging
import threading

from flask import Flask, current_app
from sqlalchemy import event
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from hotline.channels.twilio import dialer
from hotline.extensions import db
from hotline.intake import spool
from hotline.messaging.outbox import OUTBOX_WAKE_KEY, OutboxReport, work_once

log = logging.getLogger(__name__)

# A staff member who pressed Call back (or 1) waits for the next pass in production,
# where the worker is its own process: one second. A pass costs two indexed queries.
POLL_SECONDS = 1.0
_THREAD_KEY = "hotline_outbox_thread"
_STOP_KEY = "hotline_outbox_stop"
_THREAD_LOCK = threading.Lock()


def _wake_event(app: Flask) -> threading.Event:
    return app.extensions.setdefault(OUTBOX_WAKE_KEY, threading.Event())


def run_pass(app: Flask) -> OutboxReport:
    """One pass: replay the spool if it holds files, place the line's calls, then send
    what is due."""
    if spool.pending(app):
        spool.replay_all(app)
    try:
        dialer.work_once()  # first: a staff member is waiting for their phone to ring
        return work_once()
    except SQLAlchemyError as exc:
        db.session.rollback()
        log.warning("outbox pass failed (%s); will retry", type(exc).__name__)
        return OutboxReport()
    finally:
        db.session.remove()


def run(app: Flask, *, once: bool = False, stop: threading.Event | None = None,
        poll_seconds: float = POLL_SECONDS) -> OutboxReport:
    """Send queued messages until ``stop`` is set; with ``once``, drain and return."""
    total = OutboxReport()
    wake = _wake_event(app)
    stop = stop or threading.Event()
    while not stop.is_set():
        with app.app_context():
            report = run_pass(app)
        for name in ("sent", "retrying", "failed", "not_sent", "interrupted"):
            setattr(total, name, getattr(total, name) + getattr(report, name))
        if once:
            if report.handled == 0:
                return total
            continue
        wake.wait(poll_seconds)
        wake.clear()
    return total


def _after_commit(session: Session) -> None:
    if session.info.pop(OUTBOX_WAKE_KEY, False):
        try:
            app = current_app._get_current_object()  # type: ignore[attr-defined]
        except RuntimeError:
            return
        _wake_event(app).set()


def _after_rollback(session: Session) -> None:
    session.info.pop(OUTBOX_WAKE_KEY, None)


def install(app: Flask) -> None:
    """Hook the wake-up on commit and, if configured, the development thread."""
    if not event.contains(Session, "after_commit", _after_commit):
        event.listen(Session, "after_commit", _after_commit)
        event.listen(Session, "after_soft_rollback", _after_rollback_soft)
    _wake_event(app)
    if app.config.get("OUTBOX_BACKGROUND_THREAD") and not app.config.get("TESTING"):

        def ensure_thread() -> None:
            # A before_request hook must return None, or Flask takes it as the response.
            start_background_thread(app)

        app.before_request(ensure_thread)


def _after_rollback_soft(session: Session, previous_transaction) -> None:
    if previous_transaction.parent is None:
        _after_rollback(session)


def start_background_thread(app: Flask) -> threading.Thread:
    """Start the outbox loop in a daemon thread once per app; returns it."""
    with _THREAD_LOCK:
        existing = app.extensions.get(_THREAD_KEY)
        if existing is not None and existing.is_alive():
            return existing
        stop = threading.Event()
        thread = threading.Thread(target=run, args=(app,), kwargs={"stop": stop},
                                  name="outbox", daemon=True)
        app.extensions[_THREAD_KEY] = thread
        app.extensions[_STOP_KEY] = stop
        thread.start()
        return thread


def stop_background_thread(app: Flask, timeout: float = 10.0) -> None:
    """Stop the development thread of ``app`` (if any) and wait for it."""
    stop = app.extensions.get(_STOP_KEY)
    thread = app.extensions.get(_THREAD_KEY)
    if stop is None or thread is None:
        return
    stop.set()
    _wake_event(app).set()
    thread.join(timeout)
