"""Voicemail playback streams through the app, only from Twilio's hosts."""

from __future__ import annotations

import io

import pytest
import requests
from requests.adapters import BaseAdapter
from twilio.http.http_client import TwilioHttpClient

from hotline.messaging.recordings import (
    ForeignRecordingHost,
    RecordingError,
    RecordingNotConfigured,
    RecordingUnavailable,
    open_recording,
)
from hotline.models import Interaction
from hotline.twilio_client import TwilioNotConfigured
from tests.conftest import TEST_AUTH_TOKEN
from tests.twilio_fakes import TEST_ACCOUNT_SID, FakeTwilioHttp

URL = f"https://api.twilio.com/2010-04-01/Accounts/{TEST_ACCOUNT_SID}/Recordings/RE1"
AUDIO = bytes(range(256)) * 10  # not text: must come through byte for byte


def voicemail(url: str = URL) -> Interaction:
    return Interaction(kind="voicemail", channel="voice", external_id="RE1",
                       meta={"recording_url": url, "duration": 5})


@pytest.fixture
def fake() -> FakeTwilioHttp:
    fake = FakeTwilioHttp()
    fake.media[URL + ".mp3"] = (200, AUDIO, {"Content-Type": "audio/mpeg"})
    return fake


@pytest.fixture
def configured(make_app, fake):
    app = make_app(TWILIO_ACCOUNT_SID=TEST_ACCOUNT_SID, TWILIO_HTTP_CLIENT=fake)
    with app.app_context():
        yield app


def test_recording_is_fetched_with_account_credentials(configured, fake):
    chunks, content_type = open_recording(voicemail())
    assert b"".join(chunks) == AUDIO and content_type == "audio/mpeg"
    [request] = fake.requests
    assert request["uri"] == URL + ".mp3" and request["method"] == "GET"
    assert request["auth"] == (TEST_ACCOUNT_SID, TEST_AUTH_TOKEN)
    assert request["allow_redirects"] is False


@pytest.mark.parametrize("url", [
    "https://evil.example.org/Recordings/RE1",
    "http://api.twilio.com/2010-04-01/Recordings/RE1",
    "https://api.twilio.com.evil.example.org/RE1",
    "https://user:pw@api.twilio.com/RE1",
])
def test_foreign_hosts_are_refused_before_any_request(configured, fake, url):
    with pytest.raises(ForeignRecordingHost):
        open_recording(voicemail(url))
    assert fake.requests == []


def test_redirect_off_twilio_is_refused(configured, fake):
    fake.media[URL + ".mp3"] = (302, b"", {"Location": "https://evil.example.org/a.mp3"})
    with pytest.raises(ForeignRecordingHost):
        open_recording(voicemail())


def test_redirect_within_allowed_hosts_is_followed_without_credentials(make_app, fake):
    fake.media[URL + ".mp3"] = (302, b"", {"Location": "https://media.twiliocdn.com/a.mp3"})
    fake.media["https://media.twiliocdn.com/a.mp3"] = (200, AUDIO, {"Content-Type": "audio/mpeg"})
    app = make_app(TWILIO_ACCOUNT_SID=TEST_ACCOUNT_SID, TWILIO_HTTP_CLIENT=fake,
                   TWILIO_MEDIA_HOSTS=["api.twilio.com", "media.twiliocdn.com"])
    with app.app_context():
        chunks, _ = open_recording(voicemail())
        assert b"".join(chunks) == AUDIO
    assert fake.requests[1]["auth"] is None


def test_not_configured_is_a_typed_error(app):
    with app.app_context(), pytest.raises(RecordingNotConfigured) as caught:
        open_recording(voicemail())
    assert isinstance(caught.value, TwilioNotConfigured)


def test_missing_recording_and_twilio_errors(configured, fake):
    with pytest.raises(RecordingUnavailable):
        open_recording(Interaction(kind="call", meta={}))
    with pytest.raises(RecordingUnavailable):
        open_recording(Interaction(kind="voicemail", meta={}))
    fake.media[URL + ".mp3"] = (404, b"", {})
    with pytest.raises(RecordingError):
        open_recording(voicemail())


class _Adapter(BaseAdapter):
    """A requests transport answering with audio, so the streaming path runs offline."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[requests.PreparedRequest] = []

    def send(self, request, stream=False, **kwargs):
        self.seen.append(request)
        response = requests.Response()
        response.status_code = 200
        response.headers["Content-Type"] = "audio/x-wav"
        response.raw = io.BytesIO(AUDIO)
        response.url = request.url
        response.request = request
        return response

    def close(self) -> None:
        pass


def test_twilio_http_client_streams_in_chunks(make_app):
    client = TwilioHttpClient()
    adapter = _Adapter()
    client.session.mount("https://", adapter)
    app = make_app(TWILIO_ACCOUNT_SID=TEST_ACCOUNT_SID, TWILIO_HTTP_CLIENT=client)
    with app.app_context():
        chunks, content_type = open_recording(voicemail())
        assert content_type == "audio/x-wav"
        assert b"".join(chunks) == AUDIO
    assert adapter.seen[0].url == URL + ".mp3"
    assert adapter.seen[0].headers["Authorization"].startswith("Basic ")
