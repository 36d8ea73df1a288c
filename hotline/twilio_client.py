"""The Twilio REST client, built from the app's settings.

Tests (and anyone who needs another transport) hand in an HTTP layer through the
``TWILIO_HTTP_CLIENT`` setting: an instance of a ``twilio.http.HttpClient`` subclass.
No module-level client: every call builds one from the current app.
"""

from __future__ import annotations

from flask import current_app
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client


class TwilioNotConfigured(RuntimeError):
    """TWILIO_ACCOUNT_SID / TWILIO_AUTH_TOKEN are not set."""


def is_configured() -> bool:
    """True when outbound Twilio calls can be made."""
    cfg = current_app.config
    return bool(cfg.get("TWILIO_ACCOUNT_SID") and cfg.get("TWILIO_AUTH_TOKEN"))


def twilio_client(timeout: float | None = None) -> Client:
    """A REST client for the configured account; raises TwilioNotConfigured otherwise.

    ``timeout`` (seconds) bounds each request (the line's calls must not hang a worker).
    """
    if not is_configured():
        raise TwilioNotConfigured("Twilio is not configured")
    cfg = current_app.config
    http_client = cfg.get("TWILIO_HTTP_CLIENT")
    if http_client is None and timeout is not None:
        http_client = TwilioHttpClient(timeout=timeout)
    return Client(cfg["TWILIO_ACCOUNT_SID"], cfg["TWILIO_AUTH_TOKEN"], http_client=http_client)
