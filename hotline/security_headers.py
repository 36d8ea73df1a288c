"""Security headers, set in one place for every response."""

from __future__ import annotations

from flask import Flask, Response, request

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; media-src 'self'; style-src 'self'; "
    "script-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "object-src 'none'"
)
# Staff and API responses hold case data: never cached anywhere.
NO_STORE_PREFIXES = ("/dashboard", "/reports", "/admin", "/api", "/login", "/followup",
                     "/account", "/auth")


def register(app: Flask) -> None:
    """Add the after-request hook that sets the headers."""

    @app.after_request
    def _headers(response: Response) -> Response:
        headers = response.headers
        headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", "no-referrer")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        if app.config.get("HOTLINE_ENV") == "production":
            headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        if request.path.startswith(NO_STORE_PREFIXES) or request.method == "POST":
            headers["Cache-Control"] = "no-store"
            headers["Pragma"] = "no-cache"
        return response
