"""The report's query string (``from``, ``to``, ``range``, ``channel``, ``language``,
``category``).

Shared by the page and the CSV export so both read a range the same way. Dates are
whole days in the reader's time zone (``hotline.staff_time``) and ``to`` is inclusive.
``range`` names a preset ending today (``30d``, ``12m``, ``all``) or ``night``, last
night's shift (``SHIFT_NIGHT_START`` to ``SHIFT_NIGHT_END`` local); it takes the place of
``from`` and ``to``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from hotline import staff_time
from hotline.cases.queries import (
    DEFAULT_RANGE_DAYS,
    EARLIEST_DAY,
    LATEST_DAY,
    MAX_RANGE_DAYS,
    QueryError,
    parse_date_range,
)
from hotline.cases.vocabularies import CHANNELS, LANGUAGES
from hotline.reports.queries import StatsFilter

# The range parser and its bounds are the case-query module's (shared with /api/v1/stats).
DEFAULT_DAYS = DEFAULT_RANGE_DAYS
__all__ = ["DEFAULT_DAYS", "EARLIEST_DAY", "LATEST_DAY", "MAX_RANGE_DAYS", "PRESETS",
           "ReportInputError", "ReportParams", "parse", "preset_range"]


# The ``range`` presets: key -> label. All but ``night`` are whole days ending today.
PRESETS = {"night": _l("Last night's shift"), "30d": _l("Last 30 days"),
           "12m": _l("Last 12 months"), "all": _l("All time")}
NIGHT = "night"


class ReportInputError(ValueError):
    """The query string does not describe a valid report."""


@dataclass(frozen=True)
class ReportParams:
    """A validated report request."""

    first_day: date
    last_day: date
    channel: str | None = None
    language: str | None = None
    category: str | None = None
    preset: str | None = None
    # The reader's zone the days are read in; ``span`` overrides the days (the shift).
    zone: str = "UTC"
    span: tuple[datetime, datetime] | None = None

    @property
    def bounds(self) -> tuple[datetime, datetime]:
        """``[since, until)`` in UTC: the local days, or the shift's hours."""
        if self.span is not None:
            return self.span
        return staff_time.local_days(self.first_day, self.last_day, ZoneInfo(self.zone))

    @property
    def filter(self) -> StatsFilter:
        since, until = self.bounds
        return StatsFilter(since=since, until=until, channel=self.channel,
                           language=self.language, category=self.category)

    def query(self) -> dict[str, str]:
        """The query-string arguments that reproduce this report (for links)."""
        out = ({"range": NIGHT} if self.span is not None
               else {"from": self.first_day.isoformat(), "to": self.last_day.isoformat()})
        out.update(self.filters())
        return out

    def filters(self) -> dict[str, str]:
        """The channel / language / category arguments alone (for the preset links)."""
        return {name: value for name in ("channel", "language", "category")
                if (value := getattr(self, name))}


def _choice(args: Mapping[str, str], name: str, allowed: tuple[str, ...]) -> str | None:
    value = (args.get(name) or "").strip()
    if not value:
        return None
    if value not in allowed:
        raise ReportInputError(_("unknown %(name)s; choose one of %(allowed)s", name=name,
                                 allowed=", ".join(allowed)))
    return value


def preset_range(preset: str, today: date, first_case_day: Callable[[], date | None]
                 ) -> tuple[date, date]:
    """(from, to) of a preset: the last 30 days, the last 12 months, or all time.

    "Last 12 months" starts the day after the same date a year ago (365 or 366 days);
    "all time" on the UTC day of the first case, at most ``MAX_RANGE_DAYS`` back.
    """
    if preset == "30d":
        return today - timedelta(days=DEFAULT_DAYS - 1), today
    if preset == "12m":
        try:
            year_ago = today.replace(year=today.year - 1)
        except ValueError:  # 29 February
            year_ago = today.replace(year=today.year - 1, day=28)
        return year_ago + timedelta(days=1), today
    first = first_case_day() or today
    return max(min(first, today), today - timedelta(days=MAX_RANGE_DAYS - 1)), today


def _local_first(utc_day: date | None, tz: ZoneInfo) -> date | None:
    """The local day in which the UTC day ``utc_day`` begins (no case is before it)."""
    if utc_day is None:
        return None
    return datetime.combine(utc_day, datetime.min.time(), UTC).astimezone(tz).date()


def parse(args: Mapping[str, str], categories: tuple[str, ...],
          today: date | None = None,
          first_case_day: Callable[[], date | None] = lambda: None, *,
          zone: str = "UTC", night: tuple[int, int] = (20, 8),
          now: datetime | None = None) -> ReportParams:
    """Validate the query string; defaults to the last ``DEFAULT_DAYS`` days up to today.

    Days are read in ``zone``; ``night`` is the shift's (start, end) local hours.
    """
    tz = ZoneInfo(zone)
    now = now or datetime.now(UTC)
    today = today or staff_time.local_today(tz, now)
    preset = (args.get("range") or "").strip() or None
    shift = None
    if preset == NIGHT:
        shift = staff_time.night_shift(tz, night[0], night[1], now)
        first = shift[0].astimezone(tz).date()
        last = (shift[1] - timedelta(microseconds=1)).astimezone(tz).date()
    elif preset is not None:
        if preset not in PRESETS:
            raise ReportInputError(_("unknown range; choose one of %(allowed)s",
                                     allowed=", ".join(str(name) for name in PRESETS.values())))
        first, last = preset_range(preset, today, lambda: _local_first(first_case_day(), tz))
    else:
        try:
            span = parse_date_range(args, ("from", "to"), timestamps=False, today=today,
                                    default_days=DEFAULT_DAYS)
        except QueryError as exc:
            raise ReportInputError(str(exc)) from None
        first, last = span.first_day, span.last_day
    return ReportParams(first, last, channel=_choice(args, "channel", CHANNELS),
                        language=_choice(args, "language", LANGUAGES),
                        category=_choice(args, "category", categories), preset=preset,
                        zone=zone, span=shift)
