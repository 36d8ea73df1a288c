"""A caller's attachment opened for staff, whichever channel brought it.

A message's meta lists its files (``cases.timeline.Media``); ``MEDIA_SOURCES`` there says
which key names each file where it lives. Here each source has its opener, and every
opener answers alike: a ``recordings.Fetched`` stream, or a ``RecordingError`` /
``LookupError`` the dashboard's media route turns into 404 / 413 / 502. Adding a source
is one entry in ``MEDIA_SOURCES`` and one opener in ``OPENERS``.
"""

from __future__ import annotations

from collections.abc import Callable

from hotline.cases.timeline import attachments
from hotline.channels.telegram import api as telegram_api
from hotline.channels.telegram import files as telegram_files
from hotline.messaging import recordings
from hotline.messaging.recordings import Fetched, MediaTooLarge, RecordingUnavailable
from hotline.models import Interaction

HTTP_TOO_LARGE = 413


def _telegram(interaction: Interaction, n: int) -> Fetched:
    """A Telegram file through getFile and the file host (the token stays on the server)."""
    try:
        download = telegram_files.open_attachment(interaction.meta or {}, n)
    except telegram_api.TelegramRefused as exc:
        if exc.error_code == HTTP_TOO_LARGE:
            raise MediaTooLarge("the attachment is larger than the limit") from None
        raise RecordingUnavailable("Telegram no longer has the file") from None
    return Fetched(download.chunks, download.content_type or telegram_files.DEFAULT_CONTENT_TYPE,
                   download.length)


OPENERS: dict[str, Callable[[Interaction, int], Fetched]] = {
    "twilio": recordings.open_media,
    "telegram": _telegram,
}


def open_attachment(interaction: Interaction, n: int) -> Fetched:
    """Stream attachment ``n`` of a caller's message from where its channel keeps it."""
    if interaction.kind != "message_in":
        raise RecordingUnavailable("not a message")
    listed = {item.n: item for item in attachments(interaction.meta or {})}
    if n not in listed:
        raise RecordingUnavailable("the message has no such attachment")
    return OPENERS[listed[n].source](interaction, n)
