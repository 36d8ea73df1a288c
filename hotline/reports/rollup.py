"""The report's roll-up: what it stores, how a date range is answered from it, rebuild.

Migration ``0026_report_rollup`` creates two tables, kept exact by triggers on ``cases``
in the same transaction as every change (intake, staff actions, retention, the demo
seed, SQL by hand), and two views that compute the same rows from ``cases``:

- ``report_days``: cases opened per UTC day × channel × language, for all cases
  (``category = '*'``) and per category for classified ones. Opening a case touches one
  row of it; nothing else.
- ``report_facts``: per UTC month and per combination of the report's filters
  (``'*'`` = any), cases opened that month by status, urgency, affiliation, category and
  first-response bucket, and cases closed that month by resolution and by assignee. The
  value a case has when intake opens it (status ``new``, urgency ``normal``, nothing
  else set) is not stored; it is the day count minus the other values.

A range ``[since, until)`` (any instants; the report's are whole UTC days) is answered as

- whole UTC days from ``report_days``; the partial days at either end (a range in a
  local time zone, an API timestamp) from ``cases`` directly;
- whole UTC months from ``report_facts``; a partial month at either end from ``cases``:
  either its part inside the range is added, or the whole month is taken and its part
  outside the range subtracted, whichever holds fewer cases (``report_days`` tells).
  "Up to today" subtracts an empty future; "all time" an empty past. So no figure ever
  reads more than about half a month of cases, whatever the range.

First responses within target (migration ``0035_response_targets``): the measures
``answered`` and ``within`` count, per month of opening, the answered cases and those
answered within the target of the urgency they had when the first response left
(``cases.first_response_urgency``, stamped by a trigger), keyed ``<urgency>|<channel>``;
the targets are the rows of ``report_targets`` (``sync_targets`` copies the settings).
``Figures.by["answered"]`` and ``["within"]`` are keyed ``(urgency, channel)``.

Percentiles are exact (``percentile_cont``'s linear interpolation, as before): the
merged histogram says which bucket holds each wanted rank, and one read of the index
``ix_cases_first_response`` over that bucket (1/16 of an octave of delays) returns the
value.

``by_day`` counts UTC days. The report page's per-*local*-day chart is derived from
them plus short windows read from ``cases`` at each local midnight
(``hotline.reports.local_days``, which says why not a per-hour roll-up); totals and
breakdowns of a local-day range are exact already, since only its two partial UTC days
are read from ``cases``.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Date,
    and_,
    case,
    cast,
    func,
    literal,
    literal_column,
    or_,
    select,
    text,
    tuple_,
)

from hotline.cases import targets
from hotline.extensions import db
from hotline.models import Case, ReportDay, ReportFact, ReportTarget
from hotline.reports.buckets import bucket_sql, bucket_upper, seconds_sql, whole_seconds_sql

ANY = "*"
# How an unset value is stored in the roll-up's key columns.
UNSET_VALUE = ""
# Measures of report_facts: counted per month of opening, or of closing.
COHORT_MEASURES = ("status", "urgency", "affiliation", "category", "response")
# Answered cases, and those within target, keyed (urgency at first response, channel).
TARGET_MEASURES = ("answered", "within")
CLOSURE_MEASURES = ("resolution", "closed_by")
# The value a new case has (so it is not stored; see the module docstring).
DEFAULT_VALUES = {"status": "new", "urgency": "normal", "affiliation": None, "category": None}
DAY_KEY = ("category", "day", "channel", "language")
FACT_KEY = ("channel", "language", "category", "month", "measure", "value")


@dataclass(frozen=True)
class Scope:
    """The report's equality filters (None: any)."""

    channel: str | None = None
    language: str | None = None
    category: str | None = None

    def case_conditions(self) -> list[ColumnElement[bool]]:
        return [getattr(Case, name) == value for name, value in self._set()]

    def _set(self) -> list[tuple[str, str]]:
        return [(name, value) for name in ("channel", "language", "category")
                if (value := getattr(self, name))]


@dataclass
class Figures:
    """Counts of the cases opened (and closed) in a range, before the defaults are filled."""

    total: int = 0
    by_day: Counter = field(default_factory=Counter)
    by: dict[str, Counter] = field(default_factory=lambda: {
        name: Counter() for name in ("channel", "language", *COHORT_MEASURES,
                                     *TARGET_MEASURES, *CLOSURE_MEASURES)})

    def add(self, other: Figures, sign: int = 1) -> None:
        self.total += sign * other.total
        self.by_day.update({k: sign * v for k, v in other.by_day.items()})
        for name, counts in other.by.items():
            self.by[name].update({k: sign * v for k, v in counts.items()})


def _dialect() -> str:
    return db.session.get_bind().dialect.name


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, UTC)


def _ceil_day(moment: datetime) -> date:
    day = moment.astimezone(UTC).date()
    return day if _midnight(day) == moment else day + timedelta(days=1)


def _month_start(day: date) -> date:
    return day.replace(day=1)


def _next_month(day: date) -> date:
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


# --- the direct counts (edges of a range, and the reference the tests compare with) ---

def _group_counts(columns: Mapping[str, ColumnElement], source, weight=None
                  ) -> dict[str, Counter]:
    """Rows of ``source`` counted (or ``weight`` summed) by each column separately.

    PostgreSQL: one ``GROUPING SETS`` scan; SQLite: one ``GROUP BY`` per column.
    """
    out: dict[str, Counter] = {name: Counter() for name in columns}
    counted = func.count() if weight is None else func.sum(weight)
    if _dialect() == "postgresql":
        exprs = list(columns.values())
        flags = [func.grouping(expr) for expr in exprs]
        stmt = select(*exprs, *flags, counted).select_from(source).group_by(
            func.grouping_sets(*[tuple_(expr) for expr in exprs]))
        width = len(exprs)
        for row in db.session.execute(stmt):
            for index, name in enumerate(columns):
                if row[width + index] == 0:
                    out[name][row[index]] += int(row[-1])
                    break
        return out
    for name, expr in columns.items():
        stmt = select(expr, counted).select_from(source).group_by(expr)
        for key, count in db.session.execute(stmt):
            out[name][key] += int(count)
    return out


def _day_of(moment: Any) -> ColumnElement:
    """The UTC calendar day of a timestamp column."""
    if _dialect() == "postgresql":
        return cast(func.timezone("UTC", moment), Date)
    return func.date(moment)


def direct_opened(since: datetime, until: datetime, scope: Scope, *,
                  days: bool = False, facts: bool = True) -> Figures:
    """Figures of the cases opened in ``[since, until)`` counted from ``cases`` itself.

    ``days``: the day / channel / language counts; ``facts``: the other breakdowns and
    the response buckets.
    """
    figures = Figures()
    columns: dict[str, Any] = {}
    if days:
        columns.update(day=_day_of(Case.created_at), channel=Case.channel,
                       language=Case.language)
    if facts:
        # The delay in whole seconds is computed once per case, in the subquery; the
        # bucket's CASE then only compares integers.
        whole: ColumnElement[Any] = literal_column(whole_seconds_sql(_dialect()))
        columns.update(status=Case.status, urgency=Case.urgency,
                       affiliation=Case.affiliation, category=Case.category,
                       s=case((Case.first_response_at >= Case.created_at, whole)))
        columns.update(answered=_answered_key(), within=_within_key())
    if not columns:
        return figures
    # OFFSET 0 keeps the planner from folding the subquery (and the delay) back in.
    rows = select(*[expr.label(name) for name, expr in columns.items()]).where(
        Case.created_at >= since, Case.created_at < until, *scope.case_conditions()
    ).offset(0).subquery("edge")
    grouped = {name: rows.c[name] for name in columns if name != "s"}
    if facts:
        grouped["response"] = literal_column(
            f"(CASE WHEN edge.s IS NOT NULL THEN {bucket_sql('edge.s')} END)")
    groups = _group_counts(grouped, rows)
    if days:
        figures.total = sum(groups["day"].values())
        figures.by_day = Counter({_as_date(k): v for k, v in groups["day"].items()})
        figures.by["channel"] = groups["channel"]
        figures.by["language"] = groups["language"]
    if facts:
        for name in ("status", "urgency", "affiliation", "category"):
            figures.by[name] = Counter({k: v for k, v in groups[name].items()
                                        if k != DEFAULT_VALUES[name]})
        figures.by["response"] = Counter({int(k): v for k, v in groups["response"].items()
                                          if k is not None})
        for name in TARGET_MEASURES:
            figures.by[name] = Counter({_target_key(k): v for k, v in groups[name].items()
                                        if k is not None})
    return figures


def _response_urgency() -> ColumnElement:
    return func.coalesce(Case.first_response_urgency, Case.urgency)


def _answered_key() -> ColumnElement:
    """``<urgency at first response>|<channel>`` of an answered case, else NULL."""
    return case((Case.first_response_at >= Case.created_at,
                 _response_urgency() + literal("|") + Case.channel))


def _within_key() -> ColumnElement:
    """``_answered_key`` of a case answered within its target (``report_targets``)."""
    target = ReportTarget.__table__.alias("t")
    normal = select(target.c.seconds).where(target.c.urgency == "normal").scalar_subquery()
    own = select(target.c.seconds).where(
        target.c.urgency == _response_urgency()).scalar_subquery()
    delay: ColumnElement[Any] = literal_column(
        seconds_sql(_dialect(), "cases.first_response_at", "cases.created_at"))
    return case((and_(Case.first_response_at >= Case.created_at,
                      func.round(delay) <= func.coalesce(own, normal)),
                 _response_urgency() + literal("|") + Case.channel))


def _target_key(value: str) -> tuple[str, str]:
    urgency, _bar, channel = value.partition("|")
    return urgency, channel


def direct_closed(since: datetime, until: datetime, scope: Scope) -> Figures:
    """Closures in ``[since, until)`` by resolution and by assignee, from ``cases``."""
    figures = Figures()
    rows = db.session.execute(
        select(Case.assigned_to_id, Case.resolution, func.count())
        .where(Case.closed_at >= since, Case.closed_at < until, Case.status == "closed",
               *scope.case_conditions())
        .group_by(Case.assigned_to_id, Case.resolution))
    for assignee, resolution, count in rows:
        figures.by["resolution"][resolution] += count
        figures.by["closed_by"][assignee] += count
    return figures


def _as_date(value: object) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


# --- the roll-up reads ---------------------------------------------------------------

def _days_rollup(first: date, last: date, scope: Scope) -> Figures:
    """Whole days ``[first, last)`` from ``report_days``."""
    figures = Figures()
    if first >= last:
        return figures
    table = ReportDay.__table__
    conditions = [table.c.category == (scope.category or ANY),
                  table.c.day >= first, table.c.day < last]
    for name in ("channel", "language"):
        if value := getattr(scope, name):
            conditions.append(table.c[name] == value)
    rows = select(table).where(*conditions).subquery("days")
    groups = _group_counts({"day": rows.c.day, "channel": rows.c.channel,
                            "language": rows.c.language}, rows, weight=rows.c.cases)
    figures.by_day = Counter({_as_date(k): v for k, v in groups["day"].items()})
    figures.total = sum(figures.by_day.values())
    figures.by["channel"] = groups["channel"]
    figures.by["language"] = Counter({(k or None): v for k, v in groups["language"].items()})
    return figures


def _facts_rollup(first: date, last: date, scope: Scope) -> Figures:
    """Whole months ``[first, last)`` (first days of months) from ``report_facts``."""
    figures = Figures()
    if first >= last:
        return figures
    table = ReportFact.__table__
    rows = db.session.execute(
        select(table.c.measure, table.c.value, func.sum(table.c.n))
        .where(table.c.channel == (scope.channel or ANY),
               table.c.language == (scope.language or ANY),
               table.c.category == (scope.category or ANY),
               table.c.month >= first, table.c.month < last)
        .group_by(table.c.measure, table.c.value))
    for measure, value, count in rows:
        if measure == "response":
            key: object = int(value)
        elif measure in TARGET_MEASURES:
            key = _target_key(value)
        elif measure == "closed_by":
            key = int(value) if value else None
        else:
            key = value if value != UNSET_VALUE else None
        figures.by[measure][key] += int(count)
    return figures


@dataclass(frozen=True)
class MonthPlan:
    """How a range is read at month grain: months from the roll-up, the rest from cases."""

    first_month: date
    end_month: date  # exclusive
    add: tuple[tuple[datetime, datetime], ...] = ()
    subtract: tuple[tuple[datetime, datetime], ...] = ()


def _cases_per_day(months: Iterable[date]) -> Counter:
    """Cases opened per day of the given months (all channels and languages)."""
    table = ReportDay.__table__
    spans = [and_(table.c.day >= month, table.c.day < _next_month(month)) for month in months]
    rows = db.session.execute(
        select(table.c.day, func.sum(table.c.cases))
        .where(table.c.category == ANY, or_(*spans))
        .group_by(table.c.day))
    return Counter({_as_date(day): int(count) for day, count in rows})


def _estimate(per_day: Counter, start: datetime, end: datetime) -> int:
    """Cases opened in ``[start, end)`` (partial days counted whole): a cost estimate."""
    if end <= start:
        return 0
    first, last = start.astimezone(UTC).date(), _ceil_day(end)
    return sum(count for day, count in per_day.items() if first <= day < last)


def plan_months(since: datetime, until: datetime) -> MonthPlan:
    """Split ``[since, until)`` into roll-up months plus intervals added or subtracted.

    Only the first and the last month can be partial. Each is read either as its part
    inside the range (added from ``cases``) or as the whole month from the roll-up minus
    its part outside the range (subtracted from ``cases``), whichever holds fewer cases.
    """
    head = _month_start(since.astimezone(UTC).date())
    tail = _month_start(_ceil_day(until) - timedelta(days=1))
    first_month, end_month = head, _next_month(tail)
    per_day = _cases_per_day({head, tail})
    add: list[tuple[datetime, datetime]] = []
    subtract: list[tuple[datetime, datetime]] = []
    for month in dict.fromkeys((head, tail)):  # one month when the range lies in one
        start, end = _midnight(month), _midnight(_next_month(month))
        inside = (max(start, since), min(end, until))
        outside = [part for part in ((start, inside[0]), (inside[1], end)) if part[1] > part[0]]
        if not outside:
            continue  # a whole month
        if _estimate(per_day, *inside) <= sum(_estimate(per_day, *part) for part in outside):
            add.append(inside)
            if month == head:
                first_month = _next_month(month)
            if month == tail:
                end_month = month
        else:
            subtract.extend(outside)
    return MonthPlan(first_month, max(first_month, end_month), tuple(add), tuple(subtract))


def range_figures(since: datetime, until: datetime, scope: Scope) -> Figures:
    """Everything counted over the cases opened / closed in ``[since, until)``."""
    figures = Figures()
    # Day grain: total, per day, per channel and language.
    first_whole, end_whole = _ceil_day(since), until.astimezone(UTC).date()
    if first_whole < end_whole:
        figures.add(_days_rollup(first_whole, end_whole, scope))
        for start, end in ((since, _midnight(first_whole)), (_midnight(end_whole), until)):
            if end > start:
                figures.add(direct_opened(start, end, scope, days=True, facts=False))
    else:
        figures.add(direct_opened(since, until, scope, days=True, facts=False))
    # Month grain: the other breakdowns, response buckets, closures.
    plan = plan_months(since, until)
    figures.add(_facts_rollup(plan.first_month, plan.end_month, scope))
    for sign, intervals in ((1, plan.add), (-1, plan.subtract)):
        for start, end in intervals:
            figures.add(direct_opened(start, end, scope, facts=True), sign)
            figures.add(direct_closed(start, end, scope), sign)
    return figures


def with_defaults(figures: Figures) -> dict[str, dict[str | None, int]]:
    """The cohort breakdowns with the intake defaults filled in (``new``, ``normal``, unset)."""
    out: dict[str, dict[str | None, int]] = {}
    for name, default in DEFAULT_VALUES.items():
        counts = {key: count for key, count in figures.by[name].items() if count}
        rest = figures.total - sum(counts.values())
        if rest > 0:  # (never negative, unless a case changed between two reads)
            counts[default] = counts.get(default, 0) + rest
        out[name] = counts
    return out


# --- exact percentiles ---------------------------------------------------------------

def _seconds_column() -> ColumnElement:
    # Literal SQL (no bound 'epoch'), so it matches ix_cases_first_response's expression.
    return literal_column(seconds_sql(_dialect()))


def _values_in_bucket(lower: int, offset: int, count: int, since: datetime,
                      until: datetime, scope: Scope) -> list[float]:
    seconds = _seconds_column()
    conditions = [Case.first_response_at >= Case.created_at, seconds >= lower,
                  Case.created_at >= since, Case.created_at < until,
                  *scope.case_conditions()]
    upper = bucket_upper(lower)
    if not math.isinf(upper):
        conditions.append(seconds < upper)
    rows = db.session.execute(select(seconds).where(and_(*conditions)).order_by(seconds)
                              .offset(offset).limit(count)).scalars().all()
    return [float(value) for value in rows]


def percentiles(buckets: Mapping[int, int], fractions: Iterable[float], since: datetime,
                until: datetime, scope: Scope) -> tuple[int, list[float | None]]:
    """How many cases were answered, and the exact ``fractions`` percentiles of the delay.

    Interpolates between ranks as PostgreSQL's ``percentile_cont``; ``buckets`` is the
    histogram of the range (from ``range_figures``).
    """
    ordered = sorted((lower, count) for lower, count in buckets.items() if count > 0)
    total = sum(count for _lower, count in ordered)
    fractions = list(fractions)
    if not total:
        return 0, [None for _ in fractions]
    wanted: set[int] = set()
    for p in fractions:
        position = p * (total - 1)
        wanted.update({math.floor(position), min(math.ceil(position), total - 1)})
    values: dict[int, float] = {}
    below = 0
    for lower, count in ordered:
        ranks = sorted(rank for rank in wanted if below <= rank < below + count)
        if ranks:
            offset = ranks[0] - below
            found = _values_in_bucket(lower, offset, ranks[-1] - ranks[0] + 1,
                                      since, until, scope)
            for rank in ranks:
                if found:
                    # A case changed between the histogram read and this one (each
                    # statement sees the latest commit): the nearest value stands in.
                    values[rank] = found[min(rank - ranks[0], len(found) - 1)]
        below += count
    out: list[float | None] = []
    for p in fractions:
        position = p * (total - 1)
        low = math.floor(position)
        high = min(math.ceil(position), total - 1)
        if low not in values or high not in values:
            out.append(None)
            continue
        out.append(values[low] + (values[high] - values[low]) * (position - low))
    return total, out


# --- rebuild and check ---------------------------------------------------------------

def first_day() -> date | None:
    """The UTC day of the first case ("all time" starts there), from the roll-up."""
    table = ReportDay.__table__
    day = db.session.execute(select(func.min(table.c.day)).where(
        table.c.category == ANY, table.c.cases > 0)).scalar()
    return None if day is None else _as_date(day)


def stored_targets() -> dict[str, int]:
    """The response target per urgency, in seconds, the roll-up counts against."""
    table = ReportTarget.__table__
    return {urgency: int(seconds) for urgency, seconds in
            db.session.execute(select(table.c.urgency, table.c.seconds))}


def configured_targets(config: Mapping[str, Any]) -> dict[str, int]:
    """The ``RESPONSE_TARGET_*_MINUTES`` settings in seconds."""
    return {urgency: int(target.total_seconds())
            for urgency, target in targets.response_targets(config).items()}


def sync_targets(config: Mapping[str, Any]) -> None:
    """Make ``report_targets`` the configured targets (``rebuild`` recounts after it)."""
    table = ReportTarget.__table__
    db.session.execute(table.delete())
    rows = [{"urgency": urgency, "seconds": seconds}
            for urgency, seconds in configured_targets(config).items()]
    db.session.execute(table.insert(), rows)


def rebuild(config: Mapping[str, Any]) -> dict[str, int]:
    """Recompute both roll-up tables from ``cases`` (``flask reports rebuild``), after
    copying the configured response targets into ``report_targets``.

    Case writes wait meanwhile (PostgreSQL: ``LOCK TABLE cases IN SHARE MODE``; SQLite
    holds its write lock), so no trigger runs against a half-built table. The caller
    commits.
    """
    if _dialect() == "postgresql":
        db.session.execute(text("LOCK TABLE cases IN SHARE MODE"))
    sync_targets(config)
    db.session.execute(ReportDay.__table__.delete())
    db.session.execute(ReportFact.__table__.delete())
    days = ", ".join(DAY_KEY)
    facts = ", ".join(FACT_KEY)
    db.session.execute(text(f"INSERT INTO report_days ({days}, cases) "  # noqa: S608
                            f"SELECT {days}, cases FROM report_days_source ORDER BY {days}"))
    db.session.execute(text(f"INSERT INTO report_facts ({facts}, n) "  # noqa: S608
                            f"SELECT {facts}, n FROM report_facts_source ORDER BY {facts}"))
    return row_counts()


def row_counts() -> dict[str, int]:
    """How many rows each roll-up table holds."""
    return {table: db.session.execute(select(func.count()).select_from(text(table)))
            .scalar_one() for table in ("report_days", "report_facts")}


def differences(config: Mapping[str, Any] | None = None,
                limit: int = 20) -> dict[str, list[tuple]]:
    """Rows where the roll-up and a fresh count from ``cases`` disagree (zeros ignored).

    Each row is ``("stored" | "counted", *key, count)``: a stored row the recount does
    not give, or a recounted row that is not stored. Empty lists: exact. With ``config``,
    also ``report_targets`` against the settings: ``("stored" | "configured", urgency,
    seconds)`` rows.
    """
    out = {}
    if config is not None:
        kept, wanted = stored_targets(), configured_targets(config)
        out["report_targets"] = sorted(
            [("stored", u, n) for u, n in kept.items() if wanted.get(u) != n]
            + [("configured", u, n) for u, n in wanted.items() if kept.get(u) != n])
    for table, source, key, value in (("report_days", "report_days_source", DAY_KEY, "cases"),
                                      ("report_facts", "report_facts_source", FACT_KEY, "n")):
        cols = ", ".join((*key, value))
        stored = f"SELECT {cols} FROM {table} WHERE {value} <> 0"  # noqa: S608
        counted = f"SELECT {cols} FROM {source}"  # noqa: S608
        rows = []
        for label, first, second in (("stored", stored, counted), ("counted", counted, stored)):
            sql = (f"SELECT '{label}', {cols} FROM ({first} EXCEPT {second}) AS d "  # noqa: S608
                   f"ORDER BY {cols} LIMIT {int(limit)}")
            rows += [tuple(row) for row in db.session.execute(text(sql))]
        out[table] = rows
    return out


__all__ = ["ANY", "Figures", "MonthPlan", "Scope", "differences", "direct_closed",
           "direct_opened", "first_day", "percentiles", "plan_months", "range_figures", "rebuild",
           "row_counts", "stored_targets", "sync_targets", "with_defaults"]
