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
        try:
            span = parse_date_range(args, ("from", "to"), timestamps=False, today=today,
                                    default_days=DEFAULT_DAYS)
        except QueryError as exc:
            raise ReportInputError(str(exc)) from None
        first, last = span.first_day, span.last_day
    return ReportParams(first, last, channel=_choice(args, "channel", CHANNELS),
                        language=_choice(args, "language", LANGUAGES),
                        category=_choice(args, "category", categories), preset=preset)
