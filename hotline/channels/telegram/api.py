"""Calls to the Telegram Bot API (``TELEGRAM_API_BASE``, default api.telegram.org).

One small synchronous client over ``requests``: ``call(method, params)`` posts JSON to
``<base>/bot<token>/<method>`` and returns Telegram's ``result``, or raises:

- ``TelegramRefused``: Telegram answered ``ok: false`` (or an HTTP error) with an
  ``error_code``, its ``description`` and, for 429, ``retry_after``; the request was
  received and refused, so nothing was done;
- ``TelegramUnreached``: the connection could not be made, so Telegram got nothing and
  the call may be tried again;
- ``TelegramUnknown``: the request may have reached Telegram (a read timeout, a
  connection lost mid-answer, an answer that is not JSON). For ``sendMessage`` that
  means the message may have been delivered: the outbox never sends it again by itself.

The bot token is part of every URL, so no exception text from ``requests`` (which quotes
the URL) is ever kept or logged: errors carry only Telegram's own code and description.
Downloads (``open_file``) stream from ``<base>/file/bot<token>/<file_path>``: the same
host, nothing else.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import requests
from flask import current_app

CONNECT_TIMEOUT_SECONDS = 5
READ_TIMEOUT_SECONDS = 20
CHUNK_BYTES = 64 * 1024
MAX_DESCRIPTION = 200
# What getFile may return as a path: Telegram's are like ``photos/file_12.jpg``.
FILE_PATH = re.compile(r"^(?!.*\.\.)[A-Za-z0-9_][A-Za-z0-9_./-]{0,255}$")


class TelegramError(RuntimeError):
    """A Bot API call did not succeed."""


class TelegramNotConfigured(TelegramError):
    """``TELEGRAM_BOT_TOKEN`` is not set."""


class TelegramUnreached(TelegramError):
    """Telegram was not reached: nothing was sent, the call may be repeated."""


class TelegramUnknown(TelegramError):
    """The request may have reached Telegram; its outcome is unknown."""


class TelegramRefused(TelegramError):
    """Telegram refused the call (``ok: false``)."""

    def __init__(self, error_code: int, description: str, retry_after: float | None = None
                 ) -> None:
        super().__init__(f"Telegram error {error_code}: {description}")
        self.error_code = error_code
        self.description = description
        self.retry_after = retry_after


def is_configured() -> bool:
    """True when the channel is on (a bot token is set)."""
    return bool(current_app.config.get("TELEGRAM_BOT_TOKEN"))


def _token() -> str:
    token = current_app.config.get("TELEGRAM_BOT_TOKEN")
    if not token:
        raise TelegramNotConfigured("TELEGRAM_BOT_TOKEN is not set")
    return token


def _base() -> str:
    return str(current_app.config["TELEGRAM_API_BASE"]).rstrip("/")


def _session() -> requests.Session:
    """The HTTP session (``TELEGRAM_HTTP_SESSION`` lets a test hand in its own)."""
    return current_app.config.get("TELEGRAM_HTTP_SESSION") or requests.Session()


def call(method: str, params: dict[str, Any] | None = None) -> Any:
    """Call one Bot API method with JSON ``params``; its ``result`` (see module docstring)."""
    url = f"{_base()}/bot{_token()}/{method}"
    try:
        response = _session().post(url, json=params or {},
                                   timeout=(CONNECT_TIMEOUT_SECONDS, READ_TIMEOUT_SECONDS))
    except (requests.exceptions.ConnectTimeout, requests.exceptions.InvalidURL) as exc:
        raise TelegramUnreached(type(exc).__name__) from None
    except requests.exceptions.ConnectionError as exc:
        # A refused or unresolvable connection sent nothing; one lost mid-way may have.
        if _before_sending(exc):
            raise TelegramUnreached(type(exc).__name__) from None
        raise TelegramUnknown(type(exc).__name__) from None
    except requests.exceptions.RequestException as exc:  # read timeout and the like
        raise TelegramUnknown(type(exc).__name__) from None
    return _result(response)


def _before_sending(exc: requests.exceptions.ConnectionError) -> bool:
    """True when urllib3 failed while connecting (so no byte of the request left)."""
    from urllib3.exceptions import NameResolutionError, NewConnectionError

    reason = exc.args[0] if exc.args else None
    inner = getattr(reason, "reason", reason)
    return isinstance(inner, NewConnectionError | NameResolutionError)


def _result(response: requests.Response) -> Any:
    try:
        answer = response.json()
    except ValueError:
        answer = None
    if not isinstance(answer, dict):
        if response.status_code >= 500 or response.status_code == 200:
            raise TelegramUnknown(f"HTTP {response.status_code} without a Bot API answer")
        raise TelegramRefused(response.status_code, f"HTTP {response.status_code}")
    if answer.get("ok") is True:
        return answer.get("result")
    code = answer.get("error_code")
    code = code if isinstance(code, int) else response.status_code
    description = str(answer.get("description") or f"HTTP {response.status_code}")
    parameters = answer.get("parameters")
    wait = parameters.get("retry_after") if isinstance(parameters, dict) else None
    retry_after = float(wait) if isinstance(wait, int | float) else None
    raise TelegramRefused(code, _clean(description), retry_after)


def _clean(description: str) -> str:
    """Telegram's description, short and on one line (it names no caller data)."""
    return " ".join(description.split())[:MAX_DESCRIPTION]


@dataclass
class Download:
    """An open file download: its chunks, declared media type and length."""

    chunks: Iterator[bytes]
    content_type: str | None
    length: int | None


def file_path(file_id: str) -> tuple[str, int | None]:
    """``getFile``: the file's path on Telegram's server and its size; TelegramError."""
    result = call("getFile", {"file_id": file_id})
    path = result.get("file_path") if isinstance(result, dict) else None
    if not isinstance(path, str) or not FILE_PATH.match(path):
        raise TelegramRefused(404, "the file is not available")
    size = result.get("file_size")
    return path, size if isinstance(size, int) and not isinstance(size, bool) else None


def open_file(path: str, max_bytes: int) -> Download:
    """Stream a file from Telegram's file host (the API base), cut at ``max_bytes``."""
    if not FILE_PATH.match(path):
        raise TelegramRefused(404, "the file is not available")
    url = f"{_base()}/file/bot{_token()}/{path}"
    try:
        response = _session().get(url, stream=True, allow_redirects=False,
                                  timeout=(CONNECT_TIMEOUT_SECONDS, READ_TIMEOUT_SECONDS))
    except requests.exceptions.RequestException as exc:
        raise TelegramUnreached(type(exc).__name__) from None
    if response.status_code != 200:
        response.close()
        raise TelegramRefused(response.status_code, f"HTTP {response.status_code}")
    raw_length = str(response.headers.get("Content-Length") or "")
    length = int(raw_length) if raw_length.isascii() and raw_length.isdigit() else None
    if length is not None and length > max_bytes:
        response.close()
        raise TelegramRefused(413, "the file is larger than the limit")

    def chunks() -> Iterator[bytes]:
        sent = 0
        try:
            for chunk in response.iter_content(CHUNK_BYTES):
                sent += len(chunk)
                if sent > max_bytes:
                    return
                yield chunk
        finally:
            response.close()

    content_type = (response.headers.get("Content-Type") or "").split(";")[0].strip() or None
    return Download(chunks(), content_type, length)
