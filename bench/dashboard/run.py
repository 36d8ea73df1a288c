"""The dashboard at a million cases: page and API latency on PostgreSQL and SQLite.

For each database: seed N cases with ``flask demo seed`` (timed; reused when the database
already holds them and ``--reuse`` is given), start the app under gunicorn as deployed,
sign in as a staff member and as a supervisor (a signed session cookie, see
``credentials.py``), then request each page one request at a time, rows taking turns,
each row over its own keep-alive connection, and report p50/p95. Every answer must have
the expected status (200, or 403 for a staff member on the supervisor-only report page)
and a 200 must contain the page's marker text; anything else (a bounce to /login, an
error page) fails the row and the run.

Usage: ``bench/dashboard/run.sh [--cases N] [--db postgres|sqlite|both] [--pg-db NAME]
[--requests N] [--reuse] [--smoke] [--only WORD,…]``. The first row, ``/healthz``, is the
run's baseline: the other rows' p95 is also given as a multiple of its p95, which moves
less than the absolute figures when other work shares the machine.
Exit status 1 when a measured route answers anything unexpected or seeding fails.
"""

from __future__ import annotations

import argparse
import http.client
import json
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from http.cookies import SimpleCookie
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.common import (
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
BASELINE = "baseline: /healthz (SELECT 1)"
TARGET_P95_MS = 100.0
WARMUP = 3
# What an open dashboard's queue.js sends (it polls every POLL_INTERVAL_SECONDS).
POLL_HEADERS = {"Accept": "application/json"}


@dataclass(frozen=True)
class Page:
    """One measured route: how to sign in, what every answer must contain."""

    label: str
    kind: str  # "page": session cookie; "api": bearer token
    path: str
    marker: str  # every 200 answer must contain this (a login page or error page does not)
    expect: dict[str, int] = field(default_factory=lambda: {"staff": 200, "supervisor": 200})
    headers: dict[str, str] = field(default_factory=dict)


def ranges(first_day: str, today: date | None = None) -> dict[str, tuple[str, str]]:
    """The report ranges measured: (from, to) of 30 days, 365 days and all time (UTC days).

    Written as explicit dates, so the same request measures code with and without the
    report's presets; "all time" starts on the day of the first case.
    """
    today = today or datetime.now(UTC).date()
    return {"30 days": ((today - timedelta(days=29)).isoformat(), today.isoformat()),
            "365 days": ((today - timedelta(days=364)).isoformat(), today.isoformat()),
            "all time": (min(first_day, today.isoformat()), today.isoformat())}


def pages(reference: str, latest_id: int, first_day: str | None = None) -> list[Page]:
    """The measured routes, in report order."""
    supervisor_only = {"staff": 403, "supervisor": 200}
    spans = ranges(first_day or datetime.now(UTC).date().isoformat())
    report_rows = [
        Page(f"report page ({label})", "page", f"/reports/?from={start}&to={end}",
             'id="fig-total"', expect=supervisor_only)
        for label, (start, end) in spans.items() if label != "30 days"]
    start, end = spans["all time"]
    report_rows.append(Page(
        "report page (all time, filtered)", "page",
        f"/reports/?from={start}&to={end}&channel=sms&language=ru&category=surrender",
        'id="fig-total"', expect=supervisor_only))
    stats_rows = [
        Page(f"/api/v1/stats ({label})", "api", f"/api/v1/stats?since={start}&until={end}",
             '"median_first_response_seconds"')
        for label, (start, end) in spans.items() if label != "30 days"]
    return [
        # The floor of this run: the whole stack and one round trip to the database.
        Page(BASELINE, "api", "/healthz", '"ok"'),
        # The default queue carries the latest-message preview and waiting columns.
        Page("queue (default)", "page", "/dashboard/", '<td class="preview">'),
        Page("queue (overdue)", "page", "/dashboard/?overdue=1", "<h1>Queue</h1>"),
        # Colleagues' cases a caller wrote to while they are away (issue 13): the staff
        # member is on duty (credentials.py), the other demo staff are not; the marker is
        # an unattended row, so an empty view fails the row.
        Page("queue (unattended)", "page", "/dashboard/?view=unattended",
             'class="badge badge-unattended"'),
        Page("queue (filtered)", "page",
             "/dashboard/?status=in_progress&language=ru&category=surrender", "<h1>Queue</h1>"),
        Page("queue poll", "page", f"/dashboard/queue/poll?since={latest_id}", '"latest_id"',
             headers=POLL_HEADERS),
        Page("case page", "page", f"/dashboard/cases/{reference}",
             f'<span class="ref">{reference}</span>'),
        Page("report page (30 days)", "page", "/reports/", 'id="fig-total"',
             expect=supervisor_only),
        *report_rows,
        Page("/api/v1/stats", "api", "/api/v1/stats", '"median_first_response_seconds"'),
        *stats_rows,
        Page("/api/v1/cases", "api", "/api/v1/cases", '"next_cursor"'),
        Page("/api/v1/cases (filtered)", "api", "/api/v1/cases?status=new&language=ru",
             '"items"'),
        Page("/api/v1/cases/<ref>", "api", f"/api/v1/cases/{reference}", '"interactions"'),
    ]


def _session_update(response: http.client.HTTPResponse, name: str) -> str | None:
    """The new session cookie value the app set, if any (a browser sends it back)."""
    for header in response.msg.get_all("Set-Cookie") or []:
        jar = SimpleCookie()
        jar.load(header)
        if name in jar:
            return jar[name].value
    return None


class Probe:
    """One (page, role) row: its own keep-alive connection, session cookie and figures.

    Every answer is checked: the status must be the one expected for the role and a 200
    must contain the page's marker, so a bounce to the login page cannot pass as fast.
    Session cookies the app sets are sent back, as a browser does.
    """

    def __init__(self, port: int, page: Page, role: str, creds: dict) -> None:
        self.page, self.role = page, role
        self.expected = page.expect[role]
        self.cookie_name = creds["cookie_name"]
        self.cookie = creds["cookies"][role]
        self.token = creds["tokens"][role]
        self.conn = http.client.HTTPConnection(HOST, port, timeout=60)
        self.latencies: list[float] = []
        self.size = 0
        self.failure: str | None = None

    def request(self, record: bool) -> None:
        """One GET; its latency is kept when ``record`` (not during the warm-up)."""
        if self.failure is not None:
            return
        headers = dict(self.page.headers)
        if self.page.kind == "page":
            headers["Cookie"] = f"{self.cookie_name}={self.cookie}"
        else:
            headers["Authorization"] = f"Bearer {self.token}"
        started = time.perf_counter()
        try:
            response, body = self._get(headers)
        except (http.client.RemoteDisconnected, ConnectionError):
            # The server closed the idle keep-alive connection: reconnect, as a browser does.
            self.conn.close()
            started = time.perf_counter()
            response, body = self._get(headers)
        elapsed = (time.perf_counter() - started) * 1000
        self.cookie = _session_update(response, self.cookie_name) or self.cookie
        if response.status != self.expected:
            where = response.getheader("Location", "")
            self.failure = f"HTTP {response.status}" + (f" to {where}" if where else "")
        elif self.expected == 200 and self.page.marker.encode() not in body:
            self.failure = f"HTTP 200 without the marker {self.page.marker!r}"
        else:
            self.size = len(body)
            if record:
                self.latencies.append(elapsed)

    def _get(self, headers: dict[str, str]) -> tuple[http.client.HTTPResponse, bytes]:
        self.conn.request("GET", self.page.path, headers=headers)
        response = self.conn.getresponse()
        return response, response.read()

    def result(self) -> dict:
        """p50/p95 in ms, or the failure."""
        self.conn.close()
        if self.failure is not None:
            return {"status": "failed", "expected": self.expected,
                    "text": f"FAILED: {self.failure}"}
        result = {"status": self.expected, "expected": self.expected,
                  "n": len(self.latencies), "bytes": self.size,
                  "p50_ms": round(percentile(self.latencies, 50), 1),
                  "p95_ms": round(percentile(self.latencies, 95), 1)}
        if self.expected != 200:
            result["text"] = f"refused ({self.expected}) as designed"
        return result


def measure(port: int, probes_of: list[tuple[Page, str]], creds: dict, n: int) -> list[dict]:
    """Round-robin ``n`` sequential GETs per row (after a warm-up) and return their figures.

    Rows take turns request by request, so a burst of load from elsewhere on the machine
    falls on every row alike instead of on whichever row happened to be running.
    """
    probes = [Probe(port, page, role, creds) for page, role in probes_of]
    for i in range(WARMUP + n):
        for probe in probes:
            probe.request(record=i >= WARMUP)
    return [probe.result() for probe in probes]


def prepare(db: str, cases: int, reuse: bool, pg_db: str, timezone: str = ""
            ) -> tuple[dict[str, str], dict]:
    """A database with ``cases`` seeded cases; returns the app env and seed facts."""
    if db == "postgres":
        database = pg_db if cases >= 100_000 else f"{pg_db}_small"
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
    if timezone:
        # The staff's default zone: the report's local days (and the queue's times) in it.
        env["HOTLINE_TIMEZONE"] = timezone
    facts: dict = {"reused": have >= cases}
    # Always: a reused database gets the migrations added since it was seeded.
    flask(["db", "upgrade"], env)
    if have < cases:
        log(f"[{db}] seeding {cases:,} cases ...")
        started = time.perf_counter()
        # 20 staff and 3 supervisors, as when the figures in bench/README.md were taken
        # (the demo's own default is a handful).
        summary = flask(["demo", "seed", "--cases", str(cases), "--seed", "7", "--staff", "20",
                         "--supervisors", "3", "--quiet"], env, timeout=3600)
        facts["seed_seconds"] = round(time.perf_counter() - started, 1)
        facts["seed_summary"] = summary.strip()
        log(f"[{db}] {summary.strip()}")
    if db == "postgres":
        # A deployed database is vacuumed by autovacuum, which keeps the visibility map
        # current so counts can be index-only; the test server may run with autovacuum
        # off, and a freshly seeded table has an empty map. Vacuum once, as autovacuum would.
        facts["autovacuum"] = psql("SHOW autovacuum", database)
        psql("VACUUM (ANALYZE)", database)  # every table, the report roll-up included
    return env, facts


def credentials(env: dict[str, str]) -> dict:
    out = subprocess.run([str(VENV_BIN / "python"), "-m", "bench.dashboard.credentials"],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    if out.returncode != 0:
        raise RuntimeError(f"credentials failed: {out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_db(db: str, args: argparse.Namespace) -> dict:
    env, facts = prepare(db, args.cases, args.reuse, args.pg_db, args.timezone)
    creds = credentials(env)
    rows = []
    with Gunicorn("wsgi:app", env, args.port) as server:
        wanted = [word for word in args.only.split(",") if word]
        rows_of = [(page, role) for page in pages(creds["reference"], creds["latest_id"],
                                                  creds["first_day"])
                   if not wanted or page.label == BASELINE
                   or any(word in page.label for word in wanted)
                   for role in ("staff", "supervisor")]
        for (page, role), result in zip(rows_of, measure(args.port, rows_of, creds,
                                                         args.requests), strict=True):
            rows.append({"page": page.label, "role": role, "path": page.path, **result})
            shown = result.get("text") or f"p95 {result['p95_ms']} ms"
            log(f"[{db}] {page.label:<26} {role:<10} {shown}")
        facts["gunicorn"] = server.settings
        facts["load_after"] = Path("/proc/loadavg").read_text().split()[0]
    return {"facts": facts, "rows": rows}


def cell(result: dict | None, baseline: dict | None = None) -> str:
    """p50 / p95 (answer size), and the p95 as a multiple of the run's baseline p95."""
    if result is None:
        return "–"
    if result["status"] == "failed":
        return result["text"]
    figures = f"{result['p50_ms']:.1f} / {result['p95_ms']:.1f}"
    if baseline and baseline.get("status") == 200 and baseline["p95_ms"] > 0:
        figures += f" (×{result['p95_ms'] / baseline['p95_ms']:.1f})"
    if result["status"] != 200:
        return f"{figures} ({result['text']})"
    return f"{figures} ({result['bytes'] / 1024:.0f} KB)"


def report(results: dict, args: argparse.Namespace) -> list[str]:
    """Print the table; return the targets missed (PostgreSQL p95 over 100 ms)."""
    dbs = list(results)
    print(f"machine: {machine()}; load average before the run {args.load_before}"
          f"; HOTLINE_TIMEZONE {args.timezone or 'UTC (default)'}")
    for db in dbs:
        facts = results[db]["facts"]
        seeded = ("reused an already seeded database" if facts["reused"]
                  else f"seeded in {facts['seed_seconds']} s ({facts['seed_summary']})")
        vacuum = (f"; VACUUM (ANALYZE) run before measuring (server autovacuum "
                  f"{facts['autovacuum']})" if "autovacuum" in facts else "")
        print(f"{db}: {args.cases:,} cases, {seeded}{vacuum}; gunicorn {facts['gunicorn']}; "
              f"load average after {facts['load_after']}")
    print(f"{args.requests} requests per row after {WARMUP} warm-up requests, one at a time, "
          "rows taking turns, each row on its own keep-alive connection; every answer "
          "checked for its status and a marker; cells are p50 / p95 in ms (p95 as a multiple "
          "of the baseline row's p95 in the same run) (answer size)")
    print()
    print("| page | role | " + " | ".join(dbs) + " |")
    print("|---|---|" + "---|" * len(dbs))
    missed = []
    index = {db: {(r["page"], r["role"]): r for r in results[db]["rows"]} for db in dbs}
    for key in index[dbs[0]]:
        cells = [cell(index[db].get(key), index[db].get((BASELINE, key[1]))) for db in dbs]
        print(f"| {key[0]} | {key[1]} | " + " | ".join(cells) + " |")
        pg = index.get("postgres", {}).get(key)
        if pg and pg["status"] == 200 and pg["p95_ms"] >= TARGET_P95_MS:
            missed.append(f"{key[0]} as {key[1]}: p95 {pg['p95_ms']} ms on PostgreSQL")
    print()
    for line in missed:
        print(f"target missed (p95 < {TARGET_P95_MS:.0f} ms): {line}")
    if not missed and "postgres" in index:
        print(f"target met: every PostgreSQL row p95 < {TARGET_P95_MS:.0f} ms")
    return missed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--db", choices=("postgres", "sqlite", "both"), default="both")
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--port", type=int, default=8911)
    parser.add_argument("--pg-db", default=PG_DB,
                        help=f"PostgreSQL database to seed or reuse (default {PG_DB})")
    parser.add_argument("--reuse", action="store_true",
                        help="keep a database that already holds enough cases")
    parser.add_argument("--smoke", action="store_true", help="300 cases, 5 requests a row")
    parser.add_argument("--timezone", default="",
                        help="HOTLINE_TIMEZONE for the app (e.g. Europe/Kyiv: the report then "
                             "counts local days); default: the app's (UTC)")
    parser.add_argument("--only", default="",
                        help="measure only rows whose label contains one of these "
                             "comma-separated words (the baseline row always runs)")
    args = parser.parse_args()
    if args.smoke:
        args.cases, args.requests = 300, 5
    args.load_before = Path("/proc/loadavg").read_text().split()[0]
    WORK.mkdir(parents=True, exist_ok=True)
    dbs = ("postgres", "sqlite") if args.db == "both" else (args.db,)
    results = {db: run_db(db, args) for db in dbs}
    report(results, args)
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / f"dashboard-{time.strftime('%Y%m%d-%H%M%S')}.json").write_text(
        json.dumps({"cases": args.cases, "results": results}, indent=2))
    errors = [f"{db}: {r['page']} as {r['role']}: {r['text']}"
              for db in dbs for r in results[db]["rows"] if r["status"] == "failed"]
    for line in errors:
        print(line)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
