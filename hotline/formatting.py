"""Numbers, dates, times and lengths of time on the staff pages, in the reader's language.

One home for every value a page shows that is not a word: Babel formats them for the
locale ``hotline.i18n`` chose, in the time zone Flask-Babel is given (its time-zone
selector; UTC until one is set). The unit words (``min``, ``h``) are translated texts.
Templates use the filters ``when``, ``day``, ``number``, ``duration`` and ``age``; the
public follow-up page uses ``caller_when``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import Flask
from flask_babel import format_date, format_datetime, format_decimal, get_timezone
from flask_babel import gettext as _

from hotline.models import utcnow
from hotline.staff_time import default_zone_name, valid_zone

DASH = "—"


def when(value: datetime | str | None) -> str:
    """A moment: the locale's short date and time, then the reader's time zone.

    The zone is ``hotline.staff_time``'s (Flask-Babel's selector). Also takes the ISO 8601
    text a timeline entry's meta stores.
    """
    if not value:
        return DASH
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return value
    else:
        moment = value
    return f"{format_datetime(moment, 'short')} {get_timezone()}"


def caller_when(value: datetime | None) -> str:
    """A moment for a caller (the public follow-up page): in the deployment's zone.

    A caller is not a staff member with a zone of their own, and UTC would put a reply
    hours off their clock. So the time is shown in ``HOTLINE_TIMEZONE`` (the line's home
    zone, whoever is signed in on the same browser), with the zone and its offset named:
    ``2026-12-02 05:04 Europe/Kyiv (UTC+02:00)``; digits only, readable in any language.
    """
    if value is None:
        return DASH
    moment = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    name = default_zone_name()
    name = name if valid_zone(name) else "UTC"
    local = moment.astimezone(ZoneInfo(name))
    offset = local.strftime("%z")
    offset = f"UTC{offset[:3]}:{offset[3:]}" if offset else "UTC"
    return f"{local:%Y-%m-%d %H:%M} {name} ({offset})"


def day(value: date | datetime | None) -> str:
    """A day in the locale's medium form (``Dec 1, 2026``, ``1 груд. 2026 р.``)."""
    if value is None:
        return DASH
    return format_date(value, "medium")


def number(value: Any) -> str:
    """A count or figure with the locale's digit grouping and decimal sign."""
    if not isinstance(value, int | float):
        return DASH if value is None else str(value)
    return format_decimal(value)


def duration(seconds: Any) -> str:
    """A length of time: ``45 s``, ``12 min 5 s``, ``3 h 20 min``, ``2 d 4 h``."""
    if not isinstance(seconds, int | float) or seconds < 0:
        return DASH
    whole = int(round(seconds))
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return _("%(days)s d %(hours)s h", days=days, hours=hours)
    if hours:
        return _("%(hours)s h %(minutes)s min", hours=hours, minutes=minutes)
    if minutes:
        return _("%(minutes)s min %(seconds)s s", minutes=minutes, seconds=secs)
    return _("%(seconds)s s", seconds=secs)


def age(value: datetime | None) -> str:
    """How long ago ``value`` was, coarsely: ``12 min``, ``3 h 20 min``, ``4 d``."""
    if value is None:
        return DASH
    seconds = max(int((utcnow() - value).total_seconds()), 0)
    if seconds < 3600:
        return _("%(minutes)s min", minutes=seconds // 60)
    if seconds < 86400:
        return _("%(hours)s h %(minutes)s min", hours=seconds // 3600,
                 minutes=seconds % 3600 // 60)
    return _("%(days)s d", days=seconds // 86400)


def stored_text(value: str | None) -> str:
    """A text the system stored in English (a reply's ``last_error`` such as "not sent:
    the caller is blocked"), in the reader's language when the catalogues have it; a
    provider's own words are shown as they came. Never formatted (no ``%`` is read)."""
    return _(value) if value else (value or "")


def register(app: Flask) -> None:
    """Install the filters on ``app``'s templates."""
    for name, function in (("when", when), ("day", day), ("number", number),
                           ("duration", duration), ("age", age),
                           ("stored_text", stored_text), ("caller_when", caller_when)):
        app.add_template_filter(function, name)
