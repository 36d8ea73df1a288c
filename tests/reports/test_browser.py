"""The report page in headless Chromium: it renders without errors, and the screenshot."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from hotline.cases.references import new_reference
from hotline.cases.vocabularies import CHANNELS, CLASSIFICATIONS, LANGUAGES
from hotline.cases.workflow import RESOLUTIONS, STATUSES
from hotline.extensions import db
from hotline.models import Caller, Case
from tests.conftest import login_as

pytestmark = pytest.mark.browser
CASES = 240


def _seed(app, users) -> int:
    """A plausible month of cases (fixed random seed), for the screenshot."""
    rng = random.Random(6)
    now = datetime.now(UTC)
    in_range = 0
    with app.app_context():
        for index in range(CASES):
            created = now - timedelta(minutes=rng.randint(5, 29 * 24 * 60))
            in_range += 1
            status = rng.choices(STATUSES, weights=(2, 2, 3, 1, 12))[0]
            closed = status == "closed"
            caller = Caller(address_kind="phone", address_index=f"b-{index}")
            db.session.add(Case(
                reference=new_reference(), caller=caller,
                channel=rng.choices(CHANNELS, weights=(3, 4, 5, 6, 2))[0],
                language=rng.choices(LANGUAGES, weights=(2, 6, 4, 1))[0],
                category=rng.choices(CLASSIFICATIONS["category"], weights=(5, 6, 4, 3, 1, 1))[0],
                affiliation=rng.choices(CLASSIFICATIONS["affiliation"], weights=(8, 2, 1, 2))[0],
                urgency=rng.choices(CLASSIFICATIONS["urgency"], weights=(1, 3, 8))[0],
                status=status, resolution=rng.choice(RESOLUTIONS) if closed else None,
                callback_needed=not closed and rng.random() < 0.2,
                assigned_to_id=rng.choice(users).id if status != "new" else None,
                created_at=created, updated_at=created,
                first_response_at=(created + timedelta(seconds=rng.randint(40, 5400))
                                   if status != "new" else None),
                closed_at=(min(created + timedelta(hours=rng.randint(1, 72)), now)
                           if closed else None)))
        db.session.commit()
    return in_range


def test_report_page_in_chromium_and_screenshot(app, live_server, page, make_user,
                                                screenshot):
    staff = [make_user("staff", display_name=name)
             for name in ("Kim Ji-woo", "Olena Marchenko", "Sergei Ivanov")]
    total = _seed(app, staff)
    supervisor = make_user("supervisor", display_name="Sam Supervisor")
    client = app.test_client()
    login_as(client, supervisor)
    client.get("/reports/")  # the session cookie is (re)issued on a response
    cookie = client.get_cookie("session")
    assert cookie is not None
    page.context.add_cookies([{"name": "session", "value": cookie.value, "url": live_server}])
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error"
            and not msg.location.get("url", "").endswith("/favicon.ico") else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    response = page.goto(f"{live_server}/reports/")
    assert response is not None and response.status == 200
    assert page.locator("h1").inner_text() == "Reports"
    assert page.locator("#fig-total").inner_text() == str(total)
    assert page.locator("#chart-day rect.bar").count() == 30
    assert page.locator("#chart-channel rect.bar").count() == len(CHANNELS)
    assert page.locator("#chart-channel").bounding_box()["width"] > 200
    assert errors == []  # no CSP violations, nothing blocked

    assert screenshot(page, "reports.png").stat().st_size > 10_000
    # The presets are plain links: "Last 12 months" reloads the page with that range.
    page.click('#report-presets a[data-range="12m"]')
    assert page.locator('#report-presets a[aria-current="true"]').inner_text() == "Last 12 months"
    assert page.locator("#fig-total").inner_text() == str(total)
    assert page.locator("#chart-day rect.bar").count() in (365, 366)
    assert errors == []
