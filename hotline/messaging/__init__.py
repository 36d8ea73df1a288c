"""Outbound messaging: the outbox, its worker, delivery status and voicemail playback."""

from __future__ import annotations

from flask import Flask

from hotline.messaging import worker


def init_app(app: Flask) -> None:
    """Wake the outbox worker on commits that queued a message; in development
    (``OUTBOX_BACKGROUND_THREAD``) start the worker thread with the first request."""
    worker.install(app)
