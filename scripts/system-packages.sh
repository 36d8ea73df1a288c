#!/usr/bin/env bash
# The Debian packages the test suite needs, installed when missing (`make test` calls this):
#   chromium  the browser tests (tests/browser.py) drive it headless;
#   nginx     tests/test_deploy_nginx.py runs deploy/nginx/hotline.conf in front of gunicorn.
# As root (or with passwordless sudo) it runs apt-get; otherwise it prints one line naming
# the command to run and exits 1, because a suite without them would not be the suite.
#
# Everything it touches can be pointed elsewhere, so both branches are testable without
# uninstalling anything (tests/app/test_system_packages.py): CHROMIUM and NGINX (the programs
# looked for), APT_GET (the installer), SUDO (the sudo command), SETUP_UID (the user id
# taken as "who am I", default `id -u`).
set -euo pipefail

CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
NGINX="${NGINX:-/usr/sbin/nginx}"
APT_GET="${APT_GET:-apt-get}"
SUDO="${SUDO:-sudo}"
SETUP_UID="${SETUP_UID:-$(id -u)}"

missing=()
[ -x "$CHROMIUM" ] || missing+=(chromium)
[ -x "$NGINX" ] || missing+=(nginx)
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$SETUP_UID" = 0 ]; then
    as_root=()
elif command -v "$SUDO" >/dev/null 2>&1 && "$SUDO" -n true 2>/dev/null; then
    as_root=("$SUDO" -n)
else
    echo "The test suite needs Debian's ${missing[*]}: run  sudo apt-get install -y ${missing[*]}  and then make test again" >&2
    exit 1
fi

echo "== installing ${missing[*]} (Debian packages the test suite needs)"
"${as_root[@]}" "$APT_GET" update -qq
# The nginx package would start a server on port 80 when it can; the tests start their
# own on free ports, so any service it starts is left alone.
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive "$APT_GET" install -y -qq "${missing[@]}" >/dev/null
for program in "$CHROMIUM" "$NGINX"; do
    [ -x "$program" ] || { echo "$program is still missing after apt-get install" >&2; exit 1; }
done
