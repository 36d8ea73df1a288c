"""Voicemail playback and message media: streamed through the app, never linked.

Staff never get Twilio's recording or media URL. ``open_recording`` (a voicemail's
audio) and ``open_media`` (an attachment of an inbound MMS or WhatsApp message) fetch
with the account credentials through the Twilio HTTP layer (``TWILIO_HTTP_CLIENT`` or
twilio's own ``TwilioHttpClient``) and only from Twilio's hosts
(``TWILIO_MEDIA_HOSTS``): every URL, redirects included, must be https on an
allowed host. With twilio's requests-based client the body is streamed in chunks;
any other ``HttpClient`` returns the whole body at once. Media is capped at
``MAX_MEDIA_BYTES``: a larger declared length is refused before anything is sent on, and
a stream that runs past the cap is cut there.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from flask import current_app
from twilio.http import HttpClient
from twilio.http.http_client import TwilioHttpClient

from hotline.cases.timeline import attachments
from hotline.models import Interaction
from hotline.twilio_client import TwilioNotConfigured, is_configured

CHUNK_BYTES = 64 * 1024
MAX_REDIRECTS = 3
FETCH_TIMEOUT_SECONDS = 30
DEFAULT_CONTENT_TYPE = "audio/mpeg"
MEDIA_CONTENT_TYPE = "application/octet-stream"
# Twilio accepts MMS media up to 5 MB and WhatsApp documents up to 100 MB; staff get 20 MB.
MAX_MEDIA_BYTES = 20 * 1024 * 1024


class RecordingError(RuntimeError):
    """The recording cannot be played."""


class RecordingNotConfigured(RecordingError, TwilioNotConfigured):
    """Twilio credentials are missing, so the recording cannot be fetched."""


class ForeignRecordingHost(RecordingError):
    """The recording URL (or a redirect) points outside Twilio's hosts."""


class RecordingUnavailable(RecordingError):
    """The interaction has no recording, or Twilio did not return it."""


class MediaTooLarge(RecordingError):
    """The attachment is larger than ``MAX_MEDIA_BYTES``."""


@dataclass
class Fetched:
    """An open download: its chunks, its content type, its declared length if any."""

    chunks: Iterable[bytes]
    content_type: str
    length: int | None = None


def allowed_hosts() -> tuple[str, ...]:
    """Hosts recordings may be fetched from (``TWILIO_MEDIA_HOSTS`` setting)."""
    hosts = current_app.config["TWILIO_MEDIA_HOSTS"]
    if isinstance(hosts, str):
        hosts = [h.strip() for h in hosts.split(",")]
    return tuple(h.lower() for h in hosts if h)


def check_url(url: str) -> str:
    """``url`` if it is https on an allowed host; ForeignRecordingHost otherwise."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme != "https" or host not in allowed_hosts() or parts.username:
        raise ForeignRecordingHost("recordings are fetched only from Twilio's hosts")
    return url


def recording_url(interaction: Interaction) -> str:
    """The URL to fetch (MP3) for a voicemail interaction."""
    if interaction.kind != "voicemail":
        raise RecordingUnavailable("not a voicemail")
    url = (interaction.meta or {}).get("recording_url")
    if not url:
        raise RecordingUnavailable("the voicemail has no recording")
    check_url(url)
    last = urlsplit(url).path.rsplit("/", 1)[-1]
    return url if "." in last else url + ".mp3"


def open_recording(interaction: Interaction) -> tuple[Iterable[bytes], str]:
    """Stream a voicemail's audio: (chunks, content type). Raises RecordingError."""
    fetched = fetch(recording_url(interaction))
    content_type = fetched.content_type
    return fetched.chunks, (content_type if content_type.startswith("audio/")
                            else DEFAULT_CONTENT_TYPE)


def media_url(interaction: Interaction, n: int) -> str:
    """The URL of attachment ``n`` of an inbound message (checked against the hosts)."""
    if interaction.kind != "message_in":
        raise RecordingUnavailable("not a message")
    listed = {item.n: item for item in attachments(interaction.meta or {})}
    if n not in listed or listed[n].source != "twilio":
        raise RecordingUnavailable("the message has no such attachment")
    return check_url(interaction.meta["media"][n]["url"])


def open_media(interaction: Interaction, n: int) -> Fetched:
    """Stream attachment ``n`` of a message, at most ``MAX_MEDIA_BYTES``; RecordingError."""
    return fetch(media_url(interaction, n), max_bytes=MAX_MEDIA_BYTES)


def fetch(url: str, *, max_bytes: int | None = None) -> Fetched:
    """Open ``url`` (on an allowed host) with the account credentials; RecordingError."""
    if not is_configured():
        raise RecordingNotConfigured("Twilio is not configured")
    check_url(url)
    cfg = current_app.config
    auth = (cfg["TWILIO_ACCOUNT_SID"], cfg["TWILIO_AUTH_TOKEN"])
    client: HttpClient = cfg.get("TWILIO_HTTP_CLIENT") or TwilioHttpClient(
        timeout=FETCH_TIMEOUT_SECONDS)
    if isinstance(client, TwilioHttpClient) and client.session is not None:
        return _stream_with_requests(client, url, auth, max_bytes)
    return _fetch_whole(client, url, auth, max_bytes)


def _redirect_target(url: str, status: int, headers) -> str | None:
    if status in (301, 302, 303, 307, 308) and headers and headers.get("Location"):
        return check_url(urljoin(url, headers["Location"]))
    return None


def _fetch_whole(client: HttpClient, url: str, auth: tuple[str, str] | None,
                 max_bytes: int | None) -> Fetched:
    for _ in range(MAX_REDIRECTS + 1):
        response = client.request("GET", url, auth=auth, timeout=FETCH_TIMEOUT_SECONDS,
                                  allow_redirects=False)
        target = _redirect_target(url, response.status_code, response.headers)
        if target is None:
            break
        # Credentials go only to the API host Twilio signed URLs for.
        auth = auth if urlsplit(target).hostname == urlsplit(url).hostname else None
        url = target
    else:
        raise RecordingUnavailable("too many redirects")
    if response.status_code != 200:
        raise RecordingUnavailable(f"Twilio answered {response.status_code}")
    body = response.content
    data = body.encode("latin-1") if isinstance(body, str) else bytes(body or b"")
    if max_bytes is not None and len(data) > max_bytes:
        raise MediaTooLarge("the attachment is larger than the limit")
    return Fetched([data], _content_type(response.headers), len(data))


def _stream_with_requests(client: TwilioHttpClient, url: str, auth: tuple[str, str] | None,
                          max_bytes: int | None) -> Fetched:
    session = client.session
    for _ in range(MAX_REDIRECTS + 1):
        response = session.get(url, auth=auth, stream=True, allow_redirects=False,
                               timeout=FETCH_TIMEOUT_SECONDS)
        target = _redirect_target(url, response.status_code, response.headers)
        if target is None:
            break
        response.close()
        auth = auth if urlsplit(target).hostname == urlsplit(url).hostname else None
        url = target
    else:
        raise RecordingUnavailable("too many redirects")
    if response.status_code != 200:
        response.close()
        raise RecordingUnavailable(f"Twilio answered {response.status_code}")

    length = _length(response.headers)
    if max_bytes is not None and length is not None and length > max_bytes:
        response.close()
        raise MediaTooLarge("the attachment is larger than the limit")

    def chunks() -> Iterator[bytes]:
        sent = 0
        try:
            for chunk in response.iter_content(CHUNK_BYTES):
                sent += len(chunk)
                if max_bytes is not None and sent > max_bytes:
                    return  # cut at the cap: Twilio's declared length was wrong
                yield chunk
        finally:
            response.close()

    return Fetched(chunks(), _content_type(response.headers), length)


def _length(headers) -> int | None:
    raw = str((headers or {}).get("Content-Length") or "")
    return int(raw) if raw.isascii() and raw.isdigit() else None


def _content_type(headers) -> str:
    """The media type Twilio declared (parameters dropped), or a neutral default."""
    value = str((headers or {}).get("Content-Type") or "").split(";")[0].strip().lower()
    major, _, minor = value.partition("/")
    if not (major.isascii() and minor and all(ch.isalnum() or ch in "-+." for ch in
                                                   major + minor)):
        return MEDIA_CONTENT_TYPE
    return value
