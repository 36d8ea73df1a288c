"""Voicemail playback: the recording is streamed through the app, never linked.

Staff never get Twilio's recording URL. ``open_recording`` fetches the audio with
the account credentials through the Twilio HTTP layer (``TWILIO_HTTP_CLIENT`` or
twilio's own ``TwilioHttpClient``) and only from Twilio's hosts
(``TWILIO_MEDIA_HOSTS``): every URL, redirects included, must be https on an
allowed host. With twilio's requests-based client the body is streamed in chunks;
any other ``HttpClient`` returns the whole body at once.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from urllib.parse import urljoin, urlsplit

from flask import current_app
from twilio.http import HttpClient
from twilio.http.http_client import TwilioHttpClient

from hotline.models import Interaction
from hotline.twilio_client import TwilioNotConfigured, is_configured

CHUNK_BYTES = 64 * 1024
MAX_REDIRECTS = 3
FETCH_TIMEOUT_SECONDS = 30
DEFAULT_CONTENT_TYPE = "audio/mpeg"


class RecordingError(RuntimeError):
    """The recording cannot be played."""


class RecordingNotConfigured(RecordingError, TwilioNotConfigured):
    """Twilio credentials are missing, so the recording cannot be fetched."""


class ForeignRecordingHost(RecordingError):
    """The recording URL (or a redirect) points outside Twilio's hosts."""


class RecordingUnavailable(RecordingError):
    """The interaction has no recording, or Twilio did not return it."""


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
    if not is_configured():
        raise RecordingNotConfigured("Twilio is not configured")
    url = recording_url(interaction)
    cfg = current_app.config
    auth = (cfg["TWILIO_ACCOUNT_SID"], cfg["TWILIO_AUTH_TOKEN"])
    client: HttpClient = cfg.get("TWILIO_HTTP_CLIENT") or TwilioHttpClient(
        timeout=FETCH_TIMEOUT_SECONDS)
    if isinstance(client, TwilioHttpClient) and client.session is not None:
        return _stream_with_requests(client, url, auth)
    return _fetch_whole(client, url, auth)


def _redirect_target(url: str, status: int, headers) -> str | None:  # noqa: ANN001
    if status in (301, 302, 303, 307, 308) and headers and headers.get("Location"):
        return check_url(urljoin(url, headers["Location"]))
    return None


def _fetch_whole(client: HttpClient, url: str,
                 auth: tuple[str, str] | None) -> tuple[Iterable[bytes], str]:
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
    return [data], _content_type(response.headers)


def _stream_with_requests(client: TwilioHttpClient, url: str,
                          auth: tuple[str, str] | None) -> tuple[Iterable[bytes], str]:
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

    def chunks() -> Iterator[bytes]:
        try:
            yield from response.iter_content(CHUNK_BYTES)
        finally:
            response.close()

    return chunks(), _content_type(response.headers)


def _content_type(headers) -> str:  # noqa: ANN001
    value = (headers or {}).get("Content-Type") or DEFAULT_CONTENT_TYPE
    return value if value.startswith("audio/") else DEFAULT_CONTENT_TYPE
