"""What the report roll-up's triggers cost the intake, measured inside PostgreSQL.

``EXPLAIN (ANALYZE)`` reports the time of each trigger a statement fires, separately from
the statement itself, so the roll-up's share of an intake statement is measured where it
runs, without the client's or the machine's noise. On a fresh migrated database this
runs, each in its own transaction as intake does:

- the case insert of a new sender (status ``new``: the roll-up adds one day row);
- the case update of a repeat message (``updated_at``, ``version``: no trigger fires);
- the update of a caller writing to a *waiting* case (status to ``in_progress``: the
  monthly facts move for every filter combination);

and prints the mean statement and trigger times. Usage::

    .venv/bin/python bench/intake/rollup_cost.py [--repeat N]
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.common import app_env, drop_database, flask, log, pg_url, recreate_database

DATABASE = "hotline_bench_rollup_cost"
TRIGGER = re.compile(r"Trigger (\S+): time=([\d.]+) calls=(\d+)")
EXECUTION = re.compile(r"Execution Time: ([\d.]+) ms")


def _explain(conn, sql: str, params: dict) -> tuple[float, dict[str, float]]:
    """(execution ms without triggers, {trigger: ms}) of one statement, rolled back."""
    with conn.transaction(force_rollback=True):
        plan = [row[0] for row in conn.execute(f"EXPLAIN (ANALYZE) {sql}", params)]
    triggers = {name: float(ms) for line in plan for name, ms, _calls in TRIGGER.findall(line)}
    total = next(float(m.group(1)) for line in plan if (m := EXECUTION.search(line)))
    return total - sum(triggers.values()), triggers


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=500)
    args = parser.parse_args()
    import psycopg

    url = recreate_database(DATABASE)
    flask(["db", "upgrade"], app_env(url))
    with psycopg.connect(pg_url(DATABASE), autocommit=True) as conn:
        caller = conn.execute(
            "INSERT INTO callers (address_index, address_kind, opted_out, first_seen, "
            "last_seen) VALUES ('bench', 'phone', false, now(), now()) RETURNING id"
        ).fetchone()[0]
        case = conn.execute(
            "INSERT INTO cases (reference, caller_id, channel, status, urgency, language, "
            "version, callback_needed, created_at, updated_at) VALUES ('BENCH000', %s, 'sms', "
            "'waiting', 'normal', 'ru', 1, false, now(), now()) RETURNING id", (caller,)
        ).fetchone()[0]
        shapes = {
            "new case (insert)": (
                "INSERT INTO cases (reference, caller_id, channel, status, urgency, language, "
                "version, callback_needed, created_at, updated_at) VALUES (%(ref)s, "
                "%(caller)s, 'sms', 'new', 'normal', 'ru', 1, false, now(), now())",
                lambda i: {"ref": f"B{i:07d}", "caller": caller}),
            "repeat message (update)": (
                "UPDATE cases SET updated_at = now(), version = version + 1 WHERE id = %(id)s",
                lambda i: {"id": case}),
            "message to a waiting case (update)": (
                "UPDATE cases SET updated_at = now(), version = version + 1, "
                "status = 'in_progress' WHERE id = %(id)s",
                lambda i: {"id": case}),
        }
        print(f"PostgreSQL {conn.info.server_version}, {args.repeat} statements each, "
              "each in its own rolled-back transaction; medians in ms")
        print("| statement | statement itself | roll-up triggers |")
        print("|---|---|---|")
        for label, (sql, params) in shapes.items():
            own, fired = [], []
            for i in range(args.repeat):
                statement, triggers = _explain(conn, sql, params(i))
                own.append(statement)
                fired.append(sum(ms for name, ms in triggers.items()
                                 if name.startswith("report_cases")))
            print(f"| {label} | {statistics.median(own):.3f} | "
                  f"{statistics.median(fired):.3f} |")
    drop_database(DATABASE)
    log("done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
