"""The one query layer for case statistics; the report page and ``/api/v1/stats`` share it.

Range figures (counts of cases opened in the range, closures in the range, first-response
percentiles) come from the roll-up (``hotline.reports.rollup``, migration
``0026_report_rollup``): whole days and months from its tables, the partial ends of the
range from ``cases``, so a year or all time costs about what a month does. Percentiles
are exact and interpolate as PostgreSQL's ``percentile_cont``, on both databases. The
state *now* (backlog, callback queue, open cases per staff member) is read from the open
cases through their partial indexes (migrations ``0006``, ``0016``).

Date-range figures count cases *opened* in ``[since, until)``; closures count cases
*closed* in the range; the backlog, the callback queue and open cases per staff member
are the state *now*. The channel / language / category filters apply to all of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, func, select
from sqlalchemy.sql.elements import ColumnElement

from hotline.cases.ordering import CLOSED_RANK_MIN
from hotline.cases.targets import URGENCIES
from hotline.cases.vocabularies import CHANNELS
from hotline.extensions import db
from hotline.i18n import N_
from hotline.models import Case, User
from hotline.reports import local_days, rollup

UNSET = "unset"
# (key, label, upper bound of the age): the open backlog buckets, youngest first.
BACKLOG_BUCKETS: tuple[tuple[str, str, timedelta | None], ...] = (
    ("under_1h", N_("under 1 h"), timedelta(hours=1)),
    ("1h_4h", N_("1–4 h"), timedelta(hours=4)),
    ("4h_24h", N_("4–24 h"), timedelta(hours=24)),
    ("1d_7d", N_("1–7 days"), timedelta(days=7)),
    ("older", N_("older"), None),
)
MEDIAN, P90 = 0.5, 0.9
# Seconds are reported to a tenth: SQLite's julianday arithmetic is exact to ~0.1 ms only.
SECONDS_DIGITS = 1


@dataclass
class StatsFilter:
    """A date range [since, until) and optional equality filters."""

    since: datetime
    until: datetime
    channel: str | None = None
    language: str | None = None
    category: str | None = None

    def scope(self) -> list[ColumnElement[bool]]:
        """The channel / language / category conditions, without the date range."""
        conds = []
        for name in ("channel", "language", "category"):
            value = getattr(self, name)
            if value:
                conds.append(getattr(Case, name) == value)
        return conds

    def conditions(self) -> list[ColumnElement[bool]]:
        """Cases opened in the range, within the scope."""
        return [Case.created_at >= self.since, Case.created_at < self.until, *self.scope()]

    def rollup_scope(self) -> rollup.Scope:
        """The filters as the roll-up reads them."""
        return rollup.Scope(self.channel or None, self.language or None, self.category or None)


@dataclass
class TargetRow:
    """One row of the within-target table: answered cases and those within target."""

    key: str
    answered: int
    within: int
    target_seconds: int | None = None

    @property
    def share(self) -> float | None:
        """The share answered within target (None when nothing was answered)."""
        return self.within / self.answered if self.answered else None


@dataclass
class WithinTarget:
    """First responses within target in the range, keyed (urgency at response, channel).

    The rule (migration ``0035_response_targets``): a case counts under the urgency it had
    when its first response left, against that urgency's target in ``report_targets``;
    cases not answered yet are not counted (the queue's *overdue* filter lists them).
    """

    answered: dict[tuple[str, str], int]
    within: dict[tuple[str, str], int]
    targets: dict[str, int]

    def _rows(self, index: int, order: tuple[str, ...]) -> list[TargetRow]:
        answered: dict[str, int] = {}
        within: dict[str, int] = {}
        for key, count in self.answered.items():
            answered[key[index]] = answered.get(key[index], 0) + count
        for key, count in self.within.items():
            within[key[index]] = within.get(key[index], 0) + count
        names = [*order, *sorted(set(answered) - set(order))]
        return [TargetRow(name, answered.get(name, 0), within.get(name, 0),
                          self.targets.get(name) if index == 0 else None)
                for name in names if name in answered or index == 0]

    def by_urgency(self) -> list[TargetRow]:
        """One row per urgency (every configured one, answered or not)."""
        order = [u for u in URGENCIES if u in self.targets]
        return self._rows(0, (*order, *sorted(set(self.targets) - set(order))))

    def by_channel(self) -> list[TargetRow]:
        """One row per channel with answered cases."""
        return self._rows(1, CHANNELS)

    @property
    def total(self) -> TargetRow:
        return TargetRow("total", sum(self.answered.values()), sum(self.within.values()))

    def as_api(self) -> dict[str, object]:
        def rows(found: list[TargetRow]) -> dict[str, dict[str, int]]:
            return {row.key: {"answered": row.answered, "within_target": row.within}
                    for row in found}
        return {"target_seconds": dict(self.targets), "by_urgency": rows(self.by_urgency()),
                "by_channel": rows(self.by_channel())}


@dataclass
class CaseStats:
    """Figures for one StatsFilter; ``as_api`` is the JSON of ``GET /api/v1/stats``."""

    total: int
    by_status: dict[str, int]
    by_category: dict[str, int]
    by_channel: dict[str, int]
    by_language: dict[str, int]
    by_day: list[dict[str, object]]
    callback_needed: int
    median_first_response_seconds: float | None
    within_target: WithinTarget

    def as_api(self) -> dict[str, object]:
        """The JSON shape of ``GET /api/v1/stats`` (keys fixed by DESIGN.md, plus
        ``first_response_within_target``, added by issue 13)."""
        return {
            "total": self.total,
            "by_status": self.by_status,
            "by_category": self.by_category,
            "by_channel": self.by_channel,
            "by_language": self.by_language,
            "by_day": self.by_day,
            "callback_needed": self.callback_needed,
            "median_first_response_seconds": self.median_first_response_seconds,
            "first_response_within_target": self.within_target.as_api(),
        }


@dataclass
class StaffLoad:
    """One staff member's open cases now and closures in the range."""

    user_id: int | None
    name: str
    open_cases: int
    closed: int


@dataclass
class Report:
    """Everything on the report page: the API figures plus the supervisor-only ones."""

    stats: CaseStats
    by_affiliation: dict[str, int]
    by_urgency: dict[str, int]
    responded: int
    p90_first_response_seconds: float | None
    backlog: list[tuple[str, str, int]]
    callback_oldest: datetime | None
    closed_by_resolution: dict[str, int]
    staff: list[StaffLoad]
    # Cases opened per local day of ``day_zone`` (``local_days``); the UTC days of
    # ``stats.by_day`` when the zone is UTC or the windows would cost too much.
    by_local_day: list[dict[str, object]] | None = None
    day_zone: str = "UTC"

    @property
    def days(self) -> list[dict[str, object]]:
        """The per-day chart's days: local ones when there are, else UTC ones."""
        return self.by_local_day if self.by_local_day is not None else self.stats.by_day

    @property
    def days_zone(self) -> str:
        """The zone the per-day chart counts days in."""
        return self.day_zone if self.by_local_day is not None else "UTC"

    @property
    def backlog_total(self) -> int:
        return sum(count for _key, _label, count in self.backlog)

    @property
    def closed_total(self) -> int:
        return sum(self.closed_by_resolution.values())


def _key(value: object) -> str:
    return UNSET if value is None else str(value)


def _keyed(counts: dict) -> dict[str, int]:
    """Counts keyed as the API and page show them (unset values as ``unset``), no zeros."""
    out: dict[str, int] = {}
    for key, count in counts.items():
        if count:
            out[_key(key)] = out.get(_key(key), 0) + count
    return out


def _days(flt: StatsFilter, counts: dict[date, int]) -> list[dict[str, object]]:
    """Every UTC day of the range, zeros included."""
    out = []
    current = flt.since.astimezone(UTC).date()
    last = (flt.until - timedelta(microseconds=1)).astimezone(UTC).date()
    while current <= last:
        out.append({"date": current.isoformat(), "count": counts.get(current, 0)})
        current += timedelta(days=1)
    return out


def _round(value: float | None) -> float | None:
    return None if value is None else round(float(value), SECONDS_DIGITS)


def _open(flt: StatsFilter) -> list[ColumnElement[bool]]:
    # Written exactly as the partial indexes' predicate so the planner can use them.
    return [Case.status != "closed", *flt.scope()]


def callback_queue(flt: StatsFilter) -> tuple[int, datetime | None]:
    """Open cases waiting for a callback now, and when the oldest of them was opened.

    "Open" is asked as the open queue-rank band (exactly the cases not closed, see
    ``hotline.cases.ordering``): a range read of the callback / open-queue indexes
    instead of a walk over every open case.
    """
    count, oldest = db.session.execute(
        select(func.count(), func.min(Case.created_at))
        .where(Case.callback_needed.is_(True), Case.queue_rank < CLOSED_RANK_MIN, *flt.scope())
    ).one()
    return count, oldest


def case_stats(flt: StatsFilter) -> CaseStats:
    """The headline figures for ``flt`` (the API's numbers; the page shows the same)."""
    return _case_stats(flt, (MEDIAN,))[0]


@dataclass
class _RangeStats:
    stats: CaseStats
    figures: rollup.Figures
    cohort: dict[str, dict[str | None, int]]
    responded: int
    percentiles: list[float | None]
    callback_oldest: datetime | None


def _case_stats(flt: StatsFilter, fractions: tuple[float, ...]
                ) -> tuple[CaseStats, _RangeStats]:
    """The CaseStats and what the report adds to them, from the roll-up."""
    scope = flt.rollup_scope()
    figures = rollup.range_figures(flt.since, flt.until, scope)
    cohort = rollup.with_defaults(figures)
    responded, values = rollup.percentiles(figures.by["response"], fractions, flt.since,
                                           flt.until, scope)
    queue, oldest = callback_queue(flt)
    percentiles = [_round(value) for value in values]
    stats = CaseStats(
        total=figures.total,
        by_status=_keyed(cohort["status"]),
        by_category=_keyed(cohort["category"]),
        by_channel=_keyed(figures.by["channel"]),
        by_language=_keyed(figures.by["language"]),
        by_day=_days(flt, figures.by_day),
        callback_needed=queue,
        median_first_response_seconds=percentiles[0],
        within_target=WithinTarget(
            answered={k: n for k, n in figures.by["answered"].items() if n},
            within={k: n for k, n in figures.by["within"].items() if n},
            targets=rollup.stored_targets()),
    )
    return stats, _RangeStats(stats, figures, cohort, responded, percentiles, oldest)


def open_total(flt: StatsFilter) -> int:
    """How many cases are open now, within the scope."""
    return db.session.execute(select(func.count()).where(*_open(flt))).scalar_one()


def backlog(flt: StatsFilter, now: datetime, total: int | None = None
            ) -> list[tuple[str, str, int]]:
    """Open cases now, by age since they were opened: (key, label, count) per bucket.

    Only the bounded buckets are counted row by row, over the open cases of the last
    week (a short range of ``ix_cases_open_created``); the oldest bucket is the rest of
    ``total`` open cases (counted here when not given), so no per-row bucketing runs
    over the whole backlog.
    """
    buckets = []
    lower: timedelta | None = None
    oldest_counted = timedelta(0)
    for key, _label, upper in BACKLOG_BUCKETS:
        if upper is None:
            break
        conds = [Case.created_at > now - upper]
        if lower is not None:
            conds.append(Case.created_at <= now - lower)
        buckets.append(func.count(case((and_(*conds), 1))).label(key))
        lower = oldest_counted = upper
    row = db.session.execute(
        select(*buckets).where(*_open(flt), Case.created_at > now - oldest_counted)).one()
    recent = [count or 0 for count in row]
    if total is None:
        total = open_total(flt)
    counts = [*recent, total - sum(recent)]
    return [(key, label, counts[index])
            for index, (key, label, _upper) in enumerate(BACKLOG_BUCKETS)]


def open_by_assignee(flt: StatsFilter) -> dict[int | None, int]:
    """Open cases now per assignee id (None: unassigned), within the scope."""
    rows = db.session.execute(
        select(Case.assigned_to_id, func.count()).where(*_open(flt))
        .group_by(Case.assigned_to_id))
    return {assignee: count for assignee, count in rows}


def staff_load(flt: StatsFilter, closed: dict[int | None, int],
               open_rows: dict[int | None, int] | None = None) -> list[StaffLoad]:
    """Open cases now and closures in the range per staff member (two queries, no N+1).

    Every active user is listed, even with nothing on their desk; unassigned work has
    its own row at the end. ``closed`` is closures per assignee id; ``open_rows`` is
    ``open_by_assignee(flt)`` when the caller already has it.
    """
    if open_rows is None:
        open_rows = open_by_assignee(flt)
    ids = {key for key in (*open_rows, *closed) if key is not None}
    users = db.session.execute(
        select(User.id, User.display_name).where((User.active.is_(True)) | User.id.in_(ids))
        .order_by(User.display_name, User.id)).all()
    out = [StaffLoad(user_id, name, open_rows.get(user_id, 0), closed.get(user_id, 0))
           for user_id, name in users]
    out.append(StaffLoad(None, "(unassigned)", open_rows.get(None, 0), closed.get(None, 0)))
    return out


def report(flt: StatsFilter, now: datetime | None = None, zone: str = "UTC") -> Report:
    """All the figures of the report page for ``flt``; days per local day of ``zone``."""
    now = now or datetime.now(UTC)
    stats, more = _case_stats(flt, (MEDIAN, P90))
    by_local_day = None
    if zone != "UTC":
        by_local_day = local_days.per_local_day(flt.since, flt.until, ZoneInfo(zone),
                                                more.figures.by_day, more.figures.total,
                                                flt.scope())
    # One pass over the open cases serves the staff table and the backlog total.
    open_rows = open_by_assignee(flt)
    closed_by = {key: count for key, count in more.figures.by["closed_by"].items() if count}
    return Report(
        stats=stats,
        by_affiliation=_keyed(more.cohort["affiliation"]),
        by_urgency=_keyed(more.cohort["urgency"]),
        responded=more.responded,
        p90_first_response_seconds=more.percentiles[1],
        backlog=backlog(flt, now, total=sum(open_rows.values())),
        callback_oldest=more.callback_oldest,
        closed_by_resolution=_keyed(more.figures.by["resolution"]),
        staff=staff_load(flt, closed_by, open_rows),
        by_local_day=by_local_day, day_zone=zone,
    )
