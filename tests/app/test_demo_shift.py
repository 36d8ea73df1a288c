"""``demo seed`` looks like a night on the line: a few demo staff who cannot sign in
unless asked, fresh new cases, a shift's backlog, believable proportions."""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from hotline.cases.timeline import call_outcome
from hotline.cases.workflow import OPEN_STATUSES
from hotline.demo import (
    CHANNEL_WEIGHTS,
    DEFAULT_STAFF,
    DEFAULT_SUPERVISORS,
    DEMO_EMAIL_DOMAIN,
    SHIFT_HOURS,
    seed,
)
from hotline.extensions import db
from hotline.models import Case, Interaction, User
from tests.auth_flow import password_step
from tests.conftest import login_as

NOW = datetime(2030, 3, 1, 2, 30, tzinfo=UTC)  # half past two in the night


@pytest.fixture
def night(app_ctx):
    seed(200, seed_value=5, now=NOW)
    db.session.expire_all()
    cases = db.session.scalars(select(Case)).all()
    db.session.expunge_all()
    db.session.rollback()  # end the read: SQLite's write lock would block the test client
    return cases


def _age(case: Case) -> timedelta:
    return NOW - case.created_at


def test_a_handful_of_demo_staff_with_obvious_names(night) -> None:
    users = db.session.scalars(select(User)).all()
    assert len(users) == DEFAULT_STAFF + DEFAULT_SUPERVISORS <= 8
    assert all(u.demo and u.display_name.startswith("Demo ") for u in users)
    assert all(u.email.endswith("@" + DEMO_EMAIL_DOMAIN) for u in users)
    assert all(not u.can_sign_in_with_password for u in users)


def test_new_cases_are_minutes_to_hours_old(night) -> None:
    new = [c for c in night if c.status == "new"]
    assert len(new) >= 3
    assert all(_age(c) <= timedelta(hours=SHIFT_HOURS) for c in new)
    assert min(_age(c) for c in new) < timedelta(hours=1)
    # Nobody has read them yet: unclassified, unassigned, no answer, normal urgency.
    assert all(c.category is None and c.assigned_to_id is None and c.first_response_at is None
               and c.urgency == "normal" for c in new)


def test_the_open_backlog_is_a_shift(night) -> None:
    open_cases = [c for c in night if c.status in OPEN_STATUSES]
    assert 8 <= len(open_cases) <= 40
    statuses = Counter(c.status for c in open_cases)
    assert statuses["in_progress"] >= 2 and statuses["new"] >= 3
    callbacks = [c for c in night if c.callback_needed]
    assert all(c.channel == "voice" and c.status in OPEN_STATUSES for c in callbacks)
    for case in callbacks:  # the call reached nobody
        call = db.session.scalars(select(Interaction).where(
            Interaction.case_id == case.id, Interaction.kind == "call")).one()
        assert call.meta["dial_status"] in ("no-answer", "busy")
        assert call_outcome(call.meta) in ("no_answer", "busy", "voicemail")
    # Everything older than ten days is closed; nothing is in the future.
    assert all(c.status == "closed" for c in night if _age(c) > timedelta(days=10))
    assert all(_age(c) >= timedelta(0) for c in night)
    worked = [c for c in open_cases if c.first_response_at]
    assert all(c.first_response_at <= NOW for c in worked)


def test_proportions_are_believable(app_ctx) -> None:
    seed(2000, seed_value=9, now=NOW)
    cases = db.session.scalars(select(Case)).all()
    channels = Counter(c.channel for c in cases)
    total_weight = sum(CHANNEL_WEIGHTS.values())
    for channel, weight in CHANNEL_WEIGHTS.items():
        assert abs(channels[channel] / len(cases) - weight / total_weight) < 0.05, channel
    triaged = [c for c in cases if c.status != "new"]
    urgency = Counter(c.urgency for c in triaged)
    assert urgency["normal"] > 0.6 * len(triaged)
    assert 0 < urgency["immediate"] < 0.1 * len(triaged)
    surrender = [c for c in triaged if c.category == "surrender"]
    share = sum(c.urgency != "normal" for c in surrender) / len(surrender)
    assert share > 0.3  # surrender cases are the urgent ones
    waiting_callbacks = [c for c in cases if c.callback_needed]
    assert waiting_callbacks and all(c.status in OPEN_STATUSES for c in waiting_callbacks)
    categories = Counter(c.category for c in triaged)
    assert categories["hostile"] < 0.08 * len(triaged) < categories["surrender"]
    open_count = sum(c.status in OPEN_STATUSES for c in cases)
    assert open_count < 0.1 * len(cases)


def test_an_on_duty_colleague_sees_the_seeded_unattended_cases(client, make_user,
                                                                night) -> None:
    """The demo staff are off duty: the open cases a caller wrote to since their last
    action are the unattended view of whoever is on duty, and nothing else is."""
    unattended = {c.display_reference for c in night if c.status in OPEN_STATUSES
                  and c.assigned_to_id is not None and c.awaiting_staff_since is not None}
    assert unattended
    colleague = make_user("staff", on_duty=True)
    login_as(client, colleague)
    page = client.get("/dashboard/?view=unattended").get_data(as_text=True)
    assert f'id="unattended-count">{len(unattended)}<' in page
    shown = set(re.findall(r'class="ref" href="/dashboard/cases/([^"]+)"', page))
    assert shown == unattended


def test_demo_accounts_cannot_sign_in(app, client, night) -> None:
    from hotline.demo import NO_LOGIN_HASH

    email = f"staff01@{DEMO_EMAIL_DOMAIN}"
    for attempt in ("", NO_LOGIN_HASH, "demo", "password"):
        answer = password_step(client, email, attempt)
        assert answer.status_code != 302 or "/login/two-factor" not in answer.location


def test_with_logins_they_sign_in_like_new_accounts(app, client) -> None:
    result = app.test_cli_runner().invoke(args=["demo", "seed", "--cases", "30",
                                                "--with-logins"])
    assert result.exit_code == 0, result.output
    password = re.search(r"one-time password: (\S+)", result.output).group(1)
    assert "two-factor" in result.output.split("one-time password")[1]
    answer = password_step(client, f"staff01@{DEMO_EMAIL_DOMAIN}", password)
    assert answer.status_code == 302 and answer.location.endswith("/login/two-factor")
    with app.app_context():
        user = db.session.scalars(select(User).where(
            User.email == f"supervisor01@{DEMO_EMAIL_DOMAIN}")).one()
        assert user.demo and user.must_change_password and user.can_sign_in_with_password


def test_without_logins_the_cli_says_so(app) -> None:
    result = app.test_cli_runner().invoke(args=["demo", "seed", "--cases", "20"])
    assert result.exit_code == 0, result.output
    assert "cannot sign in" in result.output and "one-time password" not in result.output


def test_admin_list_marks_demo_accounts(app, client, make_user, night) -> None:
    demo_id = db.session.scalars(select(User.id).where(User.demo.is_(True))).first()
    db.session.rollback()
    admin = make_user("admin", email="real.admin@hotline.test", display_name="Real Admin")
    login_as(client, admin)
    page = client.get("/admin/users").get_data(as_text=True)
    rows = page.split("<tbody>", 1)[1].split("</tbody>", 1)[0].split("<tr")[1:]
    demo_rows = [row for row in rows if "badge-demo" in row]
    assert len(demo_rows) == DEFAULT_STAFF + DEFAULT_SUPERVISORS
    assert all(">demo</span>" in row for row in demo_rows)
    real = next(row for row in rows if "Real Admin" in row)
    assert "badge-demo" not in real
    detail = client.get(f"/admin/users/{demo_id}")
    assert "cannot sign in" in detail.get_data(as_text=True)
