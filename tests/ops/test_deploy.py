"""The deployment files, run for real: ``deploy/nginx/hotline.conf`` in front of gunicorn
started as ``deploy/systemd/hotline.service`` starts it, with the settings of
``deploy/hotline.env.example``; and every systemd unit through ``systemd-analyze verify``.

Only what must differ on a test machine is substituted: the certificate paths (a
self-signed certificate made here with ``cryptography``), the ports (free ones on
loopback), the log paths, and the paths of the code and its virtualenv. nginx must be
installed (Debian's ``nginx``; ``make test`` installs it): a missing nginx fails this
test, it never skips. Where ``systemd-analyze`` is missing the unit check is skipped
with its reason, the one skip the suite allows.
"""

from __future__ import annotations

import datetime as dt
import http.client
import ipaddress
import os
import re
import secrets
import shlex
import shutil
import socket
import sqlite3
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import pytest
from cryptography import x509
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from twilio.request_validator import RequestValidator

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
NGINX = os.environ.get("NGINX") or "/usr/sbin/nginx"
SERVER_NAME = "hotline.example.org"
PUBLIC_BASE_URL = f"https://{SERVER_NAME}"
AUTH_TOKEN = secrets.token_hex(16)  # the shape of a Twilio auth token
NUMBER = "+79161234567"
UNITS = ("hotline.service", "hotline-outbox.service", "hotline-retention.service",
         "hotline-retention.timer")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_for_port(port: int, process: subprocess.Popen, what: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"{what} exited with {process.returncode}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise AssertionError(f"{what} did not listen on {port} within 30 s")


def _self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for SERVER_NAME (and 127.0.0.1) with its key, as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, SERVER_NAME)])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([
                x509.DNSName(SERVER_NAME),
                x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / "fullchain.pem", directory / "privkey.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def _env_file(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def _exec_start(unit: Path) -> list[str]:
    """The unit's ExecStart command line, continuation lines joined."""
    text = unit.read_text().replace("\\\n", " ")
    line = next(line for line in text.splitlines() if line.startswith("ExecStart="))
    return shlex.split(line.removeprefix("ExecStart="))


def _nginx_site(cert: Path, key: Path, http_port: int, https_port: int, upstream: int,
                logs: Path) -> str:
    """deploy/nginx/hotline.conf with only certificates, ports and log paths replaced."""
    conf = (DEPLOY / "nginx" / "hotline.conf").read_text()
    replacements = [
        ("listen 80;", f"listen 127.0.0.1:{http_port};"),
        ("listen [::]:80;", f"listen [::1]:{http_port};"),
        ("listen 443 ssl http2;", f"listen 127.0.0.1:{https_port} ssl http2;"),
        ("listen [::]:443 ssl http2;", f"listen [::1]:{https_port} ssl http2;"),
        (f"/etc/letsencrypt/live/{SERVER_NAME}/fullchain.pem", str(cert)),
        (f"/etc/letsencrypt/live/{SERVER_NAME}/privkey.pem", str(key)),
        ("/var/log/nginx/hotline.access.log", str(logs / "access.log")),
        ("/var/log/nginx/hotline.error.log", str(logs / "error.log")),
        ("proxy_pass http://127.0.0.1:8000;", f"proxy_pass http://127.0.0.1:{upstream};"),
    ]
    for old, new in replacements:
        assert conf.count(old) == 1, f"deploy/nginx/hotline.conf no longer has {old!r}"
        conf = conf.replace(old, new)
    return conf


def _nginx_main(site: Path, work: Path) -> str:
    """The nginx.conf a Debian install would wrap the site in (temp paths in ``work``)."""
    user = "user root;\n" if os.geteuid() == 0 else ""  # workers read our temp dirs
    temp = "\n".join(f"    {name}_temp_path {work / name};"
                     for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    return (f"{user}worker_processes 1;\npid {work / 'nginx.pid'};\n"
            f"error_log {work / 'main-error.log'} warn;\n"
            "events { worker_connections 64; }\n"
            f"http {{\n    access_log off;\n{temp}\n    include {site};\n}}\n")


@dataclass
class Deployment:
    https_port: int
    http_port: int
    database: Path
    logs: Path
    cert: Path

    def connection(self) -> http.client.HTTPSConnection:
        context = ssl.create_default_context(cafile=str(self.cert))
        return _Connection("127.0.0.1", self.https_port, context=context, timeout=20)

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
        connection = self.connection()
        try:
            connection.request(method, path, body=body,
                               headers={"Host": SERVER_NAME, **(headers or {})})
            answer = connection.getresponse()
            return answer.status, dict(answer.getheaders()), answer.read()
        finally:
            connection.close()

    def cases(self) -> int:
        with sqlite3.connect(self.database) as db:
            return db.execute("SELECT COUNT(*) FROM cases").fetchone()[0]


class _Connection(http.client.HTTPSConnection):
    """TLS to 127.0.0.1, with SNI and the certificate check for SERVER_NAME."""

    def connect(self) -> None:
        sock = socket.create_connection((self.host, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=SERVER_NAME)


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    if not Path(NGINX).is_file():
        pytest.fail(f"{NGINX} is missing: run make test (it installs Debian's nginx) "
                    "or apt-get install nginx")
    work = tmp_path_factory.mktemp("deploy")
    work.chmod(0o755)
    logs = work / "logs"
    logs.mkdir()
    cert, key = _self_signed(work)
    database = work / "hotline.sqlite3"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HOTLINE_", "FLASK_"))}
    env.update(_env_file(DEPLOY / "hotline.env.example"))
    env.update({  # the example's placeholders, filled in as the README says
        "SECRET_KEY": secrets.token_urlsafe(48), "HOTLINE_INDEX_KEY": secrets.token_urlsafe(48),
        "HOTLINE_AUDIT_KEY": secrets.token_urlsafe(48),
        "HOTLINE_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN, "DATABASE_URL": f"sqlite:///{database}",
        "SPOOL_DIR": str(work / "spool"), "PUBLIC_BASE_URL": PUBLIC_BASE_URL,
        "PROXY_FIX_HOPS": "1",
    })
    env.pop("REDIS_URL", None)  # limits in memory: this test must not share Redis keys
    assert env["HOTLINE_ENV"] == "production" and env["OUTBOX_BACKGROUND_THREAD"] == "0"
    venv_bin = Path(sys.executable).parent
    flask = [str(venv_bin / "flask"), "--app", "wsgi"]
    subprocess.run([*flask, "db", "upgrade"], cwd=ROOT, env=env, check=True,
                   capture_output=True, timeout=120)

    upstream = _free_port()
    command = _exec_start(DEPLOY / "systemd" / "hotline.service")
    assert command[0] == "/opt/hotline/.venv/bin/gunicorn"
    command[0] = str(venv_bin / "gunicorn")
    command[command.index("127.0.0.1:8000")] = f"127.0.0.1:{upstream}"
    gunicorn = subprocess.Popen(command, cwd=ROOT, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    nginx = None
    try:
        _wait_for_port(upstream, gunicorn, "gunicorn")
        http_port, https_port = _free_port(), _free_port()
        site = work / "hotline.conf"
        site.write_text(_nginx_site(cert, key, http_port, https_port, upstream, logs))
        main = work / "nginx.conf"
        main.write_text(_nginx_main(site, work))
        checked = subprocess.run([NGINX, "-t", "-p", str(work), "-c", str(main)],
                                 capture_output=True, text=True, timeout=30, check=False)
        assert checked.returncode == 0, checked.stderr  # the config this nginx accepts
        nginx = subprocess.Popen([NGINX, "-p", str(work), "-c", str(main),
                                  "-g", "daemon off;"], stderr=subprocess.PIPE)
        _wait_for_port(https_port, nginx, "nginx")
        yield Deployment(https_port, http_port, database, logs, cert)
    finally:
        for process in (nginx, gunicorn):
            if process is not None:
                process.terminate()
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=10)


def _signed_sms(sid: str, body: str) -> tuple[bytes, str]:
    params = {"MessageSid": sid, "AccountSid": "AC" + "0" * 32, "From": NUMBER,
              "To": "+15005550006", "Body": body, "NumMedia": "0"}
    signature = RequestValidator(AUTH_TOKEN).compute_signature(
        PUBLIC_BASE_URL + "/twilio/sms", params)
    return urlencode(params).encode(), signature


FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def test_a_signed_webhook_through_tls_makes_a_case(deployment: Deployment) -> None:
    before = deployment.cases()
    body, signature = _signed_sms("SM" + "d" * 32, "Хочу сдаться")
    status, headers, answer = deployment.request(
        "POST", "/twilio/sms", body, {**FORM, "X-Twilio-Signature": signature})
    assert status == 200 and b"<Response" in answer
    assert deployment.cases() == before + 1
    # nginx's request id reached the app and came back.
    assert re.fullmatch(r"[0-9a-f]{32}", headers["X-Request-ID"])
    assert headers.get("Strict-Transport-Security")  # production behind the proxy


def test_a_forged_webhook_is_refused(deployment: Deployment) -> None:
    before = deployment.cases()
    body, _ = _signed_sms("SM" + "e" * 32, "forged")
    status, _, _ = deployment.request("POST", "/twilio/sms", body,
                                      {**FORM, "X-Twilio-Signature": "forged"})
    assert status == 403 and deployment.cases() == before


def test_an_oversized_body_is_refused_by_nginx(deployment: Deployment) -> None:
    before = deployment.cases()
    body = urlencode({"Body": "x" * 200_000}).encode()
    status, _, answer = deployment.request("POST", "/twilio/sms", body, FORM)
    assert status == 413
    assert b"<center>nginx</center>" in answer  # nginx's page: the app never saw it
    assert b"nginx/" not in answer  # server_tokens off: no version
    assert deployment.cases() == before


def test_plain_http_is_sent_to_https(deployment: Deployment) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", deployment.http_port, timeout=10)
    try:
        connection.request("GET", "/followup", headers={"Host": SERVER_NAME})
        answer = connection.getresponse()
        assert answer.status == 301
        assert answer.getheader("Location") == f"https://{SERVER_NAME}/followup"
    finally:
        connection.close()


def test_the_access_log_holds_no_address_and_no_query(deployment: Deployment) -> None:
    status, _, _ = deployment.request("GET", f"/healthz?from={NUMBER}&who=visitor",
                                      headers={"X-Forwarded-For": "203.0.113.77"})
    assert status == 200
    deployment.request("GET", "/ru/")
    time.sleep(0.2)  # nginx writes the line after the response
    lines = (deployment.logs / "access.log").read_text().splitlines()
    assert any('"GET /healthz HTTP/1.1" 200' in line for line in lines), lines
    assert any('"GET /ru/ HTTP/1.1" 200' in line for line in lines)
    for line in lines:
        assert "127.0.0.1" not in line and "203.0.113.77" not in line and "::1" not in line
        assert "?" not in line and NUMBER[1:] not in line and "visitor" not in line


def _unit_root(tmp_path: Path) -> Path:
    """A root for ``systemd-analyze verify --root``: the system's own units, ours in
    /etc/systemd/system, and the programs and files they name (empty stand-ins)."""
    root = tmp_path / "root"
    shutil.copytree("/usr/lib/systemd/system", root / "usr/lib/systemd/system",
                    symlinks=True)
    units = root / "etc/systemd/system"
    units.mkdir(parents=True)
    for unit in UNITS:
        shutil.copy(DEPLOY / "systemd" / unit, units / unit)
    for program in ("flask", "gunicorn"):
        stand_in = root / "opt/hotline/.venv/bin" / program
        stand_in.parent.mkdir(parents=True, exist_ok=True)
        stand_in.write_text("#!/bin/sh\n")
        stand_in.chmod(0o755)
    (root / "opt/hotline/instance").mkdir(parents=True)
    (root / "etc/hotline").mkdir(parents=True)
    (root / "etc/hotline/hotline.env").write_text("")
    return root


def test_systemd_units_verify(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None or not Path("/usr/lib/systemd/system").is_dir():
        pytest.skip("systemd-analyze is not installed here (Debian's systemd package), so "
                    "deploy/systemd/*.service and *.timer were not verified")
    root = _unit_root(tmp_path)
    result = subprocess.run(
        [analyze, "verify", f"--root={root}",
         *(f"/etc/systemd/system/{unit}" for unit in UNITS)],
        capture_output=True, text=True, timeout=120, check=False)
    # Unknown keys and bad values are only warnings to systemd: any output fails here.
    assert result.returncode == 0 and not (result.stdout + result.stderr).strip(), (
        result.stdout + result.stderr)
    for unit in UNITS[:3]:  # every service runs as the hotline user, hardened
        text = (DEPLOY / "systemd" / unit).read_text()
        assert "User=hotline" in text and "NoNewPrivileges=yes" in text
