"""The report's query string (``from``, ``to``, ``range``, ``channel``, ``language``,
``category``).

Shared by the page and the CSV export so both read a range the same way. Dates are
whole UTC days and ``to`` is inclusive. ``range`` names a preset ending today (``30d``,
``12m``, ``all``); it takes the place of ``from`` and ``to``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from flask_babel import lazy_gettext as _l

from hotline.cases.vocabularies import CHANNELS, LANGUAGES
from hotline.reports.queries import StatsFilter

DEFAULT_DAYS = 30
# The same bound as /api/v1/stats: a longer range is a mistake, not a report.
MAX_RANGE_DAYS = 3660
# Dates outside these are typing mistakes (and would overflow the date arithmetic).
EARLIEST_DAY, LATEST_DAY = date(1970, 1, 1), date(9000, 12, 31)


# The ``range`` presets, all ending today: key -> label.
PRESETS = {"30d": _l("Last 30 days"), "12m": _l("Last 12 months"), "all": _l("All time")}


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

    @property
    def filter(self) -> StatsFilter:
        since = datetime.combine(self.first_day, time.min, UTC)
        until = datetime.combine(self.last_day + timedelta(days=1), time.min, UTC)
        return StatsFilter(since=since, until=until, channel=self.channel,
                           language=self.language, category=self.category)

    def query(self) -> dict[str, str]:
        """The query-string arguments that reproduce this report (for links)."""
        out = {"from": self.first_day.isoformat(), "to": self.last_day.isoformat()}
        out.update(self.filters())
        return out

    def filters(self) -> dict[str, str]:
        """The channel / language / category arguments alone (for the preset links)."""
        return {name: value for name in ("channel", "language", "category")
                if (value := getattr(self, name))}


def _day(args: Mapping[str, str], name: str, default: date) -> date:
    raw = (args.get(name) or "").strip()
    if not raw:
        return default
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        raise ReportInputError(f"'{name}' must be a date written YYYY-MM-DD") from None
    if not EARLIEST_DAY <= day <= LATEST_DAY:
        raise ReportInputError(f"'{name}' must lie between {EARLIEST_DAY} and {LATEST_DAY}")
    return day


def _choice(args: Mapping[str, str], name: str, allowed: tuple[str, ...]) -> str | None:
    value = (args.get(name) or "").strip()
    if not value:
        return None
    if value not in allowed:
        raise ReportInputError(f"unknown {name}; choose one of {', '.join(allowed)}")
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


def parse(args: Mapping[str, str], categories: tuple[str, ...],
          today: date | None = None,
          first_case_day: Callable[[], date | None] = lambda: None) -> ReportParams:
    """Validate the query string; defaults to the last ``DEFAULT_DAYS`` days up to today."""
    today = today or datetime.now(UTC).date()
    preset = (args.get("range") or "").strip() or None
    if preset is not None:
        if preset not in PRESETS:
            raise ReportInputError(f"unknown range; choose one of {', '.join(PRESETS)}")
        first, last = preset_range(preset, today, first_case_day)
    else:
        last = _day(args, "to", today)
        first = _day(args, "from", max(last - timedelta(days=DEFAULT_DAYS - 1), EARLIEST_DAY))
    if last < first:
        raise ReportInputError("'to' must not be before 'from'")
    if (last - first).days + 1 > MAX_RANGE_DAYS:
        raise ReportInputError(f"the range may span at most {MAX_RANGE_DAYS} days")
    return ReportParams(first, last, channel=_choice(args, "channel", CHANNELS),
                        language=_choice(args, "language", LANGUAGES),
                        category=_choice(args, "category", categories), preset=preset)
