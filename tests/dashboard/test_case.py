"""The case page: timeline, masking and reveal, earlier cases, voicemail, access rules."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from hotline.cases.access import REVEAL_MIN_ROLE
from hotline.extensions import db
from hotline.models import AuditEvent, Interaction
from tests.conftest import csrf_token, login_as
from tests.dashboard_support import case_url, make_case, minutes_ago
from tests.twilio_fakes import TEST_ACCOUNT_SID, FakeTwilioHttp


def _add(app, case_id: int, **fields) -> int:
    with app.app_context():
        item = Interaction(case_id=case_id, meta=fields.pop("meta", {}), **fields)
        db.session.add(item)
        db.session.commit()
        return item.id


def _audits(app, action: str) -> list[AuditEvent]:
    with app.app_context():
        rows = db.session.execute(select(AuditEvent).where(AuditEvent.action == action)
                                  ).scalars().all()
        db.session.expunge_all()
        return rows


def test_no_login_redirects_to_login(app, client):
    case = make_case(app)
    response = client.get(case_url(case["reference"]))
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


# What every kind of entry reads like is tested through the real webhooks and the public
# form in tests/dashboard/test_case_timeline.py; these tests cover the page's rules.


def test_script_in_a_message_shows_as_text(app, client, staff):
    case = make_case(app, body='<script>alert("x")</script><b>bold</b>')
    login_as(client, staff)
    html = client.get(case_url(case["reference"])).get_data(as_text=True)
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&lt;b&gt;bold&lt;/b&gt;" in html
    assert '<script>alert("x")' not in html


def test_reference_accepted_with_or_without_dash_in_any_case(app, client, staff):
    case = make_case(app)
    login_as(client, staff)
    for typed in (case["reference"], case["stored"], case["stored"].lower()):
        assert client.get(case_url(typed)).status_code == 200


def test_each_view_is_audited(app, client, staff):
    case = make_case(app)
    login_as(client, staff)
    client.get(case_url(case["reference"]))
    client.get(case_url(case["reference"]))
    views = _audits(app, "case.view")
    assert len(views) == 2 and {v.case_id for v in views} == {case["id"]}
    assert views[0].actor_id == staff.id


def test_staff_get_404_for_a_colleagues_case_like_a_missing_one(app, client, make_user, staff):
    theirs = make_case(app, assigned_to=make_user("staff"))
    login_as(client, staff)
    hidden = client.get(case_url(theirs["reference"]))
    missing = client.get(case_url("ZZZZ-ZZZ0" if theirs["stored"] != "ZZZZZZZ0" else "0000-0000"))
    garbage = client.get(case_url("not-a-reference"))
    assert hidden.status_code == missing.status_code == garbage.status_code == 404
    assert hidden.get_data() == missing.get_data()
    assert _audits(app, "case.view") == []


def test_staff_see_own_and_unassigned_supervisors_and_admins_see_all(app, client, make_user,
                                                                     staff):
    other = make_user("staff")
    own = make_case(app, assigned_to=staff)
    free = make_case(app)
    theirs = make_case(app, assigned_to=other)
    login_as(client, staff)
    assert client.get(case_url(own["reference"])).status_code == 200
    assert client.get(case_url(free["reference"])).status_code == 200
    for role in ("supervisor", "admin"):
        login_as(client, make_user(role))
        assert client.get(case_url(theirs["reference"])).status_code == 200


def test_number_is_masked_and_reveal_is_audited_for_supervisors(app, client, make_user):
    case = make_case(app, address="+79161234545")
    boss = make_user(REVEAL_MIN_ROLE)
    login_as(client, boss)
    html = client.get(case_url(case["reference"])).get_data(as_text=True)
    assert "+7 *** *** ** 45" in html and "+79161234545" not in html
    response = client.post(case_url(case["reference"], "reveal"),
                           data={"csrf_token": csrf_token(html)})
    assert response.status_code == 200
    assert "+79161234545" in response.get_data(as_text=True)
    reveals = _audits(app, "case.reveal")
    assert len(reveals) == 1 and reveals[0].actor_id == boss.id
    assert "+79161234545" not in str(reveals[0].detail)
    # The reveal is not sticky: the next view is masked again.
    assert "+79161234545" not in client.get(case_url(case["reference"])).get_data(as_text=True)


def test_staff_cannot_reveal(app, client, staff):
    case = make_case(app, address="+79161234545")
    login_as(client, staff)
    html = client.get(case_url(case["reference"])).get_data(as_text=True)
    assert "Reveal number" not in html
    response = client.post(case_url(case["reference"], "reveal"),
                           data={"csrf_token": csrf_token(html)})
    assert response.status_code == 403
    assert "+79161234545" not in response.get_data(as_text=True)
    assert _audits(app, "case.reveal") == []


def test_reveal_needs_csrf(app, client, make_user):
    case = make_case(app, address="+79161234545")
    login_as(client, make_user("admin"))
    response = client.post(case_url(case["reference"], "reveal"))
    assert response.status_code == 400
    assert _audits(app, "case.reveal") == []


def test_web_callers_show_web_form(app, client, make_user):
    case = make_case(app, kind="web", channel="web")
    login_as(client, make_user("admin"))
    html = client.get(case_url(case["reference"])).get_data(as_text=True)
    assert "web form" in html and "Reveal number" not in html


def test_banner_links_the_callers_other_cases(app, client, make_user, staff):
    first = make_case(app, status="closed", created_at=minutes_ago(60 * 24 * 30))
    hidden = make_case(app, caller_id=first["caller_id"], status="closed",
                       assigned_to=make_user("staff"), created_at=minutes_ago(60 * 24 * 20))
    current = make_case(app, caller_id=first["caller_id"])
    alone = make_case(app)
    login_as(client, staff)
    html = client.get(case_url(current["reference"])).get_data(as_text=True)
    assert "This caller has 1 other case" in html
    assert f'href="{case_url(first["reference"])}"' in html
    assert hidden["reference"] not in html
    assert "other case" not in client.get(case_url(alone["reference"])).get_data(as_text=True)


RECORDING = f"https://api.twilio.com/2010-04-01/Accounts/{TEST_ACCOUNT_SID}/Recordings/RE9"


@pytest.fixture
def fake() -> FakeTwilioHttp:
    return FakeTwilioHttp()


@pytest.fixture
def twilio_app(make_app, fake):
    return make_app(TWILIO_ACCOUNT_SID=TEST_ACCOUNT_SID, TWILIO_HTTP_CLIENT=fake)


def test_voicemail_streams_through_the_server(twilio_app, fake, make_user):
    app = twilio_app
    staff = make_user("staff")
    case = make_case(app, channel="voice", body=None)
    vm = _add(app, case["id"], kind="voicemail", channel="voice", external_id="RE9",
              meta={"recording_url": RECORDING, "duration": 4})
    fake.media[RECORDING + ".mp3"] = (200, b"RIFFaudio-bytes", {"Content-Type": "audio/wav"})
    client = app.test_client()
    login_as(client, staff)
    response = client.get(f"{case_url(case['reference'])}/voicemail/{vm}")
    assert response.status_code == 200 and response.content_type == "audio/wav"
    assert response.get_data() == b"RIFFaudio-bytes"
    assert [r["uri"] for r in fake.requests] == [RECORDING + ".mp3"]
    assert response.headers["Cache-Control"] == "no-store"
    assert len(_audits(app, "case.voicemail_play")) == 1


def test_voicemail_failures_are_404_or_502_never_500(twilio_app, fake, make_user):
    app = twilio_app
    staff = make_user("staff")
    case = make_case(app, channel="voice", body=None)
    vm = _add(app, case["id"], kind="voicemail", channel="voice", external_id="RE8",
              meta={"recording_url": RECORDING, "duration": 4})
    bare = _add(app, case["id"], kind="voicemail", channel="voice", external_id="RE6")
    note = _add(app, case["id"], kind="note", body="n")
    other = make_case(app, assigned_to=make_user("staff"), channel="voice", body=None)
    other_vm = _add(app, other["id"], kind="voicemail", channel="voice", external_id="RE7",
                    meta={"recording_url": RECORDING})
    client = app.test_client()
    login_as(client, staff)
    url = f"{case_url(case['reference'])}/voicemail/"
    fake.media[RECORDING + ".mp3"] = (404, b"", {})  # deleted at Twilio
    assert client.get(url + str(vm)).status_code == 404
    assert client.get(url + str(bare)).status_code == 404  # no recording stored
    del fake.media[RECORDING + ".mp3"]
    fake.failures.append(OSError("timeout"))
    assert client.get(url + str(vm)).status_code == 502
    assert client.get(url + str(note)).status_code == 404
    assert client.get(url + str(other_vm)).status_code == 404
    assert client.get(f"{case_url(other['reference'])}/voicemail/{other_vm}").status_code == 404
    assert _audits(app, "case.voicemail_play") == []


def test_drawing_the_case_page_writes_nothing(app, staff, monkeypatch):
    """The view audits and commits first; render_case itself only reads."""
    from flask_login import login_user

    from hotline.dashboard.views import render_case
    from hotline.models import Case

    reference = make_case(app)["reference"]

    def refuse() -> None:
        raise AssertionError("render_case committed")

    with app.test_request_context(case_url(reference)):
        login_user(db.session.get(type(staff), staff.id))
        case = db.session.execute(select(Case)).scalar_one()
        monkeypatch.setattr(db.session, "commit", refuse)
        html, status = render_case(case)
        assert status == 200 and case.display_reference in html
        assert not db.session.new and not db.session.dirty
