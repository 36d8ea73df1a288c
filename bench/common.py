"""Shared parts of the benchmark harnesses: databases, secrets, gunicorn, /proc, percentiles.

Everything runs on this machine only: PostgreSQL on 127.0.0.1:5432 and gunicorn on a
high loopback port. Scratch files live in ``bench/work/`` (git-ignored).
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "bench" / "work"
VENV_BIN = ROOT / ".venv" / "bin"
PG_ADMIN = os.environ.get("BENCH_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
PG_BASE = PG_ADMIN.rsplit("/", 1)[0]
AUTH_TOKEN = "bench-auth-token-0123456789abcdef"  # noqa: S105 - signs local bench traffic only
PUBLIC_BASE_URL = "https://hotline.bench.invalid"
HOST = "127.0.0.1"


def log(message: str) -> None:
    """Progress on stderr, so stdout holds only the report."""
    print(message, file=sys.stderr, flush=True)


def secrets_env() -> dict[str, str]:
    """The bench app's secrets, generated once into bench/work/secrets.json and reused.

    Reusing them lets a database seeded by an earlier run be measured again; a secret the
    app has come to require since the file was written is added to it.
    """
    WORK.mkdir(parents=True, exist_ok=True)
    path = WORK / "secrets.json"
    generators = {
        "SECRET_KEY": lambda: secrets.token_urlsafe(48),
        "HOTLINE_ENCRYPTION_KEYS": lambda: Fernet.generate_key().decode(),
        "HOTLINE_INDEX_KEY": lambda: base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
        "HOTLINE_AUDIT_KEY": lambda: base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
    }
    values: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    missing = {name: make() for name, make in generators.items() if name not in values}
    if missing:
        values.update(missing)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(values, handle)
    return values


def app_env(database_url: str, **extra: str) -> dict[str, str]:
    """Environment for the app as deployed: production mode, explicit secrets."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("HOTLINE_", "DATABASE_URL", "TWILIO_", "PUBLIC_BASE"))}
    env.update(secrets_env())
    env.update({
        "HOTLINE_ENV": "production",
        "DATABASE_URL": database_url,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "PUBLIC_BASE_URL": PUBLIC_BASE_URL,
        "HOTLINE_AUDIT_WITNESS": str(WORK / "audit-witness"),
        "PYTHONPATH": str(ROOT),
    })
    env.update(extra)
    return env


def pg_url(name: str) -> str:
    """URL of a database on the local server."""
    return f"{PG_BASE}/{name}"


def psql(sql: str, database: str = "postgres") -> str:
    """Run SQL through psql on the local server; returns its unaligned output."""
    out = subprocess.run(
        ["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", pg_url(database), "-c", sql],
        check=True, capture_output=True, text=True,
    )
    return out.stdout.strip()


def recreate_database(name: str) -> str:
    """Drop and create a bench database; returns its URL."""
    psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    psql(f'CREATE DATABASE "{name}"')
    return pg_url(name)


def drop_database(name: str) -> None:
    psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def flask(args: Sequence[str], env: dict[str, str], *, stdin: str | None = None,
          timeout: float = 1800) -> str:
    """Run ``flask --app wsgi …`` with ``env``; returns stdout."""
    out = subprocess.run([str(VENV_BIN / "flask"), "--app", "wsgi", *args], cwd=ROOT, env=env,
                         input=stdin, capture_output=True, text=True, timeout=timeout)
    if out.returncode != 0:
        raise RuntimeError(f"flask {' '.join(args)} failed:\n{out.stderr[-3000:]}")
    return out.stdout


class Gunicorn:
    """A gunicorn master with its workers, started and stopped by the harness."""

    def __init__(self, app: str, env: dict[str, str], port: int, *, workers: int = 2,
                 worker_class: str = "gthread", threads: int = 4, keep_alive: int = 2) -> None:
        self.port = port
        self.settings = f"{workers} workers, {worker_class}" + (
            f", {threads} threads each" if worker_class == "gthread" else "") + (
            f", keep-alive {keep_alive} s")
        self.log_path = WORK / f"gunicorn-{port}.log"
        self.args = [str(VENV_BIN / "gunicorn"), "--bind", f"{HOST}:{port}",
                     "--workers", str(workers), "--worker-class", worker_class,
                     "--threads", str(threads), "--keep-alive", str(keep_alive),
                     "--backlog", "2048", "--timeout", "60",
                     "--graceful-timeout", "10", app]
        self.env = env
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> Gunicorn:
        WORK.mkdir(parents=True, exist_ok=True)
        with socket.socket() as probe:
            if probe.connect_ex((HOST, self.port)) == 0:
                raise RuntimeError(f"port {self.port} is already in use")
        log_file = self.log_path.open("w")
        self.process = subprocess.Popen(self.args, cwd=ROOT, env=self.env, stdout=log_file,
                                        stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited: {self.log_path.read_text()[-2000:]}")
            if len(self.workers()) >= 1 and self._answers():
                return self
            time.sleep(0.2)
        raise RuntimeError("gunicorn did not start within 60 s")

    def _answers(self) -> bool:
        try:
            urllib.request.urlopen(f"http://{HOST}:{self.port}/healthz", timeout=2)
        except urllib.error.HTTPError:
            return True  # it answered (the baseline apps have no /healthz)
        except OSError:
            return False
        return True

    def workers(self) -> list[int]:
        """Pids of the worker processes (children of the master)."""
        if self.process is None:
            return []
        path = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        try:
            return [int(pid) for pid in path.read_text().split()]
        except OSError:
            return []

    def rss_mb(self) -> dict[int, float]:
        """Each worker's resident set size in MB, from /proc/<pid>/status."""
        return {pid: rss_mb(pid) for pid in self.workers()}

    def __exit__(self, *exc: object) -> None:
        if self.process is None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


def rss_mb(pid: int) -> float:
    """VmRSS of one process in MB (0 when it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return 0.0
    return 0.0


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0–100) by nearest rank; NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, int(round(q / 100 * len(ordered) + 0.5)) - 1))
    return ordered[rank]


def machine() -> str:
    """One line about the machine: cores, memory, PostgreSQL version."""
    memory = "?"
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    try:
        version = psql("SHOW server_version")
    except (subprocess.CalledProcessError, FileNotFoundError):
        version = "unavailable"
    return f"nproc {os.cpu_count()}, memory {memory}, PostgreSQL {version}"
