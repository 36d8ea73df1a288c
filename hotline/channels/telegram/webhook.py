"""``POST /telegram/webhook``: the Telegram front door of the intake service.

In order, before anything is stored:

1. no ``TELEGRAM_BOT_TOKEN`` → 404 (the channel is off; nothing else changes);
2. the ``X-Telegram-Bot-Api-Secret-Token`` header is compared with
   ``TELEGRAM_WEBHOOK_SECRET`` in constant time: missing or wrong → 403, and only the
   refusal is logged;
3. the body is read strictly (``updates.parse_update``): too large, not UTF-8 JSON, not
   an object, a missing or malformed field → 400 with a short reason, never a 500;
4. group, channel and bot chats, service messages and update types Hotline does not
   handle → 200, nothing stored (a non-2xx answer would make Telegram retry for hours).

A private-chat message is then taken in (``intake.take_in``), idempotent on the update,
and answered 200 with an empty body. While the database is down the raw update is spooled
(encrypted, named by its ``update_id``) and answered 200; the spool replays it through
this same view. A replay skips the secret check: the spool file is authenticated by the
field cipher and was written only after the check passed (the secret is not kept in it, so
rotating the secret does not strand spooled updates).
"""

from __future__ import annotations

import hmac
import logging

from flask import Blueprint, Response, abort, current_app, request
from werkzeug.exceptions import RequestEntityTooLarge

from hotline.channels.telegram.intake import take_in
from hotline.channels.telegram.updates import BadUpdate, Ignored, IncomingMessage, parse_update
from hotline.intake.service import IntakeError
from hotline.intake.spool import durable, is_replay
from hotline.logging_setup import log_event

bp = Blueprint("telegram", __name__, url_prefix="/telegram")
log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header name
# Telegram's updates are a few kilobytes; a long text with its entities and the message
# it replies to stays far below this. Larger bodies are refused before they are read.
MAX_UPDATE_BYTES = 1024 * 1024


def secret_is_valid() -> bool:
    """True when the request carries the configured webhook secret (constant time)."""
    secret = current_app.config.get("TELEGRAM_WEBHOOK_SECRET") or ""
    given = request.headers.get(SECRET_HEADER, "")
    if not secret or not given:
        return False
    return hmac.compare_digest(given.encode("utf-8", "replace"), secret.encode("utf-8"))


def _ok(_form: object = None) -> Response:
    """What Telegram gets for every update it may stop sending: 200, empty."""
    return Response("", status=200, mimetype="text/plain")


def _read_body() -> bytes:
    """The raw body, at most ``MAX_UPDATE_BYTES``; 400 beyond that."""
    if (request.content_length or 0) > MAX_UPDATE_BYTES:
        abort(400, description="the body is too large")
    request.max_content_length = MAX_UPDATE_BYTES
    try:
        return request.get_data(cache=True)
    except RequestEntityTooLarge:
        abort(400, description="the body is too large")


@bp.post("/webhook")
def webhook() -> Response:
    """Take in one Telegram update (see the module docstring)."""
    if not current_app.config.get("TELEGRAM_BOT_TOKEN"):
        abort(404)
    if not is_replay() and not secret_is_valid():
        log_event(log, "telegram.refused", logging.WARNING, reason="secret")
        abort(403, description="invalid or missing secret token")
    raw = _read_body()
    try:
        update = parse_update(raw)
    except BadUpdate as exc:
        abort(400, description=str(exc))
    if isinstance(update, Ignored):
        log_event(log, "telegram.ignored", reason=update.reason)
        return _ok()
    return _store(update)


def _store(message: IncomingMessage) -> Response:
    """Take the message in, loss-proof: spooled under its update id when that fails."""

    @durable(offline=_ok, key=lambda: [f"u{message.update_id}"])
    def store() -> Response:
        try:
            take_in(message)
        except IntakeError as exc:
            abort(400, description=str(exc))
        return _ok()

    return store()
