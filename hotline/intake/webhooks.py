"""Helpers every webhook front door shares: field checks and the public URL of a route.

A webhook's form is already parsed and signature-checked (``signature.twilio_webhook``)
when these run. ``required`` refuses a missing or malformed field with 400 naming it;
``valid_sid`` is for the voice routes, which must answer with TwiML the caller can hear
instead of refusing. ``public_url`` is the URL a provider calls back (and signs), built
with ``url_for`` so that routes are named once, in their ``@bp.post``.
"""

from __future__ import annotations

import re
from typing import Any

from flask import abort, current_app, has_request_context, request, url_for
from werkzeug.datastructures import ImmutableMultiDict

# Twilio Sids (MessageSid, CallSid, RecordingSid, …): two letters and 32 hex digits
# today; accepted a little wider so a format change at Twilio does not drop messages.
SID_PATTERN = re.compile(r"^[A-Za-z0-9]{2,64}$")
ERROR_CODE_PATTERN = re.compile(r"^[0-9]{1,16}$")


def required(form: ImmutableMultiDict, name: str, pattern: re.Pattern[str] | None = None) -> str:
    """A required form field, or 400 naming it."""
    value = (form.get(name) or "").strip()
    if not value:
        abort(400, description=f"missing {name}")
    if pattern is not None and not pattern.match(value):
        abort(400, description=f"malformed {name}")
    return value


def valid_sid(form: ImmutableMultiDict, name: str) -> str | None:
    """A well-formed Sid field, or None."""
    value = (form.get(name) or "").strip()
    return value if SID_PATTERN.match(value) else None


def required_sid(form: ImmutableMultiDict, name: str) -> str:
    """A well-formed Sid field, or 400 naming it."""
    value = valid_sid(form, name)
    if value is None:
        abort(400, description=f"missing or malformed {name}")
    return value


def public_url(endpoint: str, **values: Any) -> str:
    """The public URL of the route ``endpoint`` (what a provider calls and signs).

    ``PUBLIC_BASE_URL`` when set (behind a TLS proxy the app cannot see its public
    origin; ``signature.signed_url`` checks against the same), else the request's
    origin. Outside a request (the outbox worker) it needs ``PUBLIC_BASE_URL``.
    """
    base = current_app.config.get("PUBLIC_BASE_URL")
    if has_request_context():
        return (base or request.host_url.rstrip("/")) + url_for(endpoint, **values)
    if not base:
        raise RuntimeError("public_url outside a request needs PUBLIC_BASE_URL")
    return base + current_app.url_map.bind("").build(endpoint, values)
