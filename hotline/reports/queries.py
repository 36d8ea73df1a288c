"""The one query layer for case statistics; the report page and ``/api/v1/stats`` share it."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Date, cast, func, select

from hotline.extensions import db
from hotline.models import Case


@dataclass
class StatsFilter:
    """A date range [since, until) and optional equality filters."""

    since: datetime
    until: datetime
    channel: str | None = None
    language: str | None = None
    category: str | None = None

    def conditions(self) -> list:
        conds = [Case.created_at >= self.since, Case.created_at < self.until]
        for name in ("channel", "language", "category"):
            value = getattr(self, name)
            if value:
                conds.append(getattr(Case, name) == value)
        return conds


@dataclass
class CaseStats:
    """Figures for one StatsFilter."""

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
        """The JSON shape of ``GET /api/v1/stats``."""
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


def _group(column, flt: StatsFilter) -> dict[str, int]:  # noqa: ANN001
    rows = db.session.execute(
        select(column, func.count()).where(*flt.conditions()).group_by(column)
    ).all()
    return {(key if key is not None else "unset"): count for key, count in rows}


def day_expression():
    """SQL expression for the UTC calendar day of ``Case.created_at``."""
    if db.engine.dialect.name == "postgresql":
        return cast(func.timezone("UTC", Case.created_at), Date)
    return func.date(Case.created_at)


def by_day(flt: StatsFilter) -> list[dict[str, object]]:
    """Cases opened per UTC day, every day of the range present (zeros included)."""
    day = day_expression()
    rows = db.session.execute(
        select(day, func.count()).where(*flt.conditions()).group_by(day)
    ).all()
    counts = {str(key): n for key, n in rows}
    out = []
    current = flt.since.date()
    last = (flt.until - timedelta(microseconds=1)).date()
    while current <= last:
        out.append({"date": current.isoformat(), "count": counts.get(current.isoformat(), 0)})
        current += timedelta(days=1)
    return out


def first_response_seconds(flt: StatsFilter) -> list[float]:
    """Seconds from opening to first response, for cases in the range that have one."""
    rows = db.session.execute(
        select(Case.created_at, Case.first_response_at)
        .where(*flt.conditions(), Case.first_response_at.is_not(None))
    ).all()
    return sorted((responded - created).total_seconds() for created, responded in rows
                  if _aware(responded) >= _aware(created))


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def case_stats(flt: StatsFilter) -> CaseStats:
    """All the headline figures for ``flt``."""
    total = db.session.execute(select(func.count()).select_from(Case)
                               .where(*flt.conditions())).scalar_one()
    callbacks = db.session.execute(
        select(func.count()).select_from(Case)
        .where(*flt.conditions(), Case.callback_needed.is_(True), Case.status != "closed")
    ).scalar_one()
    responses = first_response_seconds(flt)
    return CaseStats(
        total=total,
        by_status=_group(Case.status, flt),
        by_category=_group(Case.category, flt),
        by_channel=_group(Case.channel, flt),
        by_language=_group(Case.language, flt),
        by_day=by_day(flt),
        callback_needed=callbacks,
        median_first_response_seconds=statistics.median(responses) if responses else None,
    )
