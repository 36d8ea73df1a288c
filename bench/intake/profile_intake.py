"""Profile the SMS intake in-process: SQL statements and commits per request, and where
the time goes.

Runs the app (production settings, as the harness does) against a fresh PostgreSQL
database with Flask's test client, one request at a time, so the figures are per
request without server or client noise. Usage::

    .venv/bin/python bench/intake/profile_intake.py [--requests N] [--pyinstrument]

Prints statements and commits per request (new senders and repeat callers apart) and
the mean time per request; with ``--pyinstrument`` also the call tree.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.common import app_env, drop_database, flask, log, recreate_database  # noqa: E402
from bench.intake.run import PATH, build_requests  # noqa: E402

DATABASE = "hotline_bench_intake_profile"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--pyinstrument", action="store_true")
    parser.add_argument("--cprofile", action="store_true",
                        help="print the functions with the most own time (cProfile)")
    parser.add_argument("--database", default=DATABASE)
    parser.add_argument("--show", action="store_true",
                        help="print the statements of the first new-sender request")
    args = parser.parse_args()

    env = app_env(recreate_database(args.database))
    flask(["db", "upgrade"], env)
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
    for _sid, signature, body in rows[50:]:
        sender = body.split("From=", 1)[1].split("&", 1)[0]
        counts.clear()
        response = client.post(PATH, data=body, headers={
            "X-Twilio-Signature": signature,
            "Content-Type": "application/x-www-form-urlencoded"})
        if response.status_code != 200:  # noqa: PLR2004
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
    if profiler:
        profiler.stop()
    if args.cprofile:
        import pstats

        tracer.disable()
        pstats.Stats(tracer).sort_stats("tottime").print_stats(45)
    n = len(rows) - 50
    print(f"{n} requests in-process: {elapsed / n * 1000:.2f} ms per request, "
          f"{cpu / n * 1000:.2f} ms CPU of this process")
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
