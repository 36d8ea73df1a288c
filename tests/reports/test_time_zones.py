"""Reports by local day and "last night's shift", in the reader's time zone."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from babel.dates import format_datetime

from hotline import staff_time
from hotline.reports.params import parse
from tests.conftest import login_as
from tests.dashboard_support import make_case

KYIV = ZoneInfo("Europe/Kyiv")


def _total(html: str) -> int:
    match = re.search(r'id="fig-total">(\d+)<', html)
    assert match, html[:500]
    return int(match.group(1))


def _opened(app, *moments: datetime) -> None:
    for moment in moments:
        make_case(app, created_at=moment)


@pytest.mark.parametrize(("day", "offset_hours"), [
    (date(2026, 1, 15), 2),   # winter: EET, UTC+2
    (date(2026, 7, 15), 3),   # summer: EEST, UTC+3 (daylight saving)
])
def test_a_kyiv_supervisors_day_is_the_local_day(app, client, make_user, day, offset_hours):
    start = datetime.combine(day, datetime.min.time(), UTC) - timedelta(hours=offset_hours)
    end = start + timedelta(days=1)
    minute = timedelta(minutes=1)
    _opened(app, start - minute, start, end - minute, end)  # two inside, one either side
    login_as(client, make_user("supervisor", timezone="Europe/Kyiv"))
    html = client.get(f"/reports/?from={day}&to={day}").get_data(as_text=True)
    assert _total(html) == 2
    assert "(local days, Europe/Kyiv)" in html
    assert f'<time datetime="{day}">' in html
    # The CSV holds the same two cases, their times in UTC ISO 8601.
    export = client.get(f"/reports/export.csv?from={day}&to={day}").get_data(as_text=True)
    rows = list(csv.DictReader(io.StringIO(export)))
    assert sorted(row["created_at"] for row in rows) == [
        start.isoformat(timespec="seconds"), (end - minute).isoformat(timespec="seconds")]
    assert all(row["created_at"].endswith("+00:00") for row in rows)


def test_a_utc_reader_of_the_same_day_counts_utc_midnights(app, client, make_user):
    day = date(2026, 7, 15)
    start = datetime.combine(day, datetime.min.time(), UTC)
    _opened(app, start - timedelta(hours=2), start + timedelta(hours=1))
    login_as(client, make_user("supervisor"))
    assert _total(client.get(f"/reports/?from={day}&to={day}").get_data(as_text=True)) == 1


def test_the_night_shift_preset_is_last_night_in_the_readers_zone(app, client, make_user):
    since, until = staff_time.night_shift(KYIV, 20, 8)
    minute = timedelta(minutes=1)
    _opened(app, since - minute, since, until - minute, until)
    login_as(client, make_user("supervisor", timezone="Europe/Kyiv"))
    html = client.get("/reports/?range=night").get_data(as_text=True)
    assert _total(html) == 2
    assert "(last night&#39;s shift)" in html or "(last night's shift)" in html
    shown = format_datetime(since, "short", tzinfo=KYIV, locale="en")
    assert f"from {shown} Europe/Kyiv" in html and shown.endswith(("8:00\u202fPM", "8:00 PM"))
    assert re.search(r'data-range="night" aria-current="true"', html)
    export = client.get("/reports/export.csv?range=night").get_data(as_text=True)
    assert len(list(csv.DictReader(io.StringIO(export)))) == 2


def test_the_shift_hours_come_from_the_settings(make_app, make_user):
    app = make_app(SHIFT_NIGHT_START=22, SHIFT_NIGHT_END=6)
    since, until = staff_time.night_shift(KYIV, 22, 6)
    _opened(app, since - timedelta(minutes=1), since + timedelta(hours=1))
    client = app.test_client()
    with app.app_context():
        from hotline.auth.passwords import hash_password, new_session_token
        from hotline.extensions import db
        from hotline.models import User

        user = User(email="night@hotline.test", display_name="N", role="supervisor",
                    timezone="Europe/Kyiv", password_hash=hash_password("x" * 16),
                    session_token=new_session_token())
        db.session.add(user)
        db.session.commit()
        db.session.refresh(user)
        db.session.expunge(user)
    login_as(client, user)
    html = client.get("/reports/?range=night").get_data(as_text=True)
    assert _total(html) == 1
    assert format_datetime(since, "short", tzinfo=KYIV, locale="en") in html
    assert format_datetime(until, "short", tzinfo=KYIV, locale="en") in html


def test_parse_reads_days_and_the_shift_in_the_zone():
    now = datetime(2026, 3, 29, 6, 0, tzinfo=UTC)  # 09:00 EEST, the morning clocks went on
    night = parse({"range": "night"}, (), zone="Europe/Kyiv", now=now)
    # 20:00 EET on the 28th to 08:00 EEST on the 29th: an 11-hour night.
    assert night.bounds == (datetime(2026, 3, 28, 18, tzinfo=UTC),
                            datetime(2026, 3, 29, 5, tzinfo=UTC))
    assert (night.first_day, night.last_day) == (date(2026, 3, 28), date(2026, 3, 29))
    assert night.query() == {"range": "night"}
    day = parse({"from": "2026-03-29", "to": "2026-03-29"}, (), zone="Europe/Kyiv", now=now)
    assert day.bounds == (datetime(2026, 3, 28, 22, tzinfo=UTC),
                          datetime(2026, 3, 29, 21, tzinfo=UTC))
    # Today is the local today: 23:30 UTC on the 28th is already the 29th in Kyiv.
    late = parse({}, (), zone="Europe/Kyiv", now=datetime(2026, 3, 28, 23, 30, tzinfo=UTC))
    assert late.last_day == date(2026, 3, 29)


def _day_table(html: str) -> dict[str, int]:
    table = re.search(r'<table id="table-day">(.*?)</table>', html, re.S).group(1)
    return {key: int(count) for key, count in re.findall(
        r'<tr data-key="([^"]+)"><td>[^<]*</td><td>(\d+)</td></tr>', table)}


def test_the_per_day_chart_counts_the_readers_local_days(app, client, make_user):
    """Across the DST change of 2026-03-29 in Kyiv (UTC+2, then UTC+3): each case is
    counted on its local day, the axis names the zone."""
    utc = lambda *a: datetime(*a, tzinfo=UTC)  # noqa: E731
    _opened(app,
            utc(2026, 3, 26, 21, 59),  # 23:59 on the 26th in Kyiv
            utc(2026, 3, 26, 22, 0),   # 00:00 on the 27th
            utc(2026, 3, 27, 23, 30),  # 01:30 on the 28th
            utc(2026, 3, 28, 21, 59),  # 23:59 on the 28th (still UTC+2)
            utc(2026, 3, 28, 22, 0),   # 00:00 on the 29th
            utc(2026, 3, 29, 20, 59),  # 23:59 on the 29th (now UTC+3)
            utc(2026, 3, 29, 21, 0))   # 00:00 on the 30th
    login_as(client, make_user("supervisor", timezone="Europe/Kyiv"))
    html = client.get("/reports/?from=2026-03-26&to=2026-03-31").get_data(as_text=True)
    assert _day_table(html) == {"2026-03-26": 1, "2026-03-27": 1, "2026-03-28": 2,
                                "2026-03-29": 2, "2026-03-30": 1, "2026-03-31": 0}
    assert "Day (Europe/Kyiv)" in html and "Cases opened per day (Europe/Kyiv)" in html
    assert 'id="days-utc-note"' not in html


@pytest.mark.parametrize("zone", ["Europe/Kyiv", "Asia/Seoul", "America/New_York",
                                  "Asia/Kolkata"])
def test_local_days_from_the_roll_up_equal_a_direct_count(app, zone):
    """Random cases over two months; the local-day counts (roll-up plus windows) equal a
    count of each case's local date, for whole local days and a night-shift span."""
    import random

    from hotline.reports import local_days
    from hotline.reports.queries import StatsFilter, report

    rng = random.Random(zone)
    base = datetime(2026, 2, 20, tzinfo=UTC)
    moments = [base + timedelta(seconds=rng.randrange(60 * 86400)) for _ in range(120)]
    _opened(app, *moments)
    tz = ZoneInfo(zone)
    spans = [staff_time.local_days(date(2026, 2, 22), date(2026, 4, 10), tz),
             (datetime(2026, 3, 5, 18, 0, tzinfo=tz).astimezone(UTC),
              datetime(2026, 3, 6, 8, 0, tzinfo=tz).astimezone(UTC))]
    with app.app_context():
        for since, until in spans:
            data = report(StatsFilter(since=since, until=until), zone=zone)
            expected: dict[str, int] = {}
            for day, _start in local_days.local_boundaries(since, until, tz):
                expected[day.isoformat()] = 0
            for moment in moments:
                if since <= moment < until:
                    key = moment.astimezone(tz).date().isoformat()
                    expected[key] += 1
            assert data.days_zone == zone
            assert {d["date"]: d["count"] for d in data.days} == expected
            assert sum(expected.values()) == data.stats.total


def test_a_range_too_costly_for_local_days_shows_utc_days_and_says_so(
        app, client, make_user, monkeypatch):
    from hotline.reports import local_days

    monkeypatch.setattr(local_days, "MAX_WINDOW_CASES", 0)
    _opened(app, datetime(2026, 3, 10, 23, 0, tzinfo=UTC))
    login_as(client, make_user("supervisor", timezone="Asia/Seoul"))
    html = client.get("/reports/?from=2026-03-09&to=2026-03-12").get_data(as_text=True)
    assert "Day (UTC)" in html and 'id="days-utc-note"' in html
    assert sum(_day_table(html).values()) == 1


def test_a_range_longer_than_a_quarter_shows_utc_days(app, client, make_user):
    # One window per local day is built and run: a year of them would miss the report's
    # p95 < 100 ms at 1M cases (bench/README.md), so a long range counts UTC days.
    from hotline.reports import local_days

    _opened(app, datetime(2026, 3, 10, 23, 0, tzinfo=UTC))
    login_as(client, make_user("supervisor", timezone="Europe/Kyiv"))
    short = client.get("/reports/?from=2026-01-01&to=2026-03-31").get_data(as_text=True)
    assert "Day (Europe/Kyiv)" in short and 'id="days-utc-note"' not in short
    assert _day_table(short).get("2026-03-11") == 1  # 01:00 in Kyiv
    long = client.get("/reports/?from=2025-03-01&to=2026-03-31").get_data(as_text=True)
    assert local_days.MAX_LOCAL_DAYS < 396
    assert "Day (UTC)" in long and 'id="days-utc-note"' in long
    assert _day_table(long).get("2026-03-10") == 1
