"""Where a dashboard request's time goes: in-process timings with per-statement SQL cost.

Run with the bench app's environment against a seeded database, for example
``python -m bench.dashboard.profile --pg-db hotline_bench_dash_perf``. For each measured
route and role it prints the median wall time, the time spent in SQL, the number of
statements, and the slowest statements; ``--pyinstrument`` adds a call profile per route.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.common import WORK, app_env, pg_url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pg-db", default="hotline_bench_dash")
    parser.add_argument("--sqlite", help="an SQLite file instead of PostgreSQL")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--only", help="measure only routes whose label contains this")
    parser.add_argument("--pyinstrument", action="store_true")
    args = parser.parse_args()
    import os

    url = f"sqlite:///{args.sqlite}" if args.sqlite else pg_url(args.pg_db)
    os.environ.update(app_env(url))
    if os.environ.get("BENCH_TIMEZONE"):
        os.environ["HOTLINE_TIMEZONE"] = os.environ["BENCH_TIMEZONE"]

    from sqlalchemy import event, func, select

    from bench.dashboard.run import pages
    from hotline import create_app
    from hotline.api.tokens import create_token
    from hotline.auth import server_sessions
    from hotline.auth.guards import MFA_SESSION_KEY
    from hotline.auth.lifetime import AUTH_AT_KEY, SEEN_AT_KEY, SERVER_SESSION_KEY
    from hotline.cases.references import format_reference
    from hotline.demo import DEMO_EMAIL_DOMAIN
    from hotline.extensions import db
    from hotline.models import Case, User, utcnow

    app = create_app()
    with app.app_context():
        users = {role: db.session.execute(select(User).where(
            User.email == f"{role}01@{DEMO_EMAIL_DOMAIN}")).scalar_one()
            for role in ("staff", "supervisor")}
        staff_id = users["staff"].id
        reference = format_reference(db.session.execute(
            select(Case.reference).where(Case.assigned_to_id == staff_id)
            .order_by(Case.id.desc()).limit(1)).scalar_one())
        latest = int(db.session.execute(select(func.max(Case.id))).scalar() or 0)
        first = db.session.execute(select(func.min(Case.created_at))).scalar()
        first_day = (first or utcnow()).date().isoformat()
        tokens = {role: create_token(f"profile-{role}", role)[1] for role in users}
        db.session.commit()
        identities = {role: user.get_id() for role, user in users.items()}
        user_ids = {role: user.id for role, user in users.items()}
        engine = db.engine

    timings: list[tuple[float, str]] = []

    @event.listens_for(engine, "before_cursor_execute")
    def _before(conn, cursor, statement, params, context, executemany):
        conn.info.setdefault("started", []).append(time.perf_counter())

    @event.listens_for(engine, "after_cursor_execute")
    def _after(conn, cursor, statement, params, context, executemany):
        started = conn.info["started"].pop()
        timings.append(((time.perf_counter() - started) * 1000, statement))

    for page in pages(reference, latest, first_day):
        if args.only and args.only not in page.label:
            continue
        for role in ("staff", "supervisor"):
            if page.expect[role] != 200:
                continue
            client = app.test_client()
            headers = dict(page.headers)
            if page.kind == "api":
                headers["Authorization"] = f"Bearer {tokens[role]}"
            else:
                now = utcnow()
                stamp = int(now.timestamp())
                with app.app_context():
                    sid = server_sessions.open_session(server_sessions.STAFF, now,
                                                       user_id=user_ids[role])
                    db.session.commit()
                with client.session_transaction() as sess:
                    sess.update({SERVER_SESSION_KEY: sid, "_user_id": identities[role],
                                 "_fresh": True, MFA_SESSION_KEY: True, AUTH_AT_KEY: stamp,
                                 SEEN_AT_KEY: stamp})
            client.get(page.path, headers=headers)  # warm-up
            walls, sqls, counts = [], [], []
            per_statement: dict[str, list[float]] = defaultdict(list)
            profiler = None
            if args.pyinstrument:
                from pyinstrument import Profiler
                profiler = Profiler(interval=0.0005)
                profiler.start()
            for _ in range(args.repeat):
                timings.clear()
                started = time.perf_counter()
                response = client.get(page.path, headers=headers)
                walls.append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200, (page.label, response.status_code)
                assert page.marker.encode() in response.data, page.label
                sqls.append(sum(ms for ms, _ in timings))
                counts.append(len(timings))
                for ms, statement in timings:
                    per_statement[statement].append(ms)
            print(f"== {page.label} as {role}: wall {statistics.median(walls):.1f} ms, "
                  f"SQL {statistics.median(sqls):.1f} ms in {max(counts)} statements")
            slowest = sorted(per_statement.items(), key=lambda kv: -statistics.median(kv[1]))
            for statement, values in slowest[:4]:
                flat = " ".join(statement.split())
                print(f"   {statistics.median(values):7.1f} ms x{len(values) // args.repeat}  "
                      f"{flat[:300]}")
            if profiler is not None:
                profiler.stop()
                WORK.mkdir(parents=True, exist_ok=True)
                name = "".join(ch if ch.isalnum() else "-" for ch in page.label)
                out = WORK / f"profile-{name}-{role}.txt"
                out.write_text(profiler.output_text(unicode=False, color=False))
                print(f"   call profile: {out}")


if __name__ == "__main__":
    main()
