"""The report's range presets: last 30 days, last 12 months, all time (``?range=``)."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from sqlalchemy import select, update

from hotline.extensions import db
from hotline.models import Case, utcnow
from hotline.reports.params import MAX_RANGE_DAYS, ReportInputError, parse
from tests.conftest import login_as

CATEGORIES = ("surrender", "other")
TODAY = date(2026, 3, 15)


def _parse(query: dict, first: date | None = None, today: date = TODAY):
    return parse(query, CATEGORIES, today=today, first_case_day=lambda: first)


def test_presets_end_today_and_keep_the_filters():
    assert (_parse({"range": "30d"}).first_day, _parse({"range": "30d"}).last_day) == (
        date(2026, 2, 14), TODAY)
    year = _parse({"range": "12m", "channel": "sms", "from": "2020-01-01"})
    assert (year.first_day, year.last_day, year.channel) == (date(2025, 3, 16), TODAY, "sms")
    assert year.query() == {"from": "2025-03-16", "to": "2026-03-15", "channel": "sms"}
    leap = _parse({"range": "12m"}, today=date(2028, 2, 29))
    assert leap.first_day == date(2027, 3, 1)


def test_all_time_starts_on_the_first_case_day_within_the_longest_range():
    assert _parse({"range": "all"}, first=date(2024, 6, 1)).first_day == date(2024, 6, 1)
    assert _parse({"range": "all"}, first=None).first_day == TODAY
    old = _parse({"range": "all"}, first=date(1990, 1, 1))
    assert (old.last_day - old.first_day).days + 1 == MAX_RANGE_DAYS


def test_an_unknown_preset_is_refused():
    with pytest.raises(ReportInputError, match="unknown range"):
        _parse({"range": "forever"})


def test_page_links_the_presets_and_answers_all_time(app, make_user, twilio_post):
    for n in range(3):
        twilio_post("/twilio/sms", {"MessageSid": f"SM{n + 1:032x}", "From": f"+7916000000{n}",
                                    "To": "+15005550006", "Body": "Помогите", "NumMedia": "0"})
    with app.app_context():
        first = db.session.execute(select(Case.id).order_by(Case.id)).scalars().first()
        long_ago = utcnow() - timedelta(days=500)
        db.session.execute(update(Case.__table__).where(Case.id == first)
                           .values(created_at=long_ago))
        db.session.commit()
    client = app.test_client()
    login_as(client, make_user("supervisor"))
    html = client.get("/reports/?range=all&language=ru").get_data(as_text=True)
    assert re.search(r'id="fig-total">3<', html)
    assert f'Cases opened from <time datetime="{long_ago.date().isoformat()}">' in html
    links = dict(re.findall(r'<a href="([^"]+)" data-range="(\w+)"', html))
    assert {value: key for key, value in links.items()} == {
        "night": "/reports/?range=night&amp;language=ru",
        "30d": "/reports/?range=30d&amp;language=ru", "12m": "/reports/?range=12m&amp;language=ru",
        "all": "/reports/?range=all&amp;language=ru"}
    assert re.search(r'data-range="all" aria-current="true"', html)
    recent = client.get("/reports/?range=12m").get_data(as_text=True)
    assert re.search(r'id="fig-total">2<', recent)  # the first case is 500 days old
    assert client.get("/reports/?range=forever").status_code == 400
