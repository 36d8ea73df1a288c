#!/usr/bin/env bash
# Security checks for CI (.ci/run calls this):
#   1. ruff's security rules (S, from flake8-bandit) over the whole repository; an
#      exception is a per-line "# noqa: S…" with its reason on the same line;
#   2. pip-audit of the pinned runtime requirements, when PyPI's JSON API (which
#      pip-audit reads) answers within a few seconds. A known vulnerability in a pin:
#      fail. Unreachable, or no package could be looked up: the last line says plainly
#      that the dependency audit DID NOT RUN (never "passed"), and the script exits 0 so
#      an offline CI still passes; packages that could not be looked up are named.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="${BIN:-.venv/bin}"
# One package's JSON page: the same service pip-audit needs, and a small answer.
PROBE_URL="${PIP_AUDIT_PROBE_URL:-https://pypi.org/pypi/flask/json}"
TIMEOUT="${SECURITY_CHECKS_TIMEOUT:-5}"

echo "== ruff security rules (S)"
"$BIN/ruff" check --select S .

echo "== pip-audit (requirements.txt)"
if ! "$BIN/python" - "$PROBE_URL" "$TIMEOUT" <<'PY'
import sys
import urllib.request

try:
    urllib.request.urlopen(sys.argv[1], timeout=float(sys.argv[2])).close()  # noqa: S310
except Exception:  # any failure means "not reachable"
    sys.exit(1)
PY
then
    echo "pip-audit SKIPPED: ${PROBE_URL} is not reachable within ${TIMEOUT}s;" \
         "run scripts/security-checks.sh where PyPI is reachable"
    echo "security checks: ruff passed; dependency audit DID NOT RUN (PyPI not reachable)"
    exit 0
fi

report="$(mktemp)"
trap 'rm -f "$report"' EXIT
# Every line is pinned (==), so no resolver and no temporary venv are needed.
status=0
"$BIN/pip-audit" --requirement requirements.txt --no-deps --disable-pip \
    --progress-spinner off --format json --output "$report" 2>/dev/null || status=$?
"$BIN/python" - "$report" "$status" <<'PY'
import json
import sys

path, status = sys.argv[1], int(sys.argv[2])
try:
    with open(path) as handle:
        deps = json.load(handle).get("dependencies", [])
except (OSError, ValueError):
    sys.exit(f"pip-audit failed (exit {status}) without a report")
vulnerable = [d for d in deps if d.get("vulns")]
audited = [d for d in deps if "skip_reason" not in d]
skipped = [d for d in deps if "skip_reason" in d]
for dep in vulnerable:
    ids = ", ".join(v["id"] for v in dep["vulns"])
    print(f"VULNERABLE {dep['name']} {dep.get('version')}: {ids}")
if vulnerable:
    sys.exit(f"pip-audit: {len(vulnerable)} pinned packages have known vulnerabilities")
if skipped:
    names = ", ".join(sorted(d["name"] for d in skipped))
    print(f"pip-audit could not look up {len(skipped)} of {len(deps)} packages: {names}")
if not audited:
    print("security checks: ruff passed; dependency audit DID NOT RUN (0 packages could be "
          "looked up); run scripts/security-checks.sh where PyPI is reachable")
    sys.exit(0)
print(f"pip-audit: {len(audited)} of {len(deps)} packages audited, no known vulnerabilities")
if skipped:
    print(f"security checks: ruff passed; dependency audit INCOMPLETE ({len(skipped)} "
          "packages not audited)")
else:
    print("security checks passed (ruff and the dependency audit)")
PY
