"""Fixtures for browser tests: the app served on a local port, headless Chromium, and
screenshots.

Chromium comes from Debian's package (``/usr/bin/chromium``); when it is missing the
tests fail rather than skip, because CI must not pass without them.

Screenshots are always taken (so that code path stays exercised) but land in the test's
``tmp_path``; only with ``HOTLINE_UPDATE_SCREENSHOTS=1`` do they replace the README
images in ``docs/screenshots/``, so a plain test run leaves the git tree clean.
"""

from __future__ import annotations

import os
import struct
import threading
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from werkzeug.serving import make_server

# Debian's Chromium; ``make test`` installs it when missing (scripts/system-packages.sh)
# and passes its path on in CHROMIUM.
CHROMIUM = os.environ.get("CHROMIUM") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
]
SCREENSHOTS = Path(__file__).resolve().parent.parent / "docs" / "screenshots"
UPDATE_SCREENSHOTS_ENV = "HOTLINE_UPDATE_SCREENSHOTS"
# Anything smaller is a blank or broken image.
MIN_SCREENSHOT_BYTES = 5_000


def png(width: int = 2, height: int = 2) -> bytes:
    """A small real PNG (a caller's photo in a test): pages must show it from their origin."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    rows = b"".join(b"\x00" + b"\xcc\x22\x2e" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def screenshot_dir(tmp_path: Path) -> Path:
    """Where screenshots go in this run: docs/screenshots/ only when asked to update."""
    if os.environ.get(UPDATE_SCREENSHOTS_ENV) == "1":
        return SCREENSHOTS
    return tmp_path / "screenshots"


@pytest.fixture
def live_server(app) -> Iterator[str]:
    """Serve ``app`` on 127.0.0.1 in a background thread; yields the base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)


@pytest.fixture(scope="session")
def chromium() -> Iterator:
    """A headless Chromium driven by Playwright; fails loudly when Chromium is absent."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run make test (it installs Debian's chromium) "
                    "or apt-get install chromium")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(chromium) -> Iterator:
    """A fresh browser context and page; the context is closed after the test."""
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture
def screenshot(tmp_path: Path) -> Callable[..., Path]:
    """``screenshot(page, "queue.png")``: a full-page PNG (see the module docstring);
    returns its path."""
    target = screenshot_dir(tmp_path)

    def take(page, name: str, *, full_page: bool = True) -> Path:
        target.mkdir(parents=True, exist_ok=True)
        path = target / name
        page.screenshot(path=str(path), full_page=full_page)
        assert path.stat().st_size > MIN_SCREENSHOT_BYTES, f"{name} looks empty"
        return path

    return take


def signed_in_context(chromium, app, user, base_url: str):
    """A browser context signed in as ``user`` (the session cookie of a test client)."""
    from tests.conftest import login_as  # (conftest loads this module as a plugin)

    client = app.test_client()
    login_as(client, user)
    cookie = client.get_cookie(app.config.get("SESSION_COOKIE_NAME", "session"))
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": base_url}])
    return context
