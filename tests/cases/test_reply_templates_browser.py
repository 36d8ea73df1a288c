"""A Korean caller answered with an approved Korean reply in two clicks, in Chromium:
choosing the template fills the box (JavaScript), sending it queues exactly that text."""

from __future__ import annotations

from sqlalchemy import select

from hotline.cases import reply_templates
from hotline.extensions import db
from hotline.intake.service import receive
from hotline.models import Interaction
from tests.conftest import login_as

KO = reply_templates.STARTER["We will call you back"]["ko"]


def test_choosing_a_korean_template_and_sending_it(app, chromium, live_server, make_user):
    staff = make_user("staff", display_name="Min-jun P.", languages="ko,en")
    with app.app_context():
        reply_templates.add_starter_set()
        case = receive(channel="sms", address="+821012345679", external_id="SMko" + "1" * 30,
                       language="ko", body="도와주세요. 전화해 주실 수 있나요?").case
        db.session.commit()
        reference, case_id = case.display_reference, case.id
    client = app.test_client()
    login_as(client, staff)
    cookie = client.get_cookie(app.config.get("SESSION_COOKIE_NAME", "session"))
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": live_server}])
    try:
        page = context.new_page()
        page.goto(f"{live_server}/dashboard/cases/{reference}")
        page.get_by_label("Approved reply").select_option(label="We will call you back")
        assert page.get_by_label("Reply to the caller").input_value() == KO
        page.get_by_role("button", name="Send reply by SMS").click()
        assert page.get_by_text("Reply queued.").is_visible()
        assert KO in page.locator(".timeline").inner_text()
    finally:
        context.close()
    with app.app_context():
        bodies = db.session.execute(select(Interaction.body).where(
            Interaction.case_id == case_id, Interaction.kind == "message_out")).scalars().all()
        assert bodies == [KO]
