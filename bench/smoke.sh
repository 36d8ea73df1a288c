#!/usr/bin/env bash
# CI smoke run of both benchmarks at toy size, so the harness cannot rot.
# Intake: 300 signed SMS webhooks through gunicorn + wrk on the local PostgreSQL, then a
# short fixed-rate run; fails on any lost or duplicated interaction or error answer.
# Dashboard: 300 seeded cases on PostgreSQL and SQLite, a few requests per page (queue,
# overdue, unattended and filtered queue, poll, case page, report page at 30 days, 365 days
# and all time, API) as staff and as supervisor; fails
# on any unexpected status or a page without its marker text (e.g. a bounce to /login). Needs PostgreSQL on 127.0.0.1:5432 and wrk (.ci/run provides both).
set -euo pipefail
cd "$(dirname "$0")/.."
export BENCH_PG_ADMIN="${BENCH_PG_ADMIN:-postgresql://postgres@127.0.0.1:5432/postgres}"
echo "== bench smoke: intake"
timeout 120 .venv/bin/python bench/intake/run.py --smoke --port "${BENCH_INTAKE_PORT:-8901}"
echo "== bench smoke: dashboard"
timeout 240 .venv/bin/python bench/dashboard/run.py --smoke --port "${BENCH_DASHBOARD_PORT:-8911}"
echo "bench smoke passed"
