"""Staff time zones: shown and typed in the user's zone, stored in UTC, set and audited."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from sqlalchemy import select

from hotline import staff_time
from hotline.extensions import db
from hotline.models import AuditEvent, Interaction, User
from tests.conftest import login_as
from tests.dashboard_support import case_url, csrf_token, make_case, post_action

SEOUL = ZoneInfo("Asia/Seoul")
KYIV = ZoneInfo("Europe/Kyiv")


def _shown(moment: datetime, zone: str) -> str:
    """How the ``when`` filter shows ``moment`` to an English reader in ``zone``."""
    return f"{format_datetime(moment, 'short', tzinfo=ZoneInfo(zone), locale='en')} {zone}"


def _callback_at(app, case_id: int) -> str:
    with app.app_context():
        row = db.session.execute(select(Interaction).where(
            Interaction.case_id == case_id, Interaction.kind == "callback")).scalar_one()
        return row.meta["at"]


def _user(app, user_id: int) -> User:
    with app.app_context():
        return db.session.get(User, user_id)


def _audits(app, action: str) -> list[dict]:
    with app.app_context():
        rows = db.session.execute(select(AuditEvent).where(AuditEvent.action == action))
        return [row.detail for row in rows.scalars()]


def test_a_seoul_users_0743_callback_is_read_in_seoul_and_shown_there(app, client, make_user):
    seoul = make_user("staff", timezone="Asia/Seoul")
    case = make_case(app, assigned_to=seoul)
    login_as(client, seoul)
    page = client.get(case_url(case["reference"])).get_data(as_text=True)
    assert "your time, Asia/Seoul" in page
    response = post_action(client, case["reference"], "callback", outcome="reached",
                           at="2026-01-02T07:43")
    assert response.status_code == 303, response.get_data(as_text=True)[:400]
    # Stored in UTC: 07:43 in Seoul (UTC+9) is 22:43 the day before.
    assert datetime.fromisoformat(_callback_at(app, case["id"])) == datetime(
        2026, 1, 1, 22, 43, tzinfo=UTC)
    page = client.get(case_url(case["reference"])).get_data(as_text=True)
    shown = _shown(datetime(2026, 1, 1, 22, 43, tzinfo=UTC), "Asia/Seoul")
    assert shown.startswith("1/2/26, 7:43") and f"call at {shown}" in page


def test_a_seoul_morning_typed_just_now_is_not_in_the_future(app, client, make_user):
    seoul = make_user("staff", timezone="Asia/Seoul")
    case = make_case(app, assigned_to=seoul)
    login_as(client, seoul)
    typed = (datetime.now(SEOUL) - timedelta(minutes=2)).replace(second=0, microsecond=0)
    response = post_action(client, case["reference"], "callback", outcome="reached",
                           at=typed.strftime("%Y-%m-%dT%H:%M"))
    assert response.status_code == 303, response.get_data(as_text=True)[:400]
    assert datetime.fromisoformat(_callback_at(app, case["id"])) == typed.astimezone(UTC)


def test_the_same_moment_is_shown_in_each_readers_zone(app, client, make_user):
    kyiv = make_user("supervisor", timezone="Europe/Kyiv")
    seoul = make_user("supervisor", timezone="Asia/Seoul")
    utc_user = make_user("supervisor")
    opened = datetime(2026, 7, 1, 21, 30, tzinfo=UTC)
    case = make_case(app, created_at=opened)
    expected = {kyiv: _shown(opened, "Europe/Kyiv"), seoul: _shown(opened, "Asia/Seoul"),
                utc_user: _shown(opened, "UTC")}
    assert "12:30" in expected[kyiv] and "6:30" in expected[seoul]
    for user, shown in expected.items():
        login_as(client, user)
        page = client.get(case_url(case["reference"])).get_data(as_text=True)
        assert shown in page, user.timezone
        assert (expected[utc_user] in page) == (user is utc_user)


def test_the_default_zone_comes_from_the_setting(make_app):
    app = make_app(HOTLINE_TIMEZONE="Europe/Kyiv")
    client = app.test_client()
    with app.app_context():
        from hotline.auth.passwords import hash_password, new_session_token
        user = User(email="d@hotline.test", display_name="D", role="staff",
                    password_hash=hash_password("x" * 16), session_token=new_session_token())
        db.session.add(user)
        db.session.commit()
        db.session.refresh(user)
        db.session.expunge(user)
    case = make_case(app, created_at=datetime(2026, 1, 15, 10, 0, tzinfo=UTC))
    login_as(client, user)
    page = client.get(case_url(case["reference"])).get_data(as_text=True)
    assert _shown(datetime(2026, 1, 15, 10, 0, tzinfo=UTC), "Europe/Kyiv") in page
    assert "Default (Europe/Kyiv)" in client.get("/account/password").get_data(as_text=True)


def test_a_user_sets_their_own_zone_with_csrf_and_an_audit_entry(app, client, staff):
    login_as(client, staff)
    page = client.get("/account/password").get_data(as_text=True)
    assert 'id="timezone-form"' in page
    token = re.search(r'id="timezone-form".*?name="csrf_token" type="hidden" value="([^"]+)"',
                      page, re.S).group(1)
    assert client.post("/account/timezone", data={"timezone": "Asia/Seoul"}).status_code == 400
    assert _user(app, staff.id).timezone is None
    response = client.post("/account/timezone",
                           data={"csrf_token": token, "timezone": "Asia/Seoul"})
    assert response.status_code == 303
    assert _user(app, staff.id).timezone == "Asia/Seoul"
    assert _audits(app, "user.timezone") == [
        {"user_id": staff.id, "from": "", "to": "Asia/Seoul"}]
    followed = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "times are shown in Asia/Seoul" in followed
    assert '<option selected value="Asia/Seoul">' in followed


def test_an_unknown_zone_is_refused_in_words(app, client, staff):
    login_as(client, staff)
    token = csrf_token(client.get("/account/password").get_data(as_text=True))
    for bad in ("Mars/Olympus", "../../etc/passwd", "x" * 300):
        response = client.post("/account/timezone", data={"csrf_token": token, "timezone": bad})
        assert response.status_code == 303
        assert "was not saved" in client.get(response.headers["Location"]).get_data(as_text=True)
    assert _user(app, staff.id).timezone is None
    assert _audits(app, "user.timezone") == []


def test_an_admin_sets_a_users_zone_and_staff_may_not(app, client, admin, staff):
    login_as(client, staff)
    token = csrf_token(client.get("/account/password").get_data(as_text=True))
    url = f"/admin/users/{admin.id}/timezone"
    assert client.post(url, data={"csrf_token": token, "timezone": "UTC"}).status_code == 403
    login_as(client, admin)
    page = client.get(f"/admin/users/{staff.id}").get_data(as_text=True)
    assert 'id="timezone-form"' in page
    token = csrf_token(page)
    response = client.post(f"/admin/users/{staff.id}/timezone",
                           data={"csrf_token": token, "timezone": "Europe/Kyiv"})
    assert response.status_code == 303
    assert _user(app, staff.id).timezone == "Europe/Kyiv"
    assert _audits(app, "user.timezone") == [
        {"user_id": staff.id, "from": "", "to": "Europe/Kyiv"}]
    assert client.post("/admin/users/999999/timezone",
                       data={"csrf_token": token, "timezone": "UTC"}).status_code == 404
    # Back to the default.
    client.post(f"/admin/users/{staff.id}/timezone", data={"csrf_token": token, "timezone": ""})
    assert _user(app, staff.id).timezone is None


def test_local_days_follow_daylight_saving():
    winter = staff_time.local_days(datetime(2026, 1, 15).date(), datetime(2026, 1, 15).date(),
                                   KYIV)
    assert winter == (datetime(2026, 1, 14, 22, tzinfo=UTC), datetime(2026, 1, 15, 22, tzinfo=UTC))
    # 29 March 2026: clocks go forward at 03:00; the day is 23 hours long.
    spring = staff_time.local_days(datetime(2026, 3, 29).date(), datetime(2026, 3, 29).date(),
                                   KYIV)
    assert spring == (datetime(2026, 3, 28, 22, tzinfo=UTC), datetime(2026, 3, 29, 21, tzinfo=UTC))


def test_the_night_shift_is_last_evening_to_this_morning():
    now = datetime(2026, 7, 2, 9, 0, tzinfo=UTC)  # 12:00 in Kyiv (EEST)
    assert staff_time.night_shift(KYIV, 20, 8, now) == (
        datetime(2026, 7, 1, 17, tzinfo=UTC), datetime(2026, 7, 2, 5, tzinfo=UTC))
    small_hours = datetime(2026, 7, 1, 23, 0, tzinfo=UTC)  # 02:00 on 2 July in Kyiv
    assert staff_time.night_shift(KYIV, 20, 8, small_hours) == (
        datetime(2026, 7, 1, 17, tzinfo=UTC), datetime(2026, 7, 2, 5, tzinfo=UTC))


def test_the_setting_is_checked(make_app):
    import pytest

    from config import ConfigError

    with pytest.raises(ConfigError, match="HOTLINE_TIMEZONE"):
        make_app(HOTLINE_TIMEZONE="Mars/Olympus")
