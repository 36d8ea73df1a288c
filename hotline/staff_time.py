"""Staff time zones: one home for reading and showing times in the reader's zone.

Every moment is stored in UTC. A staff member has a time zone (``users.timezone``,
migration ``0031_user_timezone``; empty means the ``HOTLINE_TIMEZONE`` default). This
module is the only place that turns a stored moment into a local one and back:

- ``select_timezone`` is Flask-Babel's time-zone selector, so Babel's formatters (the
  ``when`` filter of ``hotline.formatting``, used on every staff page) show times in the
  signed-in user's zone, the zone named;
- ``from_local`` reads a time a person typed (a callback's time) in their zone;
- ``local_days`` and ``night_shift`` turn local days or "last night's shift" into the
  ``[since, until)`` UTC range the report queries read.

The CSV export and the API keep UTC ISO 8601; nothing here touches them. The account
page (``/account/timezone``) and the admin user page (``/admin/users/<id>/timezone``)
change a zone; both are CSRF-checked and audited as ``user.timezone``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from flask import Blueprint, Flask, abort, current_app, flash, redirect, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms.fields import SelectField

from hotline import audit
from hotline.auth.guards import staff_required
from hotline.extensions import db
from hotline.models import User

DEFAULT_ZONE = "UTC"
# The longest zone name the column holds (IANA names are at most ~32 characters).
MAX_ZONE_LENGTH = 64

bp = Blueprint("staff_time", __name__)


@cache
def zone_names() -> tuple[str, ...]:
    """Every IANA zone name this system knows, sorted (``UTC`` first)."""
    names = sorted(n for n in available_timezones() if "/" in n and not n.startswith("Etc/"))
    return (DEFAULT_ZONE, *names)


def valid_zone(name: str) -> bool:
    """True when ``name`` is a zone ``zoneinfo`` can load (and a sane length)."""
    if not name or len(name) > MAX_ZONE_LENGTH or name.startswith(("/", ".")) or ".." in name:
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def default_zone_name() -> str:
    """The ``HOTLINE_TIMEZONE`` setting (``UTC`` when unset)."""
    return current_app.config.get("HOTLINE_TIMEZONE") or DEFAULT_ZONE


def zone_name_for(user: User | None) -> str:
    """The zone a user reads times in: their own, else the default."""
    own = getattr(user, "timezone", None) if user is not None else None
    return own if own and valid_zone(own) else default_zone_name()


def zone_of(user: User | None) -> ZoneInfo:
    """``zone_name_for`` as a ``ZoneInfo``."""
    return ZoneInfo(zone_name_for(user))


def current_zone() -> ZoneInfo:
    """The zone of the signed-in user (the default for anyone else)."""
    user = current_user._get_current_object() if current_user.is_authenticated else None
    return zone_of(user)


def select_timezone() -> str:
    """Flask-Babel's time-zone selector: the signed-in user's zone name."""
    user = current_user._get_current_object() if current_user.is_authenticated else None
    return zone_name_for(user)


def to_local(moment: datetime, zone: ZoneInfo | None = None) -> datetime:
    """A stored moment in ``zone`` (default: the reader's); naive values are UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(zone or current_zone())


def from_local(typed: datetime, zone: ZoneInfo | None = None) -> datetime:
    """A time typed without a zone, read in ``zone`` (default: the reader's), as UTC.

    A wall time that does not exist (skipped at a DST change) or exists twice is read
    with ``fold=0``, the earlier reading, as ``zoneinfo`` does.
    """
    if typed.tzinfo is None:
        typed = typed.replace(tzinfo=zone or current_zone())
    return typed.astimezone(UTC)


def typed_time_label(what: str) -> str:
    """A label for a typed time that says which zone it is read in."""
    return _("%(what)s (your time, %(zone)s; empty = now)", what=str(what),
             zone=select_timezone())


def local_today(zone: ZoneInfo | None = None, now: datetime | None = None) -> date:
    """Today's date in ``zone`` (default: the reader's)."""
    return to_local(now or datetime.now(UTC), zone).date()


def local_days(first: date, last: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """``[since, until)`` in UTC covering the local days ``first`` to ``last`` inclusive.

    Local midnights, so a day across a DST change is 23 or 25 hours long.
    """
    since = datetime.combine(first, time.min, zone).astimezone(UTC)
    until = datetime.combine(last + timedelta(days=1), time.min, zone).astimezone(UTC)
    return since, until


def night_shift(zone: ZoneInfo, start_hour: int, end_hour: int,
                now: datetime | None = None) -> tuple[datetime, datetime]:
    """``[since, until)`` in UTC of last night's shift in ``zone``.

    The shift starts at ``start_hour`` on the evening before the local today and ends at
    ``end_hour`` today (the same day when ``end_hour`` is later than ``start_hour``).
    During the small hours it is the shift under way.
    """
    today = local_today(zone, now)
    evening = today - timedelta(days=1)
    end_day = today if end_hour <= start_hour else evening
    since = datetime.combine(evening, time(start_hour), zone).astimezone(UTC)
    until = datetime.combine(end_day, time(end_hour), zone).astimezone(UTC)
    return since, until


# ---- the setting on the account and admin user pages ---------------------------------------

class TimezoneForm(FlaskForm):
    """The user's time zone; empty follows the ``HOTLINE_TIMEZONE`` default."""

    timezone = SelectField(_l("Time zone"), validate_choice=True)

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        default = default_zone_name()
        self.timezone.choices = ([("", _("Default (%(zone)s)", zone=default))]
                                 + [(n, n) for n in zone_names()])


def timezone_form(user: User) -> TimezoneForm:
    """The form showing ``user``'s stored zone (for the templates)."""
    return TimezoneForm(formdata=None, timezone=user.timezone or "")


def set_timezone(user: User, name: str, *, actor: User) -> bool:
    """Store ``user``'s zone (empty: the default) and audit it; False if unchanged.

    Raises ValueError for a name ``zoneinfo`` does not know.
    """
    name = (name or "").strip()
    if name and not valid_zone(name):
        raise ValueError("unknown time zone")
    if (user.timezone or "") == name:
        return False
    before = user.timezone or ""
    user.timezone = name or None
    audit.record("user.timezone", actor=actor,
                 detail={"user_id": user.id, "from": before, "to": name})
    return True


def _save(user: User, actor: User) -> None:
    form = TimezoneForm()
    if not form.validate_on_submit():
        flash(_("The time zone was not saved: choose one from the list."), "error")
        return
    try:
        changed = set_timezone(user, form.timezone.data or "", actor=actor)
    except ValueError:
        flash(_("The time zone was not saved: choose one from the list."), "error")
        return
    db.session.commit()
    if changed:
        flash(_("Time zone saved: times are shown in %(zone)s.", zone=zone_name_for(user)),
              "success")


@bp.post("/account/timezone")
@staff_required()
def account_timezone():
    """A signed-in user chooses the zone their pages show times in (audited)."""
    user = current_user._get_current_object()
    _save(user, user)
    return redirect(url_for("auth.account_password"), code=303)


@bp.post("/admin/users/<int:user_id>/timezone")
@staff_required("admin")
def admin_timezone(user_id: int):
    """An admin sets a user's time zone (audited)."""
    user = db.session.get(User, user_id)
    if user is None:
        abort(404)
    _save(user, current_user._get_current_object())
    return redirect(url_for("admin.user_detail", user_id=user.id), code=303)


def register(app: Flask) -> None:
    """The routes and the templates' ``timezone_form`` and ``reader_zone`` globals."""
    app.register_blueprint(bp)
    app.add_template_global(timezone_form, "timezone_form")
    app.add_template_global(select_timezone, "reader_zone")
