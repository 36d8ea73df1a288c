"""Telegram test fixtures: an app with the channel on, pointed at a local fake Bot API.

The fake is pytest-httpserver: a real HTTP server on 127.0.0.1 that answers only the
requests a test declares and records every request made, so tests assert the exact
calls (method, path with the token, JSON body) the app sends to Telegram.
"""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response
from werkzeug.serving import make_server

BOT_TOKEN = "123456789:AAtestTokenForHotline_0123456789abcdef"
SECRET = "test-webhook-secret_0123456789"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
CHAT_ID = 424242424
WEBHOOK = "/telegram/webhook"


@pytest.fixture
def fake_api(httpserver: HTTPServer) -> HTTPServer:
    """The fake Bot API (cleared after each test)."""
    return httpserver


def api_base(server: HTTPServer) -> str:
    return server.url_for("").rstrip("/")


@pytest.fixture
def tg_app(make_app, fake_api: HTTPServer) -> Flask:
    """The app with Telegram on (token, secret, the fake API)."""
    return make_app(TELEGRAM_BOT_TOKEN=BOT_TOKEN, TELEGRAM_WEBHOOK_SECRET=SECRET,
                    TELEGRAM_API_BASE=api_base(fake_api))


@pytest.fixture
def tg_client(tg_app: Flask) -> FlaskClient:
    return tg_app.test_client()


def message(update_id: int, text: str | None = "Здравствуйте", *, chat_id: int = CHAT_ID,
            message_id: int | None = None, language_code: str | None = None,
            key: str = "message", chat_type: str = "private", is_bot: bool = False,
            **extra: Any) -> dict[str, Any]:
    """An update carrying one message, as Telegram sends it."""
    sender: dict[str, Any] = {"id": chat_id, "is_bot": is_bot, "first_name": "Иван",
                              "username": "ivan_secret_name"}
    if language_code:
        sender["language_code"] = language_code
    body: dict[str, Any] = {"message_id": message_id or update_id % 100000 + 1,
                            "date": 1767225600, "from": sender,
                            "chat": {"id": chat_id, "type": chat_type, "first_name": "Иван"},
                            **extra}
    if text is not None:
        body["text"] = text
    return {"update_id": update_id, key: body}


def post_update(client: FlaskClient, update: Any, *, secret: str | None = SECRET,
                raw: bytes | None = None):
    """POST an update (JSON, or ``raw`` bytes) with the secret header (None: no header)."""
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers[SECRET_HEADER] = secret
    data = raw if raw is not None else json.dumps(update).encode()
    return client.post(WEBHOOK, data=data, headers=headers)


def sent_requests(server: HTTPServer, method: str = "sendMessage") -> list[dict[str, Any]]:
    """The JSON bodies of every call of ``method`` the fake API received, in order."""
    return [json.loads(request.get_data()) for request, _response in server.log
            if request.path == f"/bot{BOT_TOKEN}/{method}"]


def expect_send(server: HTTPServer, *, status: int = 200,
                answer: dict[str, Any] | None = None, message_id: int = 77) -> None:
    """Make the fake answer ``sendMessage`` for the rest of the test: ``answer`` as given,
    or success with message ids counting up from ``message_id`` like Telegram's."""
    if answer is not None:
        server.expect_request(f"/bot{BOT_TOKEN}/sendMessage", method="POST"
                              ).respond_with_json(answer, status=status)
        return
    ids = itertools.count(message_id)

    def sent(request: Request) -> Response:
        chat = request.get_json()["chat_id"]
        return Response(json.dumps({"ok": True, "result": {
            "message_id": next(ids), "date": 1767225700,
            "chat": {"id": chat, "type": "private"}}}), content_type="application/json")

    server.expect_request(f"/bot{BOT_TOKEN}/sendMessage", method="POST"
                          ).respond_with_handler(sent)


@pytest.fixture
def tg_live_server(tg_app: Flask) -> Iterator[str]:
    """Serve the Telegram app on 127.0.0.1 (a free port); yields its base URL."""
    server = make_server("127.0.0.1", 0, tg_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)
