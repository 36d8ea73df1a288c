"""Cases opened per *local* day of the reader's time zone, from the UTC-day roll-up.

The roll-up (``report_days``) counts cases per UTC day. A local day of a zone ``h`` hours
off UTC is a UTC day shifted by ``h``, so its count is not in the roll-up; but it is
close: with ``C(t)`` the number of the range's cases opened before ``t``, a local day
``[b, b')`` has ``C(b') - C(b)`` cases, and for each boundary ``b`` (a local midnight)

- ``C(b) = C(m) + N(m, b)`` with ``m`` the UTC midnight before ``b``, or
- ``C(b) = C(m + 1 day) - N(b, m + 1 day)``,

where ``C`` at UTC midnights is a running sum of the roll-up's per-UTC-day counts and
``N`` is a count from ``cases`` over the short window between ``b`` and the nearer UTC
midnight (at most 12 hours; a DST change moves it, which is why each boundary is
computed by ``zoneinfo``). The windows are counted in one statement (per ``CHUNK``
windows), each by an index range read of ``cases.created_at``.

Why not the other ways (issue 13, issue 19: p95 < 100 ms at 1M cases):

- counting every case of the range by local day reads all of them: ~41,000 for 30 days,
  ~500,000 for a year, 1,000,000 for all time;
- a per-hour roll-up would make every intake write a second roll-up row and hold 24
  times the rows, so a year or all time would read several hundred thousand rows;
- the windows read ``min(h, 24 - h) / 24`` of the range's cases: for Kyiv (UTC+2) a
  twelfth, ~3,500 cases for 30 days and ~83,000 for all time at 1M cases.

A zone far from UTC (Seoul, UTC+9: 9/24 of the cases) or a long range can exceed the
budget ``MAX_WINDOW_CASES`` (estimated from the roll-up before reading anything); the
chart then shows UTC days, and says so, rather than being slow. The budget is what keeps
the report page within p95 < 100 ms at 1,000,000 cases (bench/README.md, issue 19): with
100,000 a Kyiv reader's 365-day report took p95 398 ms and the filtered all-time one
695 ms (the windows' counts plus building and compiling one subquery per day), against
~100 ms for the same pages on UTC days; 30 days for Kyiv (~3,500 window cases) stays in.
A long range costs by its number of windows too (a filtered all-time report: 730
subqueries, ~630 ms even with few cases in them), so ranges over ``MAX_LOCAL_DAYS`` days
show UTC days as well: over a year of daily bars, a shift of a few hours at each end of a
day changes little, and the page says which days it counts.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from hotline.extensions import db
from hotline.models import Case

# The most cases the windows may read (estimated first), and the most local days (one
# window each: every window is a subquery to build, compile and run, whatever its size);
# above either: UTC days. A quarter keeps "last 90 days" local.
MAX_WINDOW_CASES = 10_000
MAX_LOCAL_DAYS = 92
DAY = timedelta(days=1)
# Windows per statement (SQLite allows 2,000 result columns).
CHUNK = 400


def _utc_midnight(moment: datetime) -> datetime:
    return datetime.combine(moment.astimezone(UTC).date(), time.min, UTC)


def local_boundaries(since: datetime, until: datetime, zone: ZoneInfo
                     ) -> list[tuple[date, datetime]]:
    """Each local day touching ``[since, until)`` with the instant it starts (clipped)."""
    out = []
    day = since.astimezone(zone).date()
    last = (until - timedelta(microseconds=1)).astimezone(zone).date()
    while day <= last:
        start = datetime.combine(day, time.min, zone).astimezone(UTC)
        out.append((day, max(start, since)))
        day += DAY
    return out


def _window(boundary: datetime) -> tuple[datetime, datetime, int]:
    """The shorter window between ``boundary`` and a UTC midnight, and its sign."""
    before = _utc_midnight(boundary)
    after = before + DAY
    if boundary - before <= after - boundary:
        return before, boundary, 1
    return boundary, after, -1


def _estimate(per_utc_day: Mapping[date, int], windows: list[tuple[datetime, datetime, int]]
              ) -> float:
    """Cases the windows would read, from the per-UTC-day counts (evenly spread)."""
    return sum(per_utc_day.get(lo.astimezone(UTC).date(), 0) * (hi - lo) / DAY
               for lo, hi, _sign in windows)


def per_local_day(since: datetime, until: datetime, zone: ZoneInfo,
                  per_utc_day: Mapping[date, int], total: int, scope: list
                  ) -> list[dict[str, object]] | None:
    """``[{"date", "count"}]`` per local day of ``zone`` of the range's cases, or None
    when the range has more than ``MAX_LOCAL_DAYS`` days or the windows would read more
    than ``MAX_WINDOW_CASES`` cases.

    ``per_utc_day`` and ``total``: the range's cases per UTC day and in all (from the
    roll-up, ``rollup.range_figures``); ``scope``: the filter conditions on ``cases``.
    """
    days = local_boundaries(since, until, zone)
    inner = [start for _day, start in days[1:]]
    windows = [_window(boundary) for boundary in inner]
    if len(days) > MAX_LOCAL_DAYS or _estimate(per_utc_day, windows) > MAX_WINDOW_CASES:
        return None
    counted = _count_windows(windows, since, until, scope)

    # The range's cases opened before each UTC day: one running sum, read by bisection.
    utc_days = sorted(per_utc_day)
    running = [0]
    for day in utc_days:
        running.append(running[-1] + per_utc_day[day])

    def before_midnight(midnight: datetime) -> int:
        """The range's cases opened before a UTC midnight."""
        return running[bisect_left(utc_days, midnight.date())]

    cumulative = [0]
    for (lo, hi, sign), found in zip(windows, counted, strict=True):
        midnight = lo if sign == 1 else hi
        cumulative.append(before_midnight(midnight) + sign * found)
    cumulative.append(total)
    return [{"date": day.isoformat(), "count": cumulative[index + 1] - cumulative[index]}
            for index, (day, _start) in enumerate(days)]


def _count_windows(windows: list[tuple[datetime, datetime, int]], since: datetime,
                   until: datetime, scope: list) -> list[int]:
    """The range's cases in each window: an index range count each, ``CHUNK`` windows
    to a statement (one row of scalar subqueries)."""
    out: list[int] = []
    for first in range(0, len(windows), CHUNK):
        counts = [select(func.count()).select_from(Case).where(
            Case.created_at >= max(lo, since), Case.created_at < min(hi, until), *scope
        ).scalar_subquery() for lo, hi, _sign in windows[first:first + CHUNK]]
        out.extend(int(n) for n in db.session.execute(select(*counts)).one())
    return out
