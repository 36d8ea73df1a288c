#!/usr/bin/env bash
# Intake benchmark: bench/intake/run.sh [--requests N] [--rate R] [--rate-seconds S] [--smoke]
set -euo pipefail
cd "$(dirname "$0")/../.."
exec .venv/bin/python bench/intake/run.py "$@"
