"""Error responses: short, plain, never a stack trace; JSON for the API."""

from __future__ import annotations

import logging

from flask import Flask, Response, abort, jsonify, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DataError
from werkzeug.exceptions import BadRequest, HTTPException, InternalServerError

from hotline.auth.redirects import DEFAULT_LANDING, safe_next
from hotline.extensions import db

log = logging.getLogger(__name__)
# Blueprints that check and parse their JSON bodies themselves (webhooks: the sender is
# verified before a byte of the body is parsed).
OWN_JSON_BLUEPRINTS = frozenset({"telegram"})
# Where a refused form gets the styled page with the way back (the public side keeps
# its own short answer: it must stay small and say nothing of the staff side).
STAFF_BLUEPRINTS = frozenset({"dashboard", "reports", "admin", "auth"})


def _wants_json() -> bool:
    return request.path.startswith("/api/")


def _respond(status: int, reason: str) -> Response:
    if _wants_json():
        response = jsonify({"error": reason})
    else:
        response = Response(reason + "\n", mimetype="text/plain")
    response.status_code = status
    return response


def expired_form_page() -> tuple[str, int]:
    """The styled page of a refused staff form (expired session or CSRF token).

    It names the way back: the case the form belonged to (its draft is kept in the
    browser, static/staff.js) and the sign-in page with that case as ``next``.
    """
    reference = (request.view_args or {}).get("reference")
    back = (url_for("dashboard.case_page", reference=reference) if reference
            else safe_next(request.path if request.method == "GET" else None)
            or DEFAULT_LANDING)
    return render_template("errors/expired_form.html", back=back,
                           login=url_for("auth.login", next=back)), 400


def register(app: Flask) -> None:
    """Install the error handlers on ``app``."""

    @app.before_request
    def _json_must_be_an_object() -> None:
        # Flask-WTF reads a JSON body as form data and crashes on anything but an object
        # (a bare string, number or list): refuse it here as bad input, not a 500. The
        # Telegram webhook reads its body itself, after checking the secret, with its own
        # size limit.
        if request.is_json and request.blueprint not in OWN_JSON_BLUEPRINTS:
            data = request.get_json(silent=True)
            if data is not None and not isinstance(data, dict):
                abort(400, description="The request body must be a JSON object.")

    @app.errorhandler(DataError)
    @app.errorhandler(OverflowError)
    def _data_error(error: Exception) -> ResponseReturnValue | HTTPException:
        # The database refused a number the request carried (PostgreSQL: beyond the
        # column's range; SQLite's driver: beyond 64 bits, as OverflowError): bad input,
        # answered as a 400 by the blueprint's own 400 handler where it has one (the
        # voice webhooks answer TwiML).
        db.session.rollback()
        log.warning("out-of-range value refused on %s %s: %s", request.method,
                    request.url_rule, type(error).__name__)
        return app.handle_http_exception(BadRequest("A value in the request is out of range."))

    @app.errorhandler(CSRFError)
    def _csrf(error: CSRFError) -> Response | tuple[str, int]:
        if _wants_json() or request.blueprint not in STAFF_BLUEPRINTS:
            return _respond(400, _("The form expired or was not sent from this site. "
                                   "Go back, reload the page and try again."))
        return expired_form_page()

    @app.errorhandler(HTTPException)
    def _http(error: HTTPException) -> Response:
        if isinstance(error, InternalServerError):
            return _internal(error)
        response = _respond(error.code or 500, error.description or error.name)
        if error.code == 405 and error.response is None:
            valid = getattr(error, "valid_methods", None)
            if valid:
                response.headers["Allow"] = ", ".join(valid)
        return response

    @app.errorhandler(InternalServerError)
    def _internal(error: Exception) -> Response:
        original = getattr(error, "original_exception", None) or error
        # Only the exception type: its message could carry caller data.
        log.error("unhandled error on %s %s: %s", request.method, request.url_rule,
                  type(original).__name__)
        return _respond(500, "Internal error")
