"""The report's query string (``from``, ``to``, ``channel``, ``language``, ``category``).

Shared by the page and the CSV export so both read a range the same way. Dates are
whole UTC days and ``to`` is inclusive.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from hotline.cases.vocabularies import CHANNELS, LANGUAGES
from hotline.reports.queries import StatsFilter

DEFAULT_DAYS = 30
# The same bound as /api/v1/stats: a longer range is a mistake, not a report.
MAX_RANGE_DAYS = 3660
# Dates outside these are typing mistakes (and would overflow the date arithmetic).
EARLIEST_DAY, LATEST_DAY = date(1970, 1, 1), date(9000, 12, 31)


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

    @property
    def filter(self) -> StatsFilter:
        since = datetime.combine(self.first_day, time.min, UTC)
        until = datetime.combine(self.last_day + timedelta(days=1), time.min, UTC)
        return StatsFilter(since=since, until=until, channel=self.channel,
                           language=self.language, category=self.category)

    def query(self) -> dict[str, str]:
        """The query-string arguments that reproduce this report (for links)."""
        out = {"from": self.first_day.isoformat(), "to": self.last_day.isoformat()}
        for name in ("channel", "language", "category"):
            value = getattr(self, name)
            if value:
                out[name] = value
        return out


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


def parse(args: Mapping[str, str], categories: tuple[str, ...],
          today: date | None = None) -> ReportParams:
    """Validate the query string; defaults to the last ``DEFAULT_DAYS`` days up to today."""
    today = today or datetime.now(UTC).date()
    last = _day(args, "to", today)
    first = _day(args, "from", max(last - timedelta(days=DEFAULT_DAYS - 1), EARLIEST_DAY))
    if last < first:
        raise ReportInputError("'to' must not be before 'from'")
    if (last - first).days + 1 > MAX_RANGE_DAYS:
        raise ReportInputError(f"the range may span at most {MAX_RANGE_DAYS} days")
    return ReportParams(first, last, channel=_choice(args, "channel", CHANNELS),
                        language=_choice(args, "language", LANGUAGES),
                        category=_choice(args, "category", categories))
