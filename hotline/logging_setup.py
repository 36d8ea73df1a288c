"""Structured, data-free log lines for operators.

In production every log line goes to stderr as one JSON object: time, level, logger,
event name, the request id, and the event's fields. In development (``LOG_FORMAT``
defaults to ``human`` there) the same records are one short readable line each, and a
request is one line: time, method, route, status, milliseconds (the dev server's own
request line, which would say it a second time, is left out). Events are named (``intake.received``,
``http.request``, ``retention.purged`` …) and carry only references and counts, never
caller numbers, message text, receipts, passwords, TOTP codes or visitor IPs.

Third-party loggers that would otherwise write such data are tamed here, in one place:

- ``werkzeug`` (the development server) writes the client address and the full
  request line: the address is replaced by ``-`` and the query string dropped;
- ``flask-limiter`` writes the rate-limit key, which is the client address: masked;
- ``twilio.http_client`` writes request URLs and query parameters at INFO (a message
  list filtered by ``To`` would carry a number): only its warnings pass;
- ``urllib3.connectionpool`` at DEBUG writes every request line, and a Telegram Bot API
  path carries the bot token (``/bot<token>/sendMessage``): the token is masked;
- ``sqlalchemy.engine.Engine`` at DEBUG writes every result row *after* decryption
  (``EncryptedText`` runs first): row lines are dropped. Statement parameters are
  hidden by the engine option ``hide_parameters`` (hotline/database.py);
- exceptions are rendered as their type and the frames' file:line only, because an
  exception's message may quote data.

A last-line scrubber in both formatters replaces anything shaped like an E.164 number, a
Telegram bot token or an IP address, in case a future log call slips; loopback addresses
(``127.0.0.0/8``, ``0.0.0.0``) are nobody's personal data and stay, so the dev server's "Running on
http://127.0.0.1:5000" is readable. Terminal colour codes (werkzeug adds them on a
terminal) are removed, so no escape sequence ends up inside a JSON line.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
import traceback
import uuid
from datetime import UTC, datetime
from typing import Any

from flask import Flask, Response, g, has_request_context, request

REQUEST_ID_HEADER = "X-Request-ID"
REQUEST_EVENT = "http.request"
# A proxy-supplied request id is kept only when it looks like one (never user text).
REQUEST_ID_PATTERN = re.compile(r"^[A-Za-z0-9-]{8,64}$")
APP_LOGGER = "hotline"

_E164 = re.compile(r"(?:whatsapp:)?\+\d{6,15}")
# A Telegram bot token as it appears in Bot API URLs (``/bot123456:AA…/``).
_BOT_TOKEN = re.compile(r"\d{1,20}:[A-Za-z0-9_-]{20,}")
_IPV4 = re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}\b")
_NOT_PERSONAL_IPV4 = re.compile(r"^(?:127\.\d{1,3}\.\d{1,3}\.\d{1,3}|0\.0\.0\.0)$")
# A colour code, raw or as json.dumps writes it.
_ANSI = re.compile(r"(?:\x1b|\\u001b)\[[0-9;]*[A-Za-z]")
_IPV6 = re.compile(r"\b(?:[0-9A-Fa-f]{1,4}:){2,7}[0-9A-Fa-f]{1,4}\b")
_WERKZEUG_LINE = re.compile(r"^\S+ - - \[")
_QUERY = re.compile(r"\?[^ \"]*")
REDACTED = "[redacted]"
_MARK = "_hotline_filter"


def _ipv4(match: re.Match[str]) -> str:
    return match.group(0) if _NOT_PERSONAL_IPV4.match(match.group(0)) else REDACTED


def scrub(text: str) -> str:
    """Replace anything shaped like a phone number or a (non-loopback) IP address, and
    drop terminal colour codes."""
    text = _ANSI.sub("", text)
    text = _BOT_TOKEN.sub(REDACTED, text)
    text = _E164.sub(REDACTED, text)
    text = _IPV4.sub(_ipv4, text)
    return _IPV6.sub(REDACTED, text)


def log_event(logger: logging.Logger, event: str, level: int = logging.INFO,
              **fields: Any) -> None:
    """Log a named event with fields (references, counts, statuses; never content)."""
    logger.log(level, event, extra={"fields": fields})


class JsonFormatter(logging.Formatter):
    """One JSON object per line; exceptions as type and frame locations only."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None)
        if request_id:
            entry["request_id"] = request_id
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            entry.update({k: v for k, v in fields.items() if k not in entry})
        if record.exc_info and record.exc_info[1] is not None:
            entry["error"] = describe_exception(record.exc_info[1])
        return scrub(json.dumps(entry, ensure_ascii=False, default=str))


class HumanFormatter(logging.Formatter):
    """One readable line per record for a developer's terminal (same scrubbing as JSON).

    ``18:40:01  GET /dashboard/ 200 12.3 ms`` for a request (the route pattern, never the
    path a visitor typed), ``18:40:02  info  hotline.intake  intake.received channel=sms``
    for an event.
    """

    def format(self, record: logging.LogRecord) -> str:
        when = datetime.fromtimestamp(record.created).strftime("%H:%M:%S")
        fields = getattr(record, "fields", None)
        fields = fields if isinstance(fields, dict) else {}
        message = record.getMessage()
        if message == REQUEST_EVENT:
            line = (f"{fields.get('method')} {fields.get('route') or '(no route)'} "
                    f"{fields.get('status')} {fields.get('ms')} ms")
        else:
            extra = " ".join(f"{key}={value}" for key, value in fields.items())
            line = f"{record.levelname.lower():<7} {record.name}  {message} {extra}"
        if record.exc_info and record.exc_info[1] is not None:
            line += "  error=" + describe_exception(record.exc_info[1])
        # The time stays out of the scrubber: "18:40:01" is shaped like an IPv6 address.
        return f"{when}  {scrub(line.rstrip())}"


class DevServerRequestFilter(logging.Filter):
    """Leaves out the dev server's request lines: ``http.request`` already tells them."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.name == "werkzeug" and isinstance(record.msg, str)
                    and _WERKZEUG_LINE.match(record.msg) is not None)


FORMATTERS: dict[str, type[logging.Formatter]] = {"human": HumanFormatter, "json": JsonFormatter}


def describe_exception(exc: BaseException) -> str:
    """``Type at file:line <- file:line …``: where it happened, never what it said."""
    frames = traceback.extract_tb(exc.__traceback__)[-6:]
    where = " <- ".join(f"{f.filename.rsplit('/', 1)[-1]}:{f.lineno}" for f in reversed(frames))
    return f"{type(exc).__name__} at {where}" if where else type(exc).__name__


class RequestIdFilter(logging.Filter):
    """Adds the current request id (if any) to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if has_request_context():
            record.request_id = g.get("request_id")
        return True


class WerkzeugFilter(logging.Filter):
    """Drops the client address and query string from the dev server's request lines."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str) and _WERKZEUG_LINE.match(record.msg):
            record.msg = _WERKZEUG_LINE.sub("- - - [", record.msg, count=1)
            if record.args and isinstance(record.args, tuple):
                record.args = tuple(_QUERY.sub("", a) if isinstance(a, str) else a
                                    for a in record.args)
        mask_bot_token(record)
        return True


class BotTokenFilter(logging.Filter):
    """Masks Telegram bot tokens in request lines (urllib3's, a local fake API's)."""

    def filter(self, record: logging.LogRecord) -> bool:
        mask_bot_token(record)
        return True


def mask_bot_token(record: logging.LogRecord) -> None:
    """Replace a bot token in the record's message (the rendered one, args folded in)."""
    try:
        message = record.getMessage()
    except (TypeError, ValueError):
        return
    if _BOT_TOKEN.search(message):
        record.msg, record.args = _BOT_TOKEN.sub(REDACTED, message), None


class LimiterFilter(logging.Filter):
    """Masks the rate-limit key (the client address) in Flask-Limiter's lines."""

    def filter(self, record: logging.LogRecord) -> bool:
        if (isinstance(record.msg, str) and record.msg.startswith("ratelimit")
                and isinstance(record.args, tuple) and len(record.args) == 3):
            record.args = (record.args[0], "-", record.args[2])
        return True


class SqlRowFilter(logging.Filter):
    """Drops SQLAlchemy's DEBUG ``Row …`` lines, which show decrypted values."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (isinstance(record.msg, str) and record.msg.startswith("Row "))


class WarningsOnlyFilter(logging.Filter):
    """Lets only warnings and errors through (for chatty loggers that print data)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING


THIRD_PARTY_FILTERS: dict[str, type[logging.Filter]] = {
    "werkzeug": WerkzeugFilter,
    "flask-limiter": LimiterFilter,
    "twilio.http_client": WarningsOnlyFilter,
    "urllib3.connectionpool": BotTokenFilter,
    "sqlalchemy.engine.Engine": SqlRowFilter,
}


def _install_once(logger: logging.Logger, flt: logging.Filter) -> None:
    if not any(getattr(existing, _MARK, None) == type(flt).__name__
               for existing in logger.filters):
        setattr(flt, _MARK, type(flt).__name__)
        logger.addFilter(flt)


def _install_handler(log_format: str) -> None:
    root = logging.getLogger()
    handler = next((h for h in root.handlers if getattr(h, _MARK, None) == "handler"), None)
    if handler is None:
        handler = logging.StreamHandler(sys.stderr)
        handler.setLevel(logging.INFO)
        handler.addFilter(RequestIdFilter())
        setattr(handler, _MARK, "handler")
        root.addHandler(handler)
    handler.setFormatter(FORMATTERS[log_format]())
    for existing in list(handler.filters):
        if isinstance(existing, DevServerRequestFilter):
            handler.removeFilter(existing)
    if log_format == "human":
        handler.addFilter(DevServerRequestFilter())


def configure_logging(app: Flask) -> None:
    """Install the handler (``LOG_FORMAT``: human or JSON), the third-party filters and
    the request-id hooks.

    Idempotent: several apps in one process (tests) share one handler; the last app
    configured chooses its format.
    """
    for name, filter_class in THIRD_PARTY_FILTERS.items():
        _install_once(logging.getLogger(name), filter_class())
    app_logger = logging.getLogger(APP_LOGGER)
    if app_logger.level == logging.NOTSET:
        app_logger.setLevel(logging.INFO)
    _install_handler(app.config.get("LOG_FORMAT") or "json")
    request_log = logging.getLogger("hotline.request")

    @app.before_request
    def _start() -> None:
        incoming = request.headers.get(REQUEST_ID_HEADER, "")
        g.request_id = incoming if REQUEST_ID_PATTERN.match(incoming) else uuid.uuid4().hex
        g.request_started = time.monotonic()

    @app.after_request
    def _finish(response: Response) -> Response:
        request_id = g.get("request_id")
        if request_id:
            response.headers[REQUEST_ID_HEADER] = request_id
        started = g.get("request_started")
        # The route pattern, not the path: a path can carry whatever a visitor typed.
        log_event(request_log, REQUEST_EVENT, method=request.method,
                  route=request.url_rule.rule if request.url_rule else None,
                  status=response.status_code,
                  ms=round((time.monotonic() - started) * 1000, 1) if started else None)
        return response
