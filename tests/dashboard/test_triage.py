"""Triage at a glance: preview of the latest caller message, real waiting time, keyword
urgency through the real SMS webhook, response targets and the overdue filter."""

from __future__ import annotations

import logging
import re

from sqlalchemy import select

from hotline.cases import targets
from hotline.dashboard.queue import PREVIEW_CHARS
from hotline.extensions import db
from hotline.models import Case, Interaction, utcnow
from tests.conftest import login_as
from tests.dashboard_support import make_case, minutes_ago


def _sms(sid: str, body: str, sender: str) -> dict:
    return {"MessageSid": sid, "From": sender, "To": "+15005550006", "Body": body,
            "NumMedia": "0"}


def _rows(html: str) -> list[str]:
    return re.findall(r"<tr class=\"row-[^\"]*\">.*?</tr>", html, flags=re.S)


def _refs(html: str) -> list[str]:
    return re.findall(r'class="ref" href="/dashboard/cases/([0-9A-Z]{4}-[0-9A-Z]{4})"', html)


def test_a_surrender_sms_sorts_first_as_immediate_before_anyone_opens_it(
        app, client, staff, twilio_post, caplog):
    make_case(app, urgency="high", created_at=minutes_ago(30))
    make_case(app, created_at=minutes_ago(20))
    caplog.set_level(logging.DEBUG)
    body = "I want to surrender now"
    assert twilio_post("/twilio/sms", _sms("SM" + "7" * 32, body, "+79160000001")
                       ).status_code == 200
    with app.app_context():
        case = db.session.execute(select(Case).where(Case.channel == "sms")
                                  .order_by(Case.id.desc())).scalars().first()
        reference = case.display_reference
        assert case.urgency == "immediate" and case.status == "new"
    login_as(client, staff)
    html = client.get("/dashboard/").get_data(as_text=True)
    assert _refs(html)[0] == reference
    first = _rows(html)[0]
    assert "badge-immediate" in first and body in first
    # The caller's words are on the page only: never in the logs or the poll's answer.
    poll = client.get("/dashboard/queue/poll?since=0")
    assert body not in poll.get_data(as_text=True)
    assert all(body not in record.getMessage() for record in caplog.records)
    assert body not in caplog.text


def test_preview_is_the_latest_caller_message_cut_to_about_80_characters(app, client, staff):
    case = make_case(app, body="first message")
    long_text = "Слово " * 40
    with app.app_context():
        db.session.add(Interaction(case_id=case["id"], kind="message_in", channel="sms",
                                   body=long_text, meta={}, created_at=utcnow()))
        db.session.add(Interaction(case_id=case["id"], kind="note", body="staff only note",
                                   author_id=staff.id, meta={}, created_at=utcnow()))
        db.session.commit()
    login_as(client, staff)
    row = _rows(client.get("/dashboard/").get_data(as_text=True))[0]
    shown = re.search(r'<td class="preview"><span lang="ru">([^<]*)</span>', row).group(1)
    assert shown.startswith("Слово Слово") and shown.endswith("…")
    assert len(shown) <= PREVIEW_CHARS
    assert "first message" not in row and "staff only note" not in row


def test_waiting_counts_from_the_first_unanswered_message_and_not_for_closed(
        app, client, staff):
    def staff_replied(case: dict, status: str, minutes: int) -> None:
        with app.app_context():
            db.session.add(Interaction(case_id=case["id"], kind="message_out", channel="sms",
                                       body="we are here", author_id=staff.id, meta={},
                                       delivery_status=status, created_at=minutes_ago(minutes)))
            db.session.commit()

    answered = make_case(app, created_at=minutes_ago(300), body="hello")
    staff_replied(answered, "delivered", 200)
    with app.app_context():
        db.session.add(Interaction(case_id=answered["id"], kind="message_in", channel="sms",
                                   body="thanks, one more thing", meta={},
                                   created_at=minutes_ago(90)))
        db.session.commit()
    replied = make_case(app, created_at=minutes_ago(100), body="hi")
    staff_replied(replied, "sent", 50)
    unsent = make_case(app, created_at=minutes_ago(40), body="hi")
    staff_replied(unsent, "failed", 30)
    closed = make_case(app, status="closed", created_at=minutes_ago(60 * 24 * 500))
    login_as(client, staff)
    html = client.get("/dashboard/?status=all").get_data(as_text=True)
    rows = dict(zip(_refs(html), _rows(html), strict=True))

    def waiting(ref: str) -> str:
        cell = re.search(r'<td class="waiting">(.*?)</td>', rows[ref], flags=re.S).group(1)
        return re.sub(r"<[^>]+>", "", cell).strip()

    assert waiting(answered["reference"]) == "1 h 30 min"
    assert waiting(replied["reference"]) == "—"
    assert waiting(unsent["reference"]) == "40 min"  # a reply that did not leave answers nobody
    assert waiting(closed["reference"]) == "—"


def test_overdue_cases_are_marked_and_filtered(app, client, staff):
    late_immediate = make_case(app, urgency="immediate", created_at=minutes_ago(6))
    fresh_immediate = make_case(app, urgency="immediate", created_at=minutes_ago(4))
    late_normal = make_case(app, created_at=minutes_ago(241))
    fresh_normal = make_case(app, created_at=minutes_ago(200))
    answered = make_case(app, urgency="immediate", created_at=minutes_ago(60))
    with app.app_context():
        db.session.get(Case, answered["id"]).first_response_at = minutes_ago(58)
        db.session.commit()
    login_as(client, staff)
    html = client.get("/dashboard/?overdue=1").get_data(as_text=True)
    assert set(_refs(html)) == {late_immediate["reference"], late_normal["reference"]}
    assert 'id="f-overdue" name="overdue" value="1" checked' in html
    everything = client.get("/dashboard/").get_data(as_text=True)
    marked = {ref for ref, row in zip(_refs(everything), _rows(everything), strict=True)
              if "badge-overdue" in row}
    assert marked == {late_immediate["reference"], late_normal["reference"]}
    assert fresh_immediate["reference"] in _refs(everything)
    assert fresh_normal["reference"] in _refs(everything)


def test_targets_come_from_the_settings(make_app):
    app = make_app(RESPONSE_TARGET_NORMAL_MINUTES=10)
    found = targets.response_targets(app.config)
    assert found["normal"].total_seconds() == 600
    assert found["immediate"].total_seconds() == 300 and found["high"].total_seconds() == 1800
