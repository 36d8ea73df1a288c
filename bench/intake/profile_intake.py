"""Profile the SMS intake in-process: SQL statements and commits per request, and where
the time goes.

Runs the app (production settings, as the harness does) against a fresh PostgreSQL
database with Flask's test client, one request at a time, so the figures are per
request without server or client noise. Usage::

    .venv/bin/python bench/intake/profile_intake.py [--requests N] [--pyinstrument]

Prints statements and commits per request (new senders and repeat callers apart), the
mean time per request, this process's CPU and the PostgreSQL backends' CPU per request
(read from ``/proc``, so PostgreSQL must run on this machine: it is where the report
roll-up's triggers run); with ``--pyinstrument`` also the call tree. ``--no-rollup``
drops the roll-up's triggers after the upgrade, to measure what they cost.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.common import (
    app_env,
    drop_database,
    flask,
    log,
    psql,
    recreate_database,
)
from bench.intake.run import PATH, build_requests

DATABASE = "hotline_bench_intake_profile"


def backend_cpu(database: str) -> float:
    """CPU seconds (user + system) used so far by the PostgreSQL backends of ``database``."""
    pids = psql(f"SELECT pid FROM pg_stat_activity WHERE datname = '{database}'",  # noqa: S608
                "postgres").split()
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
    return total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--pyinstrument", action="store_true")
    parser.add_argument("--cprofile", action="store_true",
                        help="print the functions with the most own time (cProfile)")
    parser.add_argument("--database", default=DATABASE)
    parser.add_argument("--show", action="store_true",
                        help="print the statements of the first new-sender request")
    parser.add_argument("--no-rollup", action="store_true",
                        help="drop the report roll-up's triggers first (to measure them)")
    args = parser.parse_args()

    env = app_env(recreate_database(args.database))
    flask(["db", "upgrade"], env)
    if args.no_rollup:
        for name in ("inserted", "deleted", "updated", "truncated"):
            psql(f"DROP TRIGGER IF EXISTS report_cases_{name} ON cases", args.database)
    os.environ.update(env)

    from sqlalchemy import event

    from hotline import create_app
    from hotline.extensions import db

    app = create_app()
    counts: Counter[str] = Counter()
    with app.app_context():
        engine = db.engine

    @event.listens_for(engine, "before_cursor_execute")
    def _statement(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        counts["statements"] += 1
        if shown is not None:
            shown.append(" ".join(statement.split())[:150])

    @event.listens_for(engine, "commit")
    def _commit(*_args: object) -> None:
        counts["commits"] += 1

    shown: list[str] | None = [] if args.show else None
    rows = build_requests(args.requests, "0000prof", seed=5)
    client = app.test_client()
    seen: set[str] = set()
    per_kind: dict[str, list[tuple[int, int]]] = {"new sender": [], "repeat caller": []}
    profiler = None
    if args.pyinstrument:
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.0005)
    warm = rows[:50]
    saved, shown = shown, None
    for _sid, signature, body in warm:
        client.post(PATH, data=body, headers={"X-Twilio-Signature": signature,
                                              "Content-Type": "application/x-www-form-urlencoded"})
    shown = saved
    if profiler:
        profiler.start()
    if args.cprofile:
        import cProfile

        tracer = cProfile.Profile()
        tracer.enable()
    started, cpu_started = time.perf_counter(), time.process_time()
    backend_started = backend_cpu(args.database)
    for _sid, signature, body in rows[50:]:
        sender = body.split("From=", 1)[1].split("&", 1)[0]
        counts.clear()
        response = client.post(PATH, data=body, headers={
            "X-Twilio-Signature": signature,
            "Content-Type": "application/x-www-form-urlencoded"})
        if response.status_code != 200:
            raise RuntimeError(f"status {response.status_code}")
        kind = "repeat caller" if sender in seen else "new sender"
        seen.add(sender)
        per_kind[kind].append((counts["statements"], counts["commits"]))
        if shown is not None and kind == "new sender":
            print("\n".join(shown))
            shown = None
        elif shown is not None:
            shown.clear()
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    backend = backend_cpu(args.database) - backend_started
    if profiler:
        profiler.stop()
    if args.cprofile:
        import pstats

        tracer.disable()
        pstats.Stats(tracer).sort_stats("tottime").print_stats(45)
    n = len(rows) - 50
    print(f"{n} requests in-process: {elapsed / n * 1000:.2f} ms per request, "
          f"{cpu / n * 1000:.2f} ms CPU of this process, "
          f"{backend / n * 1000:.3f} ms CPU of PostgreSQL"
          + (" (roll-up triggers dropped)" if args.no_rollup else ""))
    for kind, values in per_kind.items():
        if values:
            print(f"{kind}: {len(values)} requests, "
                  f"{sum(v[0] for v in values) / len(values):.1f} statements, "
                  f"{sum(v[1] for v in values) / len(values):.2f} commits per request")
    if profiler:
        print(profiler.output_text(unicode=True, color=False, show_all=False))
    with app.app_context():
        db.engine.dispose()
    drop_database(args.database)
    log("done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
