"""``make run``'s console: the address to open, one readable line per request, JSON in
production without escape codes, and ``simulate`` sending to the port the server uses."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from config import RUN_PORT_FILE, ConfigError, load_config
from hotline.logging_setup import (
    DevServerRequestFilter,
    HumanFormatter,
    JsonFormatter,
    scrub,
)
from tests.conftest import ENCRYPTION_KEY, INDEX_KEY, ROOT, TEST_AUTH_TOKEN

NUMBER = "+79161234567"
VISITOR_IP = "203.0.113.77"
ESC = "\x1b"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _serve(tmp_path: Path, port: int, **env: str) -> subprocess.Popen[str]:
    """``flask run`` as make run starts it, on a fresh instance folder and database."""
    instance = tmp_path / "instance"
    environment = {
        **os.environ, "PORT": str(port), "SECRET_KEY": "console-test",
        "HOTLINE_ENCRYPTION_KEYS": ENCRYPTION_KEY, "HOTLINE_INDEX_KEY": INDEX_KEY,
        "TWILIO_AUTH_TOKEN": TEST_AUTH_TOKEN, "DATABASE_URL": f"sqlite:///{tmp_path}/c.db",
        "OUTBOX_BACKGROUND_THREAD": "0", **env,
    }
    app = f"hotline:create_app({{'INSTANCE_PATH': {str(instance)!r}}})"
    flask = str(Path(sys.executable).with_name("flask"))
    return subprocess.Popen(
        [flask, "--app", app, "run", "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True)


def _requests_then_output(server: subprocess.Popen[str], port: int, paths: list[str]) -> str:
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while True:
        try:
            urllib.request.urlopen(base + "/healthz", timeout=2).close()  # noqa: S310
            break
        except OSError:
            if time.monotonic() > deadline or server.poll() is not None:
                server.kill()
                raise AssertionError("the dev server did not start:\n" +
                                     (server.communicate()[0] or "")) from None
            time.sleep(0.2)
    for path in paths:
        with contextlib.suppress(OSError):  # a 404 is a line too
            urllib.request.urlopen(base + path, timeout=5).close()  # noqa: S310
    server.terminate()
    return server.communicate(timeout=10)[0]


def test_development_console_is_readable(tmp_path: Path) -> None:
    port = _free_port()
    output = _requests_then_output(_serve(tmp_path, port), port,
                                   ["/?from=" + NUMBER[1:], "/no-such-page"])
    assert f"Running on http://127.0.0.1:{port}" in output  # the address to open, plainly
    request_lines = [line for line in output.splitlines() if " ms" in line]
    assert any(line.endswith("ms") and "  GET / 200 " in line for line in request_lines)
    assert any("GET (no route) 404" in line for line in request_lines)
    # One line per request: the dev server's own request line is left out.
    assert not any('"GET / HTTP/1.1"' in line for line in output.splitlines())
    assert NUMBER[1:] not in output and ESC not in output
    assert not any(line.startswith("{") for line in output.splitlines())  # no JSON here


def test_json_console_has_one_object_per_line(tmp_path: Path) -> None:
    port = _free_port()
    output = _requests_then_output(_serve(tmp_path, port, LOG_FORMAT="json"), port, ["/"])
    objects = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    requests = [o for o in objects if o["event"] == "http.request" and o["route"] == "/"]
    assert requests and requests[0]["status"] == 200 and ESC not in output


def test_escape_codes_never_reach_a_line_and_loopback_stays() -> None:
    record = logging.LogRecord("werkzeug", logging.INFO, __file__, 1,
                               f"\x1b[1m * Running on http://127.0.0.1:5050\x1b[0m from "
                               f"{VISITOR_IP}", (), None)
    for formatter in (JsonFormatter(), HumanFormatter()):
        line = formatter.format(record)
        assert ESC not in line and "\\u001b" not in line
        assert "http://127.0.0.1:5050" in line and VISITOR_IP not in line
    assert scrub("10.1.2.3 and 0.0.0.0 and 127.0.0.1") == "[redacted] and 0.0.0.0 and 127.0.0.1"


def test_human_request_line_and_dev_server_duplicate() -> None:
    record = logging.LogRecord("hotline.request", logging.INFO, __file__, 1, "http.request",
                               (), None)
    record.fields = {"method": "POST", "route": "/twilio/sms", "status": 200, "ms": 4.2}
    line = HumanFormatter().format(record)
    assert line.endswith("  POST /twilio/sms 200 4.2 ms") and line[2] == ":"
    werkzeug = logging.LogRecord("werkzeug", logging.INFO, __file__, 1,
                                 '- - - [01/Jan/2030 00:00:00] "%s" %s %s',
                                 ("GET / HTTP/1.1", "200", "-"), None)
    assert not DevServerRequestFilter().filter(werkzeug)
    assert DevServerRequestFilter().filter(record)


def test_log_format_and_port_settings(tmp_path: Path) -> None:
    env = {"SECRET_KEY": "x"}
    assert load_config(environ=env, instance_path=tmp_path)["LOG_FORMAT"] == "human"
    assert load_config(environ={**env, "LOG_FORMAT": "JSON"},
                       instance_path=tmp_path)["LOG_FORMAT"] == "json"
    with pytest.raises(ConfigError, match="LOG_FORMAT"):
        load_config(environ={**env, "LOG_FORMAT": "xml"}, instance_path=tmp_path)
    assert load_config(environ=env, instance_path=tmp_path)["PORT"] == 5000
    (tmp_path / RUN_PORT_FILE).write_text("5050\n")  # what make run PORT=5050 leaves
    assert load_config(environ=env, instance_path=tmp_path)["PORT"] == 5050
    assert load_config(environ={**env, "PORT": "6060"}, instance_path=tmp_path)["PORT"] == 6060
    with pytest.raises(ConfigError, match="PORT"):
        load_config(environ={**env, "PORT": "70000"}, instance_path=tmp_path)


def test_simulate_defaults_to_the_configured_port(app, live_server) -> None:
    app.config["PORT"] = int(live_server.rsplit(":", 1)[1])
    result = app.test_cli_runner().invoke(args=[
        "simulate", "sms", "--from", "+380501234567", "--body", "Допоможіть"])
    assert result.exit_code == 0, result.output
    assert "POST /twilio/sms -> 200" in result.output


def test_make_run_serves_on_port_and_records_it() -> None:
    dry = subprocess.run(["make", "-n", "run", "PORT=5050"], cwd=ROOT, capture_output=True,
                         text=True, timeout=30, check=True).stdout
    assert "--port 5050" in dry and "echo 5050 > instance/run-port" in dry
    assert "http://127.0.0.1:5050/login" in dry
    default = subprocess.run(["make", "-n", "run"], cwd=ROOT, capture_output=True,
                             text=True, timeout=30, check=True, env={
                                 k: v for k, v in os.environ.items() if k != "PORT"}).stdout
    assert "--port 5000" in default
