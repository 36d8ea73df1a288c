"""``make test`` installs the Debian packages the suite needs, or says how in one line.

scripts/system-packages.sh is run for real with its programs pointed at stand-ins: a
fake ``apt-get`` that records its arguments and "installs" by creating the files the
script looks for, and a fake ``sudo``. Nothing on the machine is installed or removed.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.conftest import ROOT

SCRIPT = ROOT / "scripts" / "system-packages.sh"


def _executable(path: Path, body: str) -> Path:
    path.write_text("#!/usr/bin/env bash\n" + body)
    path.chmod(0o755)
    return path


def _setup(tmp_path: Path, *, sudo_works: bool = True) -> dict[str, str]:
    chromium, nginx, log = tmp_path / "chromium", tmp_path / "nginx", tmp_path / "apt.log"
    apt = _executable(tmp_path / "apt-get", f"""
echo "$* uid=${{FAKE_UID:-?}}" >> {log}
if [ "$1" = install ]; then
    for arg in "$@"; do
        case "$arg" in chromium) touch {chromium}; chmod +x {chromium};;
                       nginx) touch {nginx}; chmod +x {nginx};; esac
    done
fi
""")
    sudo = _executable(tmp_path / "sudo", f"""
[ "$1" = -n ] && shift
{'' if sudo_works else 'exit 1'}
if [ "$1" = true ]; then exit 0; fi
echo "sudo $*" >> {log}
FAKE_UID=0 exec "$@"
""")
    return {**os.environ, "CHROMIUM": str(chromium), "NGINX": str(nginx),
            "APT_GET": str(apt), "SUDO": str(sudo), "LOG": str(log)}


def _run(env: dict[str, str], uid: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(SCRIPT)], env={**env, "SETUP_UID": uid},
                          capture_output=True, text=True, timeout=30, check=False)


def _log(env: dict[str, str]) -> list[str]:
    path = Path(env["LOG"])
    return path.read_text().splitlines() if path.exists() else []


def test_as_root_it_installs_what_is_missing(tmp_path: Path) -> None:
    env = _setup(tmp_path)
    result = _run(env, "0")
    assert result.returncode == 0, result.stderr
    calls = _log(env)
    assert calls[0].startswith("update")
    assert calls[1].startswith("install -y -qq chromium nginx")
    assert Path(env["CHROMIUM"]).exists() and Path(env["NGINX"]).exists()
    # Present now: a second run asks apt-get nothing.
    assert _run(env, "0").returncode == 0 and len(_log(env)) == 2


def test_only_the_missing_package_is_installed(tmp_path: Path) -> None:
    env = _setup(tmp_path)
    Path(env["NGINX"]).touch(mode=0o755)
    assert _run(env, "0").returncode == 0
    assert _log(env)[1].split()[:4] == ["install", "-y", "-qq", "chromium"]
    assert "nginx" not in _log(env)[1]


def test_with_passwordless_sudo_it_installs_through_sudo(tmp_path: Path) -> None:
    env = _setup(tmp_path)
    result = _run(env, "1000")
    assert result.returncode == 0, result.stderr
    calls = _log(env)
    assert any(line.startswith("sudo ") and "update" in line for line in calls)
    assert any(line.startswith("install") and line.endswith("uid=0") for line in calls)
    assert Path(env["CHROMIUM"]).exists()


def test_without_root_or_sudo_it_names_the_command_and_fails(tmp_path: Path) -> None:
    env = _setup(tmp_path, sudo_works=False)
    result = _run(env, "1000")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "sudo apt-get install -y chromium nginx" in lines[0]
    assert _log(env) == []  # nothing was attempted
    assert not Path(env["CHROMIUM"]).exists()


def test_make_test_runs_it_first() -> None:
    makefile = (SCRIPT.parent.parent / "Makefile").read_text()
    test_rule = next(line for line in makefile.splitlines() if line.startswith("test:"))
    assert test_rule.split(":", 1)[1].split()[0] == "system-packages"
    assert "scripts/system-packages.sh" in makefile
