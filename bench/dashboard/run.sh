#!/usr/bin/env bash
# Dashboard benchmark: bench/dashboard/run.sh [--cases N] [--db postgres|sqlite|both] [--pg-db NAME] [--requests N] [--reuse] [--smoke]
set -euo pipefail
cd "$(dirname "$0")/../.."
exec .venv/bin/python bench/dashboard/run.py "$@"
