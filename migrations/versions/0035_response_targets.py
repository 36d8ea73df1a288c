"""report: first responses within target, per urgency and channel, in the roll-up

Revision ID: 0035_response_targets
Revises: 0034_unattended

The report shows the share of answered cases whose first response came within the
target of their urgency (``RESPONSE_TARGET_*_MINUTES``), per urgency and per channel,
from the roll-up like every other figure (issue 19: fast at a million cases).

**The rule.** A case is judged by the urgency it had *when its first response left*:
``cases.first_response_urgency``, stamped by a trigger whenever ``first_response_at``
goes from unset to set (whatever writes it: a reply leaving, a callback reaching the
caller, the demo seed, SQL by hand). An urgency raised or lowered afterwards (a later
"now!" message, a re-triage) does not move a response already given to another target.
Cases answered before this migration are stamped with their urgency now (nothing better
is known). The delay is the report's (``first_response_at - created_at``, seconds);
within target means the delay, rounded to the whole second, is at most the target (the
queue calls a case overdue past it; rounding keeps SQLite's ``julianday`` arithmetic,
exact to ~0.1 ms, from turning a response on the target second into a late one).

**The targets** the roll-up counts against are in ``report_targets`` (one row per
urgency, seeded with the defaults 5 / 30 / 240 minutes), so the triggers, the views and
``flask reports rebuild`` read the same numbers. ``reports rebuild`` first copies the
configured targets into it; ``reports check`` says when they differ from the settings.

**The roll-up.** Two measures join ``report_facts`` (per month of opening, for every
filter combination, like ``response``): ``answered`` and ``within``, each with the value
``<urgency>|<channel>``, counted only for answered cases (never at intake, which writes
no facts). The triggers and views of ``0026_report_rollup`` are recreated with them,
built by that migration's own functions (loaded from its file) with the two measures
added and ``first_response_urgency`` among the counted columns.
"""
import importlib.util
from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision = "0035_response_targets"
down_revision = "0034_unattended"
branch_labels = None
depends_on = None

# The defaults of hotline.cases.targets at the time of this migration, in seconds.
DEFAULT_TARGETS = {"immediate": 5 * 60, "high": 30 * 60, "normal": 240 * 60}
NEW_MEASURES = ("answered", "within")
STAMP_FUNCTION = "cases_stamp_response_urgency"
STAMP_TRIGGERS = ("cases_response_urgency_inserted", "cases_response_urgency_updated")


def _load_0026():
    """A private copy of migration 0026's module (its SQL builders)."""
    path = Path(__file__).with_name("0026_report_rollup.py")
    spec = importlib.util.spec_from_file_location("_hotline_0026_report_rollup", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def response_urgency(prefix="src."):
    return f"COALESCE({prefix}first_response_urgency, {prefix}urgency)"


def target_seconds(urgency_sql):
    """The target in seconds of an urgency (an unknown one has normal's, as in the app)."""
    return (f"COALESCE((SELECT t.seconds FROM report_targets AS t WHERE t.urgency = "
            f"{urgency_sql}), (SELECT t.seconds FROM report_targets AS t "
            "WHERE t.urgency = 'normal'))")


def _with_targets():
    """0026's builders with the two measures and the stamped column counted."""
    module = _load_0026()
    original = module.fact_rows
    module.COUNTED = (*module.COUNTED, "first_response_urgency")
    module.SOURCE = (*module.COUNTED, "assigned_to_id")

    def fact_rows(dialect, source, delta):
        opened = module._month(dialect, "created_at")
        key = f"{response_urgency()} || '|' || src.channel"
        answered = "src.first_response_at IS NOT NULL AND src.first_response_at >= src.created_at"
        seconds = module.seconds_sql(dialect, "src.first_response_at", "src.created_at")
        within = f"{answered} AND round({seconds}) <= {target_seconds(response_urgency())}"
        extra = " UNION ALL ".join(
            f"SELECT {opened} AS month, channel, COALESCE(language, '') AS language, "
            f"COALESCE(category, '') AS category, '{measure}' AS measure, "
            f"CAST({key} AS TEXT) AS value, {delta} AS delta FROM {source} AS src "
            f"WHERE {cond}"
            for measure, cond in (("answered", answered), ("within", within)))
        return f"{original(dialect, source, delta)} UNION ALL {extra}"

    module.fact_rows = fact_rows
    return module


def _drop_rollup_sql(dialect):
    if dialect == "postgresql":
        for name in ("inserted", "deleted", "updated", "truncated"):
            op.execute(f"DROP TRIGGER report_cases_{name} ON cases")
            op.execute(f"DROP FUNCTION report_cases_{name}()")
    else:
        for name in ("inserted", "inserted_facts", "deleted", "updated"):
            op.execute(f"DROP TRIGGER report_cases_{name}")
    op.execute("DROP VIEW report_facts_source")
    op.execute("DROP VIEW report_days_source")


def _create_rollup_sql(module, dialect):
    op.execute("CREATE VIEW report_days_source AS "
               + module.days_select(module.day_rows(dialect, "cases", 1)))
    op.execute("CREATE VIEW report_facts_source AS "
               + module.facts_select(module.fact_rows(dialect, "cases", 1)))
    statements = (module._statements_postgresql() if dialect == "postgresql"
                  else module._statements_sqlite())
    for statement in statements:
        op.execute(statement)


def _stamp_statements(dialect):
    inserted = "NEW.first_response_at IS NOT NULL AND NEW.first_response_urgency IS NULL"
    updated = "OLD.first_response_at IS NULL AND NEW.first_response_at IS NOT NULL"
    if dialect == "postgresql":
        return [
            f"CREATE FUNCTION {STAMP_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $body$\n"
            "BEGIN\nNEW.first_response_urgency := NEW.urgency;\nRETURN NEW;\nEND\n$body$",
            f"CREATE TRIGGER {STAMP_TRIGGERS[0]} BEFORE INSERT ON cases FOR EACH ROW "
            f"WHEN ({inserted}) EXECUTE FUNCTION {STAMP_FUNCTION}()",
            f"CREATE TRIGGER {STAMP_TRIGGERS[1]} BEFORE UPDATE OF first_response_at ON cases "
            f"FOR EACH ROW WHEN ({updated}) EXECUTE FUNCTION {STAMP_FUNCTION}()",
        ]
    stamp = "UPDATE cases SET first_response_urgency = NEW.urgency WHERE id = NEW.id"
    return [
        f"CREATE TRIGGER {STAMP_TRIGGERS[0]} AFTER INSERT ON cases WHEN {inserted} "
        f"BEGIN {stamp}; END",
        f"CREATE TRIGGER {STAMP_TRIGGERS[1]} AFTER UPDATE OF first_response_at ON cases "
        f"WHEN {updated} BEGIN {stamp}; END",
    ]


def upgrade():
    dialect = op.get_bind().dialect.name
    op.add_column("cases", sa.Column("first_response_urgency", sa.String(length=16),
                                     nullable=True))
    targets = op.create_table(
        "report_targets",
        sa.Column("urgency", sa.String(length=16), nullable=False),
        sa.Column("seconds", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("urgency", name=op.f("pk_report_targets")),
    )
    op.bulk_insert(targets, [{"urgency": u, "seconds": s} for u, s in DEFAULT_TARGETS.items()])
    # Before the new triggers: the old ones do not count this column, so this backfill
    # leaves the roll-up as it is.
    op.execute("UPDATE cases SET first_response_urgency = urgency "
               "WHERE first_response_at IS NOT NULL")
    _drop_rollup_sql(dialect)
    module = _with_targets()
    _create_rollup_sql(module, dialect)
    for statement in _stamp_statements(dialect):
        op.execute(statement)
    measures = ", ".join(f"'{m}'" for m in NEW_MEASURES)
    op.execute(f"INSERT INTO report_facts ({module.FACT_KEY}, n) "
               f"SELECT {module.FACT_KEY}, n FROM report_facts_source "
               f"WHERE measure IN ({measures}) ORDER BY {module.FACT_KEY}")


def downgrade():
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        for name in STAMP_TRIGGERS:
            op.execute(f"DROP TRIGGER {name} ON cases")
        op.execute(f"DROP FUNCTION {STAMP_FUNCTION}()")
    else:
        for name in STAMP_TRIGGERS:
            op.execute(f"DROP TRIGGER {name}")
    _drop_rollup_sql(dialect)
    _create_rollup_sql(_load_0026(), dialect)
    measures = ", ".join(f"'{m}'" for m in NEW_MEASURES)
    op.execute(f"DELETE FROM report_facts WHERE measure IN ({measures})")
    op.drop_table("report_targets")
    op.drop_column("cases", "first_response_urgency")
