"""report roll-up: daily and monthly counts kept exact by triggers on cases

Revision ID: 0026_report_rollup
Revises: 0025_key_canary

Two tables hold what the supervisor report and ``/api/v1/stats`` count, so a report over
a year or over all time reads a few thousand rows instead of every case:

- ``report_days``: cases opened per UTC day, channel and language (``category = '*'``),
  and the same per category for classified cases (``category = <value>``).
- ``report_facts``: per UTC month, for each of the 8 combinations of the report's
  filters (channel, language, category; ``'*'`` = any), counts of cases opened that month
  by status (other than ``new``), urgency (other than ``normal``), affiliation and
  category (when set) and by first-response bucket; and counts of cases *closed* that
  month by resolution and by assignee. ``''`` stands for an unset value.

A value a case has when intake opens it (status ``new``, urgency ``normal``, no
category, affiliation or response) is not stored: it is the day count minus the others.
So opening a case touches one row (``report_days``), and the rows every filter
combination shares are only written by staff actions, never by intake, which would
serialise a burst of new cases on them.

The rows are kept exact by triggers on ``cases`` in the same transaction as the change,
whatever writes it (intake, staff actions, retention, demo seed's COPY, SQL by hand):

- PostgreSQL: statement-level AFTER INSERT / AFTER DELETE triggers over the transition
  table (one aggregate per statement, so a 20,000-row COPY is one upsert, not 20,000),
  a row-level AFTER UPDATE trigger that fires only when a counted column changed (a
  message bumping ``updated_at`` and ``version`` costs nothing), and AFTER TRUNCATE.
- SQLite: row-level AFTER INSERT / UPDATE / DELETE triggers with the same SQL.

The views ``report_days_source`` and ``report_facts_source`` compute the same rows from
``cases`` directly; ``flask reports rebuild`` and this migration's backfill copy them,
``flask reports check`` compares. The index ``ix_cases_first_response`` serves the exact
percentile read (``hotline.reports.rollup``).
"""
import sqlalchemy as sa
from alembic import op

revision = "0026_report_rollup"
down_revision = "0025_key_canary"
branch_labels = None
depends_on = None

# Copies of hotline.reports.buckets at the time of this migration (checked by
# tests/test_reports_rollup.py): the bucket of a first-response delay in whole seconds.
SUB_BUCKETS = 16
FIRST_OCTAVE = 5
MAX_OCTAVE = 31
OVERFLOW = 2 ** MAX_OCTAVE


def bucket_sql(whole_seconds):
    parts = [f"CASE WHEN {whole_seconds} < {2 ** FIRST_OCTAVE} THEN {whole_seconds}"]
    for octave in range(FIRST_OCTAVE, MAX_OCTAVE):
        width = 2 ** (octave - (FIRST_OCTAVE - 1))
        parts.append(f" WHEN {whole_seconds} < {2 ** (octave + 1)} "
                     f"THEN {whole_seconds} - {whole_seconds} % {width}")
    parts.append(f" ELSE {OVERFLOW} END")
    return "".join(parts)


def seconds_sql(dialect, responded="first_response_at", created="created_at"):
    if dialect == "postgresql":
        return f"date_part('epoch', {responded} - {created})"
    return f"((julianday({responded}) - julianday({created})) * 86400.0)"


def whole_seconds_sql(dialect, responded="first_response_at", created="created_at"):
    seconds = seconds_sql(dialect, responded, created)
    if dialect == "postgresql":
        return f"floor({seconds})::bigint"
    return f"CAST({seconds} AS INTEGER)"


# The case columns the roll-up reads. Changing any of them moves a case's counts.
COUNTED = ("created_at", "channel", "language", "category", "status", "urgency",
           "affiliation", "first_response_at", "closed_at", "resolution")
SOURCE = (*COUNTED, "assigned_to_id")
MASKS = " UNION ALL ".join(f"SELECT {m} AS m" for m in range(8))


def _day(dialect, column):
    if dialect == "postgresql":
        return f"(({column} AT TIME ZONE 'UTC')::date)"
    return f"date({column})"


def _month(dialect, column):
    if dialect == "postgresql":
        return f"(date_trunc('month', {column} AT TIME ZONE 'UTC')::date)"
    return f"date(strftime('%Y-%m-01', {column}))"


def _row(prefix):
    """A one-row relation of the case columns of OLD or NEW (inside a trigger)."""
    return "(SELECT " + ", ".join(f"{prefix}.{name} AS {name}" for name in SOURCE) + ")"


def day_rows(dialect, source, delta):
    """(category, day, channel, language, delta) rows of the cases in ``source``."""
    day = _day(dialect, "created_at")
    return (f"SELECT '*' AS category, {day} AS day, channel, COALESCE(language, '') "
            f"AS language, {delta} AS delta FROM {source} AS src"
            f" UNION ALL SELECT category, {day}, channel, COALESCE(language, ''), {delta} "
            f"FROM {source} AS src WHERE category IS NOT NULL")


def fact_rows(dialect, source, delta):
    """(month, channel, language, category, measure, value, delta) rows of ``source``."""
    opened, closed = _month(dialect, "created_at"), _month(dialect, "closed_at")
    bucket = bucket_sql(whole_seconds_sql(dialect))
    is_closed = "status = 'closed' AND closed_at IS NOT NULL"
    measures = (
        ("category", opened, "category", "category IS NOT NULL"),
        ("status", opened, "status", "status <> 'new'"),
        ("urgency", opened, "urgency", "urgency <> 'normal'"),
        ("affiliation", opened, "affiliation", "affiliation IS NOT NULL"),
        ("response", opened, f"CAST({bucket} AS TEXT)",
         "first_response_at IS NOT NULL AND first_response_at >= created_at"),
        ("resolution", closed, "COALESCE(resolution, '')", is_closed),
        ("closed_by", closed, "COALESCE(CAST(assigned_to_id AS TEXT), '')", is_closed),
    )
    return " UNION ALL ".join(
        f"SELECT {period} AS month, channel, COALESCE(language, '') AS language, "
        f"COALESCE(category, '') AS category, '{measure}' AS measure, "
        f"CAST({value} AS TEXT) AS value, {delta} AS delta FROM {source} AS src WHERE {cond}"
        for measure, period, value, cond in measures)


def days_select(rows):
    return ("SELECT category, day, channel, language, SUM(delta) AS cases "
            f"FROM ({rows}) AS d GROUP BY category, day, channel, language "
            "HAVING SUM(delta) <> 0")


def facts_select(rows):
    """The rows for every filter combination: each fact at its own key, then with each
    subset of (channel, language, category) replaced by '*'."""
    full = ("SELECT month, channel, language, category, measure, value, SUM(delta) AS n "
            f"FROM ({rows}) AS f GROUP BY month, channel, language, category, measure, value")
    spread = ("SELECT f.month AS month, "
              "CASE WHEN m.m & 1 = 1 THEN f.channel ELSE '*' END AS channel, "
              "CASE WHEN m.m & 2 = 2 THEN f.language ELSE '*' END AS language, "
              "CASE WHEN m.m & 4 = 4 THEN f.category ELSE '*' END AS category, "
              f"f.measure AS measure, f.value AS value, f.n AS n FROM ({full}) AS f "
              f"CROSS JOIN ({MASKS}) AS m")
    return ("SELECT month, channel, language, category, measure, value, SUM(n) AS n "
            f"FROM ({spread}) AS s GROUP BY month, channel, language, category, measure, "
            "value HAVING SUM(n) <> 0")


DAY_KEY = "category, day, channel, language"
FACT_KEY = "channel, language, category, month, measure, value"


def days_upsert(rows):
    return (f"INSERT INTO report_days ({DAY_KEY}, cases) SELECT {DAY_KEY}, cases FROM "
            f"({days_select(rows)}) AS u WHERE true ORDER BY {DAY_KEY} "
            f"ON CONFLICT ({DAY_KEY}) DO UPDATE SET cases = report_days.cases + excluded.cases")


def facts_upsert(rows):
    return (f"INSERT INTO report_facts ({FACT_KEY}, n) SELECT {FACT_KEY}, n FROM "
            f"({facts_select(rows)}) AS u WHERE true ORDER BY {FACT_KEY} "
            f"ON CONFLICT ({FACT_KEY}) DO UPDATE SET n = report_facts.n + excluded.n")


def _changed(dialect):
    """The UPDATE trigger's condition: a counted column changed, or the assignee of a
    closed case (closures are counted per assignee)."""
    if dialect == "postgresql":
        old = ", ".join(f"OLD.{c}" for c in COUNTED)
        new = ", ".join(f"NEW.{c}" for c in COUNTED)
        return (f"(({old}) IS DISTINCT FROM ({new}) OR (OLD.assigned_to_id IS DISTINCT FROM "
                "NEW.assigned_to_id AND (OLD.status = 'closed' OR NEW.status = 'closed')))")
    parts = [f"OLD.{c} IS NOT NEW.{c}" for c in COUNTED]
    parts.append("(OLD.assigned_to_id IS NOT NEW.assigned_to_id AND "
                 "(OLD.status = 'closed' OR NEW.status = 'closed'))")
    return " OR ".join(parts)


def _has_facts(prefix=""):
    """True for a case with more than intake's defaults (so it has report_facts rows)."""
    return " OR ".join(f"{prefix}{cond}" for cond in (
        "category IS NOT NULL", "status <> 'new'", "urgency <> 'normal'",
        "affiliation IS NOT NULL", "first_response_at IS NOT NULL", "closed_at IS NOT NULL"))


def _statements_postgresql():
    d = "postgresql"
    # A case opened by intake has no facts: its insert skips the fact query.
    inserted = (days_upsert(day_rows(d, "new_rows", 1)) + ";\n"
                f"IF EXISTS (SELECT 1 FROM new_rows WHERE {_has_facts()}) THEN\n"
                + facts_upsert(fact_rows(d, "new_rows", 1)) + ";\nEND IF;")
    deleted = days_upsert(day_rows(d, "old_rows", -1)) + ";\n" + facts_upsert(
        fact_rows(d, "old_rows", -1)) + ";"
    moved_days = f"{day_rows(d, _row('OLD'), -1)} UNION ALL {day_rows(d, _row('NEW'), 1)}"
    moved_facts = f"{fact_rows(d, _row('OLD'), -1)} UNION ALL {fact_rows(d, _row('NEW'), 1)}"
    day_columns = ("created_at", "channel", "language", "category")
    updated = (f"IF ({', '.join(f'OLD.{c}' for c in day_columns)}) IS DISTINCT FROM "
               f"({', '.join(f'NEW.{c}' for c in day_columns)}) THEN\n"
               + days_upsert(moved_days) + ";\nEND IF;\n" + facts_upsert(moved_facts) + ";")
    functions = {
        "report_cases_inserted": inserted,
        "report_cases_deleted": deleted,
        "report_cases_updated": updated,
        # DELETE, not TRUNCATE: a TRUNCATE of several tables at once may hold these.
        "report_cases_truncated": "DELETE FROM report_days; DELETE FROM report_facts;",
    }
    out = [f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $body$\nBEGIN\n"
           f"{body}\nRETURN NULL;\nEND\n$body$" for name, body in functions.items()]
    out += [
        "CREATE TRIGGER report_cases_inserted AFTER INSERT ON cases REFERENCING NEW TABLE "
        "AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION report_cases_inserted()",
        "CREATE TRIGGER report_cases_deleted AFTER DELETE ON cases REFERENCING OLD TABLE "
        "AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION report_cases_deleted()",
        f"CREATE TRIGGER report_cases_updated AFTER UPDATE OF {', '.join(SOURCE)} ON cases "
        f"FOR EACH ROW WHEN {_changed(d)} EXECUTE FUNCTION report_cases_updated()",
        "CREATE TRIGGER report_cases_truncated AFTER TRUNCATE ON cases FOR EACH STATEMENT "
        "EXECUTE FUNCTION report_cases_truncated()",
    ]
    return out


def _statements_sqlite():
    d = "sqlite"
    new, old = _row("NEW"), _row("OLD")
    # Opening a case at intake counts only its day: skip the fact upsert when the new
    # row has nothing but intake's defaults.
    has_facts = _has_facts("NEW.")
    return [
        f"CREATE TRIGGER report_cases_inserted AFTER INSERT ON cases BEGIN "
        f"{days_upsert(day_rows(d, new, 1))}; END",
        f"CREATE TRIGGER report_cases_inserted_facts AFTER INSERT ON cases WHEN {has_facts} "
        f"BEGIN {facts_upsert(fact_rows(d, new, 1))}; END",
        f"CREATE TRIGGER report_cases_deleted AFTER DELETE ON cases BEGIN "
        f"{days_upsert(day_rows(d, old, -1))}; {facts_upsert(fact_rows(d, old, -1))}; END",
        f"CREATE TRIGGER report_cases_updated AFTER UPDATE OF {', '.join(SOURCE)} ON cases "
        f"WHEN {_changed(d)} BEGIN "
        f"{days_upsert(f'{day_rows(d, old, -1)} UNION ALL {day_rows(d, new, 1)}')}; "
        f"{facts_upsert(f'{fact_rows(d, old, -1)} UNION ALL {fact_rows(d, new, 1)}')}; END",
    ]


def _first_response_index(dialect):
    seconds = seconds_sql(dialect)
    if dialect == "postgresql":
        return (f"CREATE INDEX ix_cases_first_response ON cases (({seconds})) INCLUDE "
                "(created_at, first_response_at, channel, language, category) "
                "WHERE first_response_at >= created_at")
    return (f"CREATE INDEX ix_cases_first_response ON cases (({seconds}), created_at, "
            "first_response_at, channel, language, category) "
            "WHERE first_response_at >= created_at")


def upgrade():
    dialect = op.get_bind().dialect.name
    op.create_table(
        "report_days",
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("cases", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("category", "day", "channel", "language",
                                name=op.f("pk_report_days")),
        sqlite_with_rowid=False,  # stored in key order: a range is one contiguous read
    )
    op.create_table(
        "report_facts",
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("measure", sa.String(length=16), nullable=False),
        sa.Column("value", sa.String(length=32), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        # Covering (PostgreSQL): a filter combination's months are one index-only range
        # read, however the rows lie in the heap after years of updates. Only staff
        # actions update these rows (never intake), so the lost HOT updates cost little.
        sa.PrimaryKeyConstraint("channel", "language", "category", "month", "measure", "value",
                                name=op.f("pk_report_facts"), postgresql_include=["n"]),
        sqlite_with_rowid=False,
    )
    op.execute("CREATE VIEW report_days_source AS "
               + days_select(day_rows(dialect, "cases", 1)))
    op.execute("CREATE VIEW report_facts_source AS "
               + facts_select(fact_rows(dialect, "cases", 1)))
    statements = _statements_postgresql() if dialect == "postgresql" else _statements_sqlite()
    for statement in statements:
        op.execute(statement)
    op.execute(_first_response_index(dialect))
    # Backfill: the same rows ``flask reports rebuild`` writes (in key order, so each
    # filter combination starts out contiguous on disk).
    op.execute(f"INSERT INTO report_days ({DAY_KEY}, cases) "
               f"SELECT {DAY_KEY}, cases FROM report_days_source ORDER BY {DAY_KEY}")
    op.execute(f"INSERT INTO report_facts ({FACT_KEY}, n) "
               f"SELECT {FACT_KEY}, n FROM report_facts_source ORDER BY {FACT_KEY}")


def downgrade():
    dialect = op.get_bind().dialect.name
    op.execute("DROP INDEX ix_cases_first_response")
    if dialect == "postgresql":
        for name in ("inserted", "deleted", "updated", "truncated"):
            op.execute(f"DROP TRIGGER report_cases_{name} ON cases")
            op.execute(f"DROP FUNCTION report_cases_{name}()")
    else:
        for name in ("inserted", "inserted_facts", "deleted", "updated"):
            op.execute(f"DROP TRIGGER report_cases_{name}")
    op.execute("DROP VIEW report_facts_source")
    op.execute("DROP VIEW report_days_source")
    op.drop_table("report_facts")
    op.drop_table("report_days")
