"""Telegram attachments, opened by staff through the server.

A message's meta lists its files by ``file_id`` only (``intake.message_meta``). Nothing is
downloaded when the message arrives: when a staff member opens attachment ``n``, the
server asks ``getFile`` for its path and streams it from ``TELEGRAM_API_BASE``'s file
host (the bot token never reaches the browser), capped at ``MAX_FILE_BYTES`` (the Bot
API's own download limit). The dashboard's media route audits every view.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hotline.channels.telegram import api
from hotline.channels.telegram.intake import FILE_SOURCE

# The Bot API lets bots download files up to 20 MB.
MAX_FILE_BYTES = 20 * 1024 * 1024
DEFAULT_CONTENT_TYPE = "application/octet-stream"


class FileUnavailable(LookupError):
    """The message has no such Telegram file, or Telegram no longer has it."""


def telegram_file(meta: Mapping[str, Any], n: int) -> Mapping[str, Any]:
    """Entry ``n`` of a message's attachments when it is a Telegram file."""
    media = meta.get("media") or []
    if not 0 <= n < len(media):
        raise FileUnavailable("no such attachment")
    item = media[n]
    if not isinstance(item, dict) or item.get("source") != FILE_SOURCE or not isinstance(
            item.get("file_id"), str):
        raise FileUnavailable("not a Telegram file")
    return item


def open_attachment(meta: Mapping[str, Any], n: int) -> api.Download:
    """Stream attachment ``n``: ``getFile`` then the download; FileUnavailable or
    ``api.TelegramError`` (not reached, refused) otherwise."""
    item = telegram_file(meta, n)
    try:
        path, size = api.file_path(item["file_id"])
    except api.TelegramRefused as exc:
        raise FileUnavailable(exc.description) from None
    if size is not None and size > MAX_FILE_BYTES:
        raise FileUnavailable("the file is larger than the limit")
    download = api.open_file(path, MAX_FILE_BYTES)
    declared = str(item.get("content_type") or "") or download.content_type
    download.content_type = declared or DEFAULT_CONTENT_TYPE
    return download
