"""No cookie session for the signed webhooks (Twilio, Telegram).

Providers send no cookies and nothing a webhook does reads or writes the session, yet
Flask opens (builds a signing serializer, parses the cookie header) and saves one on
every request. For paths under a ``WEBHOOK_PREFIX`` the session is Flask's read-only
null session instead: an empty mapping to read, an error on any write, nothing saved
and no ``Vary: Cookie`` on the answer. Every other route keeps the signed cookie session.
"""

from __future__ import annotations

from flask import Flask, Request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface

WEBHOOK_PREFIX = ("/twilio/", "/telegram/")


class WebhookAwareSessionInterface(SecureCookieSessionInterface):
    """Flask's signed cookie session, skipped for the webhooks."""

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        """The cookie session, or None (Flask then uses its null session) for a webhook."""
        if request.path.startswith(WEBHOOK_PREFIX):
            return None
        return super().open_session(app, request)
