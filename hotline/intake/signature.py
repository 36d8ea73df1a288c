"""Checking that a webhook really comes from Twilio.

``twilio_webhook`` wraps a view: it parses the raw form strictly (invalid encodings
are refused with 400 before anything else reads them), then checks
``X-Twilio-Signature`` with twilio's ``RequestValidator`` against the URL Twilio
called: ``PUBLIC_BASE_URL`` + path + raw query string when that is set (behind a
TLS proxy the app cannot see the public URL), else the request URL.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

from flask import abort, current_app, g, request
from twilio.request_validator import RequestValidator, get_signature_algorithm
from werkzeug.datastructures import ImmutableMultiDict

SIGNATURE_HEADER = "X-Twilio-Signature"
SETTINGS_HEADER = "X-Twilio-Webhooks-Signature-Settings"


class BadForm(ValueError):
    """The request body is not a well-formed UTF-8 form."""


def parse_form(raw: bytes) -> ImmutableMultiDict:
    """Parse a form-encoded body strictly: ASCII on the wire, UTF-8 inside, no NULs."""
    try:
        text = raw.decode("ascii")
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=False,
                          encoding="utf-8", errors="strict")
    except UnicodeDecodeError as exc:
        raise BadForm("the body is not valid UTF-8 form data") from exc
    for key, value in pairs:
        if "\x00" in key or "\x00" in value:
            raise BadForm("the body contains NUL characters")
    return ImmutableMultiDict(pairs)


def parse_form_leniently(raw: bytes) -> ImmutableMultiDict:
    """Parse a body that ``parse_form`` refused, only so that its signature can be checked."""
    text = raw.decode("latin-1")
    return ImmutableMultiDict(parse_qsl(text, keep_blank_values=True, encoding="utf-8",
                                        errors="replace"))


def signed_url() -> str:
    """The URL Twilio signed for this request."""
    base = current_app.config.get("PUBLIC_BASE_URL")
    if base:
        url = base + request.script_root + request.path
    else:
        url = request.host_url.rstrip("/") + request.script_root + request.path
    query = request.query_string.decode("latin-1")
    return f"{url}?{query}" if query else url


def signature_is_valid(form: ImmutableMultiDict) -> bool:
    """True when the request carries a valid Twilio signature for ``form``."""
    token = current_app.config.get("TWILIO_AUTH_TOKEN")
    signature = request.headers.get(SIGNATURE_HEADER, "")
    if not token or not signature:
        return False
    algorithm = get_signature_algorithm(request.headers.get(SETTINGS_HEADER, ""))
    return RequestValidator(token).validate(signed_url(), form, signature, algorithm=algorithm)


def twilio_form() -> ImmutableMultiDict:
    """The strictly parsed form of the current (already checked) webhook request."""
    return g.twilio_form


def twilio_webhook(view: Callable[..., Any]) -> Callable[..., Any]:
    """Refuse unsigned or malformed webhook requests before ``view`` runs.

    A missing or wrong signature → 403, checked first, even on a body that cannot be
    parsed; a signed body with an invalid encoding → 400. Nothing is stored in either
    case. The parsed form is available through ``twilio_form()``.
    """

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        checking = current_app.config["TWILIO_VALIDATE_SIGNATURES"]
        raw = request.get_data(cache=True)
        try:
            form = parse_form(raw)
        except BadForm as exc:
            if checking and not signature_is_valid(parse_form_leniently(raw)):
                abort(403, description="invalid or missing Twilio signature")
            abort(400, description=str(exc))
        if checking and not signature_is_valid(form):
            abort(403, description="invalid or missing Twilio signature")
        g.twilio_form = form
        return view(*args, **kwargs)

    return wrapper
