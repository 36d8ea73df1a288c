"""A fake Twilio HTTP layer for the tests: no test touches the network.

``FakeTwilioHttp`` is a ``twilio.http.HttpClient`` subclass handed to the app through
the ``TWILIO_HTTP_CLIENT`` setting. It records every request, answers message, call and
conference-participant creation and call updates like Twilio's API, and serves
recordings registered in ``media``.
"""

from __future__ import annotations

import json
import logging
import xml.etree.ElementTree as ET
from email.utils import format_datetime
from itertools import count
from urllib.parse import urlencode

import requests
from twilio.http import HttpClient
from twilio.http.response import Response

from hotline.models import utcnow
from tests.conftest import PUBLIC_BASE_URL, sign

TEST_ACCOUNT_SID = "AC" + "0" * 32
# The roster phone of the staff member the call and timeline tests call "Olena K.".
ROSTER_PHONE = "+380501112233"
# A failure that Twilio accepts the message and then the answer times out.
ACCEPTED_THEN_TIMEOUT = "accepted-then-timeout"


class FakeTwilioHttp(HttpClient):
    """Answers like Twilio; ``failures`` is a list of statuses, (status, Twilio error code)
    pairs or exceptions to give first."""

    def __init__(self, failures: list | None = None) -> None:
        super().__init__(logging.getLogger("tests.fake_twilio"), is_async=False)
        self.requests: list[dict] = []
        self.failures = list(failures or [])
        self.media: dict[str, tuple[int, bytes, dict]] = {}
        self.messages: list[dict] = []  # what Twilio has, newest last (its Messages list)
        self._sids = count(1)

    def request(self, method, uri, params=None, data=None, headers=None, auth=None,
                timeout=None, allow_redirects=False):
        self.requests.append({"method": method, "uri": uri, "data": dict(data or {}),
                              "auth": auth, "allow_redirects": allow_redirects})
        if uri in self.media:
            status, content, media_headers = self.media[uri]
            return Response(status, content, media_headers)
        if method == "GET" and uri.endswith("/Messages.json"):
            return self._list(params or {})
        if self.failures:
            failure = self.failures.pop(0)
            if failure == ACCEPTED_THEN_TIMEOUT:
                self._create_message(data or {})
                raise requests.ReadTimeout("read timed out")
            if isinstance(failure, Exception):
                raise failure
            status, code = failure if isinstance(failure, tuple) else (
                failure, 20500 if failure >= 500 else 21211)
            return Response(status, json.dumps({"code": code, "message": "refused",
                                                "status": status}))
        if uri.endswith("/Calls.json") or uri.endswith("/Participants.json"):
            call_sid = f"CA{next(self._sids):032d}"
            return Response(201, json.dumps({"sid": call_sid, "call_sid": call_sid,
                                             "status": "queued"}))
        if "/Calls/" in uri:
            return Response(200, json.dumps({"sid": uri.rsplit("/", 1)[-1][:-5],
                                             "status": (data or {}).get("Status", "in-progress")}))
        return Response(201, json.dumps(self._create_message(data or {})))

    def _create_message(self, data: dict) -> dict:
        sid = f"SM{next(self._sids):032d}"
        message = {"sid": sid, "status": "queued", "to": data.get("To"),
                   "from": data.get("From"), "body": data.get("Body"),
                   "date_created": format_datetime(utcnow())}
        self.messages.append(message)
        return message

    def _list(self, params: dict) -> Response:
        found = [m for m in reversed(self.messages)
                 if m["to"] == params.get("To", m["to"])
                 and m["from"] == params.get("From", m["from"])]
        return Response(200, json.dumps({
            "messages": found, "first_page_uri": "/", "next_page_uri": None, "page": 0,
            "page_size": 50, "previous_page_uri": None, "start": 0, "end": len(found),
            "uri": "/"}))

    def calls(self) -> list[dict]:
        """The requests to the Calls and Conference Participants APIs, in order."""
        return [r for r in self.requests
                if "/Calls" in r["uri"] or r["uri"].endswith("/Participants.json")]

    @property
    def sent(self) -> list[dict]:
        """The message-creation requests, in order."""
        return [r for r in self.requests
                if r["uri"].endswith("/Messages.json") and r["method"] == "POST"]


def signed_headers(path: str, params: dict, query: str = "") -> dict:
    """Headers of a correctly signed webhook POST to ``path``."""
    url = PUBLIC_BASE_URL + path + (f"?{query}" if query else "")
    return {"X-Twilio-Signature": sign(url, params),
            "Content-Type": "application/x-www-form-urlencoded"}


def post_signed(client, path: str, params: dict, query: str = ""):
    """POST ``params`` to ``path`` (with an optional raw query string), signed."""
    target = path + (f"?{query}" if query else "")
    return client.post(target, data=urlencode(params),
                       headers=signed_headers(path, params, query))


def parse_twiml(text: str) -> ET.Element:
    """Parse a TwiML answer of our own app (trusted test data)."""
    return ET.fromstring(text)  # noqa: S314


def twilio_app(make_app, fake: FakeTwilioHttp, **config: object):
    """An app with Twilio configured against ``fake`` (plus ``config``)."""
    return make_app(TWILIO_ACCOUNT_SID=TEST_ACCOUNT_SID, TWILIO_HTTP_CLIENT=fake, **config)


def olena_on_roster(make_user, **extra: object):
    """Olena K., staff on the roster with a phone, speaking Russian and Ukrainian."""
    return make_user("staff", display_name="Olena K.", phone=ROSTER_PHONE, languages="ru,uk",
                     **extra)
