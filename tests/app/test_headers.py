"""Security headers on every page, and the session cookie's flags."""

from __future__ import annotations

import pytest
from flask import Flask, session

from hotline.security_headers import NO_STORE_PREFIXES

REQUIRED = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


def _argless_get_routes(app: Flask) -> list[str]:
    """Every GET route without URL arguments (static excluded), from the live url_map."""
    return sorted({rule.rule for rule in app.url_map.iter_rules()
                   if "GET" in (rule.methods or ()) and not rule.arguments
                   and rule.endpoint != "static"})


def _assert_headers(response, path: str) -> None:
    for name, value in REQUIRED.items():
        assert response.headers.get(name) == value, (path, name)
    csp = response.headers.get("Content-Security-Policy", "")
    for directive in ("default-src 'self'", "frame-ancestors 'none'", "object-src 'none'",
                      "base-uri 'none'", "form-action 'self'"):
        assert directive in csp, (path, directive)
    assert "http:" not in csp and "https:" not in csp and "*" not in csp  # no foreign hosts
    if path.startswith(NO_STORE_PREFIXES):
        assert response.headers.get("Cache-Control") == "no-store", path


def test_every_page_carries_the_headers(app, client) -> None:
    paths = _argless_get_routes(app) + ["/no-such-page", "/api/v1/cases"]
    assert "/healthz" in paths
    for path in paths:
        _assert_headers(client.get(path), path)
    posted = client.post("/twilio/sms", data={"Body": "x"})
    assert posted.status_code == 403
    _assert_headers(posted, "/twilio/sms")
    assert posted.headers["Cache-Control"] == "no-store"


def test_hsts_only_in_production(make_app) -> None:
    dev = make_app().test_client().get("/healthz")
    assert "Strict-Transport-Security" not in dev.headers
    prod = make_app(HOTLINE_ENV="production").test_client().get("/healthz")
    assert prod.headers["Strict-Transport-Security"].startswith("max-age=")
    assert int(prod.headers["Strict-Transport-Security"].split("=")[1]) >= 31536000


def _cookie_app(make_app, **overrides) -> Flask:
    app = make_app(**overrides)

    @app.get("/_test/session")
    def _set_session() -> str:
        session["probe"] = 1
        return "ok"

    return app


@pytest.mark.parametrize("production", [False, True])
def test_session_cookie_flags(make_app, production: bool) -> None:
    overrides = {"HOTLINE_ENV": "production"} if production else {}
    response = _cookie_app(make_app, **overrides).test_client().get("/_test/session")
    cookie = response.headers["Set-Cookie"]
    attributes = {part.strip().split("=")[0].lower(): part.strip()
                  for part in cookie.split(";")[1:]}
    assert "httponly" in attributes
    assert attributes["samesite"].split("=")[1] in ("Lax", "Strict")
    assert ("secure" in attributes) is production
