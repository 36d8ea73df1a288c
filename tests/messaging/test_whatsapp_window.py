"""WhatsApp's 24-hour window: shown on the case page, free text refused outside it before
queueing, and an approved WhatsApp template sent instead by ContentSid with variables."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select

import settings
from hotline.cases import reply_policy
from hotline.extensions import db
from hotline.messaging import outbox
from hotline.models import Case, Interaction, utcnow
from tests.conftest import login_as
from tests.dashboard_support import case_url, make_case, post_action
from tests.twilio_fakes import TEST_ACCOUNT_SID, FakeTwilioHttp

FROM = "whatsapp:+15005550006"
SID_KO = "HX" + "a" * 32
SID_EN = "HX" + "b" * 32


@pytest.fixture
def fake() -> FakeTwilioHttp:
    return FakeTwilioHttp()


@pytest.fixture
def wa_app(make_app, fake):
    return make_app(TWILIO_ACCOUNT_SID=TEST_ACCOUNT_SID, TWILIO_MESSAGING_FROM=FROM,
                    TWILIO_HTTP_CLIENT=fake,
                    TWILIO_WHATSAPP_TEMPLATES=[f"received/ko={SID_KO}",
                                               f"received/en={SID_EN}"])


def _wa_case(app, hours_ago: float, language: str = "ko"):
    return make_case(app, kind="whatsapp", channel="whatsapp", language=language,
                     address=f"+8210{int(hours_ago * 1000):08d}", body="안녕하세요",
                     created_at=utcnow() - timedelta(hours=hours_ago))


def _sent(app, case_id: int) -> list[Interaction]:
    with app.app_context():
        rows = db.session.execute(select(Interaction).where(
            Interaction.case_id == case_id, Interaction.kind == "message_out")).scalars().all()
        for row in rows:
            db.session.expunge(row)
        return list(rows)


def test_open_window_is_shown_and_free_text_goes(wa_app, fake, staff):
    case = _wa_case(wa_app, hours_ago=2)
    client = wa_app.test_client()
    login_as(client, staff)
    page = client.get(case_url(case["reference"])).get_data(as_text=True)
    assert 'id="whatsapp-window"' in page and "WhatsApp window open until" in page
    response = post_action(client, case["reference"], "reply", body="네, 듣고 있습니다.")
    assert response.status_code == 303
    with wa_app.app_context():
        assert outbox.work_once().sent == 1
    assert fake.sent[0]["data"]["Body"] == "네, 듣고 있습니다."


def test_closed_window_refuses_free_text_before_queueing(wa_app, fake, staff):
    case = _wa_case(wa_app, hours_ago=25)
    client = wa_app.test_client()
    login_as(client, staff)
    page = client.get(case_url(case["reference"])).get_data(as_text=True)
    assert "WhatsApp window closed" in page
    assert 'value="wa:received"' in page and "WhatsApp template: received" in page
    response = post_action(client, case["reference"], "reply", body="Free text")
    assert response.status_code == 400
    assert "24-hour window is closed" in response.get_data(as_text=True)
    assert _sent(wa_app, case["id"]) == [] and fake.sent == []


def test_template_is_sent_with_content_sid_and_variables(wa_app, fake, staff):
    case = _wa_case(wa_app, hours_ago=30)
    client = wa_app.test_client()
    login_as(client, staff)
    response = post_action(client, case["reference"], "reply", body="", template="wa:received")
    assert response.status_code == 303
    [message] = _sent(wa_app, case["id"])
    assert message.meta["content_sid"] == SID_KO
    assert message.meta["whatsapp_template"] == "received"
    with wa_app.app_context():
        assert outbox.work_once().sent == 1
    [request] = fake.sent
    assert request["data"]["ContentSid"] == SID_KO and "Body" not in request["data"]
    assert json.loads(request["data"]["ContentVariables"]) == {"1": case["reference"]}
    assert request["data"]["To"].startswith("whatsapp:")


def test_template_missing_in_the_case_language_is_refused(wa_app, staff):
    case = _wa_case(wa_app, hours_ago=30, language="ru")
    client = wa_app.test_client()
    login_as(client, staff)
    page = client.get(case_url(case["reference"])).get_data(as_text=True)
    assert 'value="wa:received"' not in page
    response = post_action(client, case["reference"], "reply", body="", template="wa:received")
    assert response.status_code == 400
    assert _sent(wa_app, case["id"]) == []


def test_sms_case_has_no_window(wa_app, staff):
    case = make_case(wa_app)
    with wa_app.app_context():
        row = db.session.get(Case, case["id"])
        assert reply_policy.whatsapp_window(row) is None
        assert reply_policy.whatsapp_refusal(row, utcnow()) is None


def test_whatsapp_templates_setting_is_checked():
    good = [f"received/ko={SID_KO}", f"call-back/en={SID_EN}"]
    assert settings.whatsapp_templates_format(good, {}) is None
    for bad in ("received=HX1", f"received/de={SID_KO}", "received/ko=MG" + "a" * 32):
        assert "TWILIO_WHATSAPP_TEMPLATES" in settings.whatsapp_templates_format([bad], {})
