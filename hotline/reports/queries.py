"""The one query layer for case statistics; the report page and ``/api/v1/stats`` share it.

Every figure is computed in SQL over an index (see migration ``0006_reports``), so the
cost grows with the cases *in the chosen range* (or currently open), not with the whole
table. On PostgreSQL the breakdowns come from one ``GROUPING SETS`` scan and the
percentiles from ``percentile_cont``; SQLite (the small embedded deployment) runs one
``GROUP BY`` per breakdown and an ``ORDER BY … LIMIT/OFFSET`` percentile that
interpolates exactly as ``percentile_cont`` does, so both databases give equal numbers.

Date-range figures count cases *opened* in ``[since, until)``; closures count cases
*closed* in the range; the backlog, the callback queue and open cases per staff member
are the state *now*. The channel / language / category filters apply to all of them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Date, and_, case, cast, func, select, tuple_
from sqlalchemy.sql.elements import ColumnElement

from hotline.cases.ordering import CLOSED_RANK_MIN
from hotline.extensions import db
from hotline.models import Case, User

UNSET = "unset"
# (key, label, upper bound of the age): the open backlog buckets, youngest first.
BACKLOG_BUCKETS: tuple[tuple[str, str, timedelta | None], ...] = (
    ("under_1h", "under 1 h", timedelta(hours=1)),
    ("1h_4h", "1–4 h", timedelta(hours=4)),
    ("4h_24h", "4–24 h", timedelta(hours=24)),
    ("1d_7d", "1–7 days", timedelta(days=7)),
    ("older", "older", None),
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
    extra: dict[str, object] = field(default_factory=dict)

    def as_api(self) -> dict[str, object]:
        """The JSON shape of ``GET /api/v1/stats`` (keys fixed by DESIGN.md)."""
        return {
            "total": self.total,
            "by_status": self.by_status,
            "by_category": self.by_category,
            "by_channel": self.by_channel,
            "by_language": self.by_language,
            "by_day": self.by_day,
            "callback_needed": self.callback_needed,
            "median_first_response_seconds": self.median_first_response_seconds,
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

    @property
    def backlog_total(self) -> int:
        return sum(count for _key, _label, count in self.backlog)

    @property
    def closed_total(self) -> int:
        return sum(self.closed_by_resolution.values())


def default_range(now: datetime | None = None, days: int = 30) -> tuple[datetime, datetime]:
    """The last ``days`` whole days up to and including today (UTC)."""
    now = now or datetime.now(UTC)
    until = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), UTC)
    return until - timedelta(days=days), until


def parse_day(value: str | None) -> date | None:
    """A ``YYYY-MM-DD`` string as a date; ValueError when malformed."""
    if not value:
        return None
    return date.fromisoformat(value)


def _postgres() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


def day_expression() -> ColumnElement:
    """SQL expression for the UTC calendar day of ``Case.created_at``."""
    if _postgres():
        return cast(func.timezone("UTC", Case.created_at), Date)
    return func.date(Case.created_at)


def _key(value: object) -> str:
    return UNSET if value is None else str(value)


def breakdowns(flt: StatsFilter, columns: dict[str, ColumnElement]) -> dict[str, dict[str, int]]:
    """Counts of cases opened in the range, grouped by each of ``columns`` separately."""
    out: dict[str, dict[str, int]] = {name: {} for name in columns}
    if _postgres():
        exprs = list(columns.values())
        flags = [func.grouping(expr) for expr in exprs]
        stmt = (select(*exprs, *flags, func.count()).where(*flt.conditions())
                .group_by(func.grouping_sets(*[tuple_(expr) for expr in exprs])))
        width = len(exprs)
        for row in db.session.execute(stmt):
            for index, name in enumerate(columns):
                if row[width + index] == 0:  # this row groups by that column
                    out[name][_key(row[index])] = row[-1]
                    break
        return out
    for name, expr in columns.items():
        rows = db.session.execute(
            select(expr, func.count()).where(*flt.conditions()).group_by(expr))
        out[name] = {_key(key): count for key, count in rows}
    return out


def _days(flt: StatsFilter, counts: dict[str, int]) -> list[dict[str, object]]:
    """Every UTC day of the range, zeros included."""
    out = []
    current = flt.since.date()
    last = (flt.until - timedelta(microseconds=1)).date()
    while current <= last:
        out.append({"date": current.isoformat(), "count": counts.get(current.isoformat(), 0)})
        current += timedelta(days=1)
    return out


def by_day(flt: StatsFilter) -> list[dict[str, object]]:
    """Cases opened per UTC day, every day of the range present (zeros included)."""
    return _days(flt, breakdowns(flt, {"day": day_expression()})["day"])


def _response_seconds() -> ColumnElement:
    if _postgres():
        # date_part gives double precision, what percentile_cont sorts; EXTRACT gives
        # numeric (PostgreSQL 14+), a third slower to compute and convert per case.
        return func.date_part("epoch", Case.first_response_at - Case.created_at)
    return (func.julianday(Case.first_response_at) - func.julianday(Case.created_at)) * 86400.0


def _round(value: float | None) -> float | None:
    return None if value is None else round(float(value), SECONDS_DIGITS)


def response_percentiles(flt: StatsFilter, fractions: tuple[float, ...] = (MEDIAN, P90)
                         ) -> tuple[int, list[float | None]]:
    """How many cases got a first response, and the given percentiles of its delay.

    Percentiles interpolate linearly between ranks, as PostgreSQL's ``percentile_cont``.
    Cases whose recorded first response precedes their opening are left out.
    """
    seconds = _response_seconds()
    conds = [*flt.conditions(), Case.first_response_at.is_not(None),
             Case.first_response_at >= Case.created_at]
    if _postgres():
        row = db.session.execute(select(
            func.count(),
            *[func.percentile_cont(p).within_group(seconds) for p in fractions],
        ).where(*conds)).one()
        return row[0], [_round(value) for value in row[1:]]
    count = db.session.execute(select(func.count()).where(*conds)).scalar_one()
    values: list[float | None] = []
    for p in fractions:
        if not count:
            values.append(None)
            continue
        position = p * (count - 1)
        low = math.floor(position)
        pair = db.session.execute(select(seconds).where(*conds).order_by(seconds)
                                  .offset(low).limit(2)).scalars().all()
        upper = pair[1] if len(pair) > 1 else pair[0]
        values.append(_round(pair[0] + (upper - pair[0]) * (position - low)))
    return count, values


def first_response_seconds(flt: StatsFilter) -> float | None:
    """The median delay to first response in seconds (None when nobody was answered)."""
    return response_percentiles(flt, (MEDIAN,))[1][0]


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
    return _case_stats(flt, {}, (MEDIAN,))[0]


def _case_stats(flt: StatsFilter, more: dict[str, ColumnElement], fractions: tuple[float, ...]
                ) -> tuple[CaseStats, int, list[float | None], datetime | None]:
    """The CaseStats, how many were answered, the ``fractions`` percentiles, oldest callback."""
    columns = {"status": Case.status, "category": Case.category, "channel": Case.channel,
               "language": Case.language, "day": day_expression(), **more}
    groups = breakdowns(flt, columns)
    responded, percentiles = response_percentiles(flt, fractions)
    queue, oldest = callback_queue(flt)
    stats = CaseStats(
        total=sum(groups["status"].values()),
        by_status=groups["status"],
        by_category=groups["category"],
        by_channel=groups["channel"],
        by_language=groups["language"],
        by_day=_days(flt, groups["day"]),
        callback_needed=queue,
        median_first_response_seconds=percentiles[0],
        extra={name: groups[name] for name in more},
    )
    return stats, responded, percentiles, oldest


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
    for key, _label, upper in BACKLOG_BUCKETS:
        if upper is None:
            break
        conds = [Case.created_at > now - upper]
        if lower is not None:
            conds.append(Case.created_at <= now - lower)
        buckets.append(func.count(case((and_(*conds), 1))).label(key))
        lower = upper
    row = db.session.execute(
        select(*buckets).where(*_open(flt), Case.created_at > now - lower)).one()
    recent = [count or 0 for count in row]
    if total is None:
        total = open_total(flt)
    counts = [*recent, total - sum(recent)]
    return [(key, label, counts[index])
            for index, (key, label, _upper) in enumerate(BACKLOG_BUCKETS)]


def _closures(flt: StatsFilter) -> list[tuple[int | None, str | None, int]]:
    """(assignee id, resolution, count) of cases closed in the range."""
    rows = db.session.execute(
        select(Case.assigned_to_id, Case.resolution, func.count())
        .where(Case.closed_at >= flt.since, Case.closed_at < flt.until,
               Case.status == "closed", *flt.scope())
        .group_by(Case.assigned_to_id, Case.resolution))
    return [(user_id, resolution, count) for user_id, resolution, count in rows]


def open_by_assignee(flt: StatsFilter) -> dict[int | None, int]:
    """Open cases now per assignee id (None: unassigned), within the scope."""
    return dict(db.session.execute(
        select(Case.assigned_to_id, func.count()).where(*_open(flt))
        .group_by(Case.assigned_to_id)).all())


def staff_load(flt: StatsFilter, closures: list[tuple[int | None, str | None, int]],
               open_rows: dict[int | None, int] | None = None) -> list[StaffLoad]:
    """Open cases now and closures in the range per staff member (three queries, no N+1).

    Every active user is listed, even with nothing on their desk; unassigned work has
    its own row at the end. ``open_rows`` is ``open_by_assignee(flt)`` when the caller
    already has it.
    """
    if open_rows is None:
        open_rows = open_by_assignee(flt)
    closed: dict[int | None, int] = {}
    for user_id, _resolution, count in closures:
        closed[user_id] = closed.get(user_id, 0) + count
    ids = {key for key in (*open_rows, *closed) if key is not None}
    users = db.session.execute(
        select(User.id, User.display_name).where((User.active.is_(True)) | User.id.in_(ids))
        .order_by(User.display_name, User.id)).all()
    out = [StaffLoad(user_id, name, open_rows.get(user_id, 0), closed.get(user_id, 0))
           for user_id, name in users]
    out.append(StaffLoad(None, "(unassigned)", open_rows.get(None, 0), closed.get(None, 0)))
    return out


def report(flt: StatsFilter, now: datetime | None = None) -> Report:
    """All the figures of the report page for ``flt``."""
    now = now or datetime.now(UTC)
    stats, responded, (_median, p90), oldest = _case_stats(
        flt, {"affiliation": Case.affiliation, "urgency": Case.urgency}, (MEDIAN, P90))
    closures = _closures(flt)
    # One pass over the open cases serves the staff table and the backlog total.
    open_rows = open_by_assignee(flt)
    by_resolution: dict[str, int] = {}
    for _user_id, resolution, count in closures:
        by_resolution[_key(resolution)] = by_resolution.get(_key(resolution), 0) + count
    return Report(
        stats=stats,
        by_affiliation=stats.extra["affiliation"],  # type: ignore[arg-type]
        by_urgency=stats.extra["urgency"],  # type: ignore[arg-type]
        responded=responded,
        p90_first_response_seconds=p90,
        backlog=backlog(flt, now, total=sum(open_rows.values())),
        callback_oldest=oldest,
        closed_by_resolution=by_resolution,
        staff=staff_load(flt, closures, open_rows),
    )
