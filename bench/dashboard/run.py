"""The dashboard at a million cases: page and API latency on PostgreSQL and SQLite.

For each database: seed N cases with ``flask demo seed`` (timed; reused when the database
already holds them and ``--reuse`` is given), start the app under gunicorn as deployed,
sign in as a staff member and as a supervisor (a signed session cookie, see
``credentials.py``), then request each page sequentially over one keep-alive connection
and report p50/p95. A route that is not there is reported as "missing (404)", a refusal
as "forbidden (403)", a bounce to the login page as "login (302)".

Usage: ``bench/dashboard/run.sh [--cases N] [--db postgres|sqlite|both] [--reuse] [--smoke]``.
Exit status 1 when a measured route answers 5xx or seeding fails.
"""

from __future__ import annotations

import argparse
import http.client
import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.common import (  # noqa: E402
    HOST,
    ROOT,
    VENV_BIN,
    WORK,
    Gunicorn,
    app_env,
    flask,
    log,
    machine,
    percentile,
    pg_url,
    psql,
    recreate_database,
)

PG_DB = "hotline_bench_dash"
TARGET_P95_MS = 100.0
WARMUP = 3


def pages(reference: str) -> list[tuple[str, str, str]]:
    """(label, kind, path): kind "page" signs in by cookie, "api" by bearer token."""
    return [
        ("queue (default)", "page", "/dashboard/"),
        ("queue (filtered)", "page",
         "/dashboard/?status=in_progress&language=ru&category=surrender"),
        ("case page", "page", f"/dashboard/cases/{reference}"),
        ("report page", "page", "/reports/"),
        ("/api/v1/stats", "api", "/api/v1/stats"),
        ("/api/v1/cases", "api", "/api/v1/cases"),
        ("/api/v1/cases (filtered)", "api", "/api/v1/cases?status=new&language=ru"),
        ("/api/v1/cases/<ref>", "api", f"/api/v1/cases/{reference}"),
    ]


def measure(port: int, path: str, headers: dict[str, str], n: int) -> dict:
    """Latency of ``n`` sequential GETs after a short warm-up; p50/p95 in ms."""
    conn = http.client.HTTPConnection(HOST, port, timeout=60)
    latencies = []
    status = 0
    try:
        for i in range(WARMUP + n):
            started = time.perf_counter()
            conn.request("GET", path, headers=headers)
            response = conn.getresponse()
            response.read()
            elapsed = (time.perf_counter() - started) * 1000
            status = response.status
            if status != 200:
                break
            if i >= WARMUP:
                latencies.append(elapsed)
    finally:
        conn.close()
    if status != 200:
        words = {404: "missing (404)", 403: "forbidden (403)", 302: "login (302)",
                 401: "unauthorised (401)"}
        return {"status": status, "text": words.get(status, f"HTTP {status}")}
    return {"status": 200, "n": len(latencies), "p50_ms": round(percentile(latencies, 50), 1),
            "p95_ms": round(percentile(latencies, 95), 1)}


def prepare(db: str, cases: int, reuse: bool) -> tuple[dict[str, str], dict]:
    """A database with ``cases`` seeded cases; returns the app env and seed facts."""
    if db == "postgres":
        database = PG_DB if cases >= 100_000 else f"{PG_DB}_small"
        url = pg_url(database)
        have = 0
        if reuse:
            try:
                have = int(psql("SELECT count(*) FROM cases", database))
            except subprocess.CalledProcessError:
                have = 0
        if have < cases:
            recreate_database(database)
    else:
        # One file per size, so a smoke run never touches a big run's database.
        sqlite_path = WORK / f"dashboard-{cases}.sqlite3"
        url = f"sqlite:///{sqlite_path}"
        have = 0
        if reuse and sqlite_path.exists():
            env = app_env(url)
            out = subprocess.run(
                [str(VENV_BIN / "python"), "-c",
                 "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("
                 "'select count(*) from cases').fetchone()[0])", str(sqlite_path)],
                capture_output=True, text=True)
            have = int(out.stdout.strip() or 0) if out.returncode == 0 else 0
        if have < cases:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{sqlite_path}{suffix}").unlink(missing_ok=True)
    env = app_env(url)
    facts: dict = {"reused": have >= cases}
    if have < cases:
        flask(["db", "upgrade"], env)
        log(f"[{db}] seeding {cases:,} cases ...")
        started = time.perf_counter()
        summary = flask(["demo", "seed", "--cases", str(cases), "--seed", "7", "--quiet"], env,
                        timeout=3600)
        facts["seed_seconds"] = round(time.perf_counter() - started, 1)
        facts["seed_summary"] = summary.strip()
        log(f"[{db}] {summary.strip()}")
    return env, facts


def credentials(env: dict[str, str]) -> dict:
    out = subprocess.run([str(VENV_BIN / "python"), "-m", "bench.dashboard.credentials"],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    if out.returncode != 0:
        raise RuntimeError(f"credentials failed: {out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_db(db: str, args: argparse.Namespace) -> dict:
    env, facts = prepare(db, args.cases, args.reuse)
    creds = credentials(env)
    rows = []
    with Gunicorn("wsgi:app", env, args.port) as server:
        for label, kind, path in pages(creds["reference"]):
            for role in ("staff", "supervisor"):
                if kind == "page":
                    headers = {"Cookie": f"{creds['cookie_name']}={creds['cookies'][role]}"}
                else:
                    headers = {"Authorization": f"Bearer {creds['tokens'][role]}"}
                result = measure(args.port, path, headers, args.requests)
                rows.append({"page": label, "role": role, "path": path, **result})
                shown = result.get("text") or f"p95 {result['p95_ms']} ms"
                log(f"[{db}] {label:<26} {role:<10} {shown}")
        facts["gunicorn"] = server.settings
    return {"facts": facts, "rows": rows}


def cell(result: dict | None) -> str:
    if result is None:
        return "–"
    if result["status"] != 200:
        return result["text"]
    return f"{result['p50_ms']:.1f} / {result['p95_ms']:.1f}"


def report(results: dict, args: argparse.Namespace) -> list[str]:
    """Print the table; return the targets missed (PostgreSQL p95 over 100 ms)."""
    dbs = list(results)
    print(f"machine: {machine()}")
    for db in dbs:
        facts = results[db]["facts"]
        seeded = ("reused an already seeded database" if facts["reused"]
                  else f"seeded in {facts['seed_seconds']} s ({facts['seed_summary']})")
        print(f"{db}: {args.cases:,} cases, {seeded}; gunicorn {facts['gunicorn']}")
    print(f"{args.requests} sequential requests per row after {WARMUP} warm-up requests; "
          "cells are p50 / p95 in ms")
    print()
    print("| page | role | " + " | ".join(dbs) + " |")
    print("|---|---|" + "---|" * len(dbs))
    missed = []
    index = {db: {(r["page"], r["role"]): r for r in results[db]["rows"]} for db in dbs}
    for key in index[dbs[0]]:
        cells = [cell(index[db].get(key)) for db in dbs]
        print(f"| {key[0]} | {key[1]} | " + " | ".join(cells) + " |")
        pg = index.get("postgres", {}).get(key)
        if pg and pg["status"] == 200 and pg["p95_ms"] >= TARGET_P95_MS:
            missed.append(f"{key[0]} as {key[1]}: p95 {pg['p95_ms']} ms on PostgreSQL")
    print()
    for line in missed:
        print(f"target missed (p95 < {TARGET_P95_MS:.0f} ms): {line}")
    return missed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--db", choices=("postgres", "sqlite", "both"), default="both")
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--port", type=int, default=8911)
    parser.add_argument("--reuse", action="store_true",
                        help="keep a database that already holds enough cases")
    parser.add_argument("--smoke", action="store_true", help="300 cases, 5 requests a row")
    args = parser.parse_args()
    if args.smoke:
        args.cases, args.requests = 300, 5
    WORK.mkdir(parents=True, exist_ok=True)
    dbs = ("postgres", "sqlite") if args.db == "both" else (args.db,)
    results = {db: run_db(db, args) for db in dbs}
    report(results, args)
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / f"dashboard-{time.strftime('%Y%m%d-%H%M%S')}.json").write_text(
        json.dumps({"cases": args.cases, "results": results}, indent=2))
    errors = [f"{db}: {r['page']} as {r['role']} answered {r['status']}"
              for db in dbs for r in results[db]["rows"] if r["status"] >= 500]
    for line in errors:
        print(f"FAILED: {line}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
