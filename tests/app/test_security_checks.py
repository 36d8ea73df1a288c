"""Security review, finding 13: ``scripts/security-checks.sh`` said "passed" when pip-audit
could look up no package. It must say plainly that the dependency audit did not run.

The script is run for real, with ``BIN`` pointing at the real ruff and python and a
stand-in pip-audit that writes the report pip-audit writes when its advisory service does
not answer (every package skipped); the reachability probe goes to a local HTTP server.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "security-checks.sh"
VENV_BIN = Path(sys.executable).parent


class _Ok(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def probe_url():
    server = HTTPServer(("127.0.0.1", 0), _Ok)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/pypi/flask/json"
    server.shutdown()


def _bin_with_pip_audit(tmp_path: Path, report: dict) -> Path:
    """A BIN folder: the real ruff and python, and a pip-audit writing ``report``."""
    folder = tmp_path / "bin"
    folder.mkdir(parents=True)
    (folder / "ruff").symlink_to(VENV_BIN / "ruff")
    (folder / "python").symlink_to(sys.executable)
    fake = folder / "pip-audit"
    fake.write_text("#!/bin/sh\n"
                    "while [ $# -gt 0 ]; do [ \"$1\" = --output ] && out=\"$2\"; shift; done\n"
                    f"cat > \"$out\" <<'JSON'\n{json.dumps(report)}\nJSON\n")
    fake.chmod(0o755)
    return folder


def _run(bin_dir: Path, probe: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "BIN": str(bin_dir), "PIP_AUDIT_PROBE_URL": probe,
           "SECURITY_CHECKS_TIMEOUT": "5"}
    return subprocess.run(["bash", str(SCRIPT)], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300, check=False)


def test_zero_packages_looked_up_is_not_called_passed(tmp_path, probe_url):
    report = {"dependencies": [
        {"name": "flask", "version": "3.1.0", "skip_reason": "advisory service did not answer"},
        {"name": "twilio", "version": "9.0.0", "skip_reason": "advisory service did not answer"},
    ]}
    result = _run(_bin_with_pip_audit(tmp_path, report), probe_url)
    assert result.returncode == 0, result.stdout + result.stderr  # offline CI still passes
    last = result.stdout.strip().splitlines()[-1]
    assert "DID NOT RUN" in last and "0 packages" in last
    assert "security checks passed" not in result.stdout


def test_unreachable_pypi_is_not_called_passed(tmp_path):
    result = _run(_bin_with_pip_audit(tmp_path, {"dependencies": []}),
                  "http://127.0.0.1:9/unreachable")
    assert result.returncode == 0
    assert "DID NOT RUN" in result.stdout.strip().splitlines()[-1]
    assert "security checks passed" not in result.stdout


def test_a_real_audit_says_passed_and_a_vulnerability_fails(tmp_path, probe_url):
    clean = {"dependencies": [{"name": "flask", "version": "3.1.0", "vulns": []}]}
    ok = _run(_bin_with_pip_audit(tmp_path / "a", clean), probe_url)
    assert ok.returncode == 0
    assert ok.stdout.strip().splitlines()[-1] == (
        "security checks passed (ruff and the dependency audit)")
    bad = {"dependencies": [{"name": "flask", "version": "0.1",
                             "vulns": [{"id": "PYSEC-0000-1"}]}]}
    failed = _run(_bin_with_pip_audit(tmp_path / "b", bad), probe_url)
    assert failed.returncode != 0 and "VULNERABLE flask" in failed.stdout
