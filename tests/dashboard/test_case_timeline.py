"""The case page as staff read it, for every channel and entry kind, driven only through
the real front doors: Twilio's SMS, WhatsApp and voice webhooks (signed), the public web
form, the staff action forms and the outbox. No timeline row is built by hand here.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from hotline.api.tokens import create_token
from hotline.extensions import db
from hotline.messaging import outbox
from hotline.messaging.recordings import MAX_MEDIA_BYTES
from hotline.models import AuditEvent, Case, Interaction
from tests import twilio_fakes
from tests.conftest import csrf_token, login_as
from tests.dashboard_support import case_url, post_action
from tests.twilio_fakes import TEST_ACCOUNT_SID, FakeTwilioHttp, parse_twiml, post_signed
from tests.web_helpers import main_text, reference_and_receipt, send_contact

CALLER = "+79161234567"
HOTLINE = "+15005550006"
CALL = "CA" + "1" * 32
CHILD = "CA" + "2" * 32
MESSAGE_SID = "MM" + "3" * 32
MEDIA = f"https://api.twilio.com/2010-04-01/Accounts/{TEST_ACCOUNT_SID}/Messages/{MESSAGE_SID}"
IMAGE_URL = MEDIA + "/Media/ME" + "4" * 32
PDF_URL = MEDIA + "/Media/ME" + "5" * 32
RECORDING_URL = f"https://api.twilio.com/2010-04-01/Accounts/{TEST_ACCOUNT_SID}/Recordings/RE1"
JPEG = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 4


@pytest.fixture
def line(make_app, fake):
    """An app with Twilio configured against the fake HTTP client."""
    return twilio_fakes.twilio_app(make_app, fake, TWILIO_MESSAGING_FROM=HOTLINE)


@pytest.fixture
def staff(make_user):
    return twilio_fakes.olena_on_roster(make_user, on_duty=True)


def signed_in(app, user):
    client = app.test_client()
    login_as(client, user)
    return client


def only_case(app) -> Case:
    with app.app_context():
        case = db.session.execute(select(Case).order_by(Case.id.desc())).scalars().first()
        db.session.expunge(case)
        return case


def page_of(client, reference: str) -> str:
    response = client.get(case_url(reference))
    assert response.status_code == 200
    return response.get_data(as_text=True)


def timeline_text(page: str) -> str:
    """What a person reads in the timeline list, tags removed, spaces collapsed."""
    found = re.search(r'<ol class="timeline">(.*?)</ol>', page, re.S)
    assert found, "no timeline on the page"
    text = " ".join(main_text(found.group(1)).split())
    return re.sub(r" ([:;,.)])", r"\1", text)  # as read: no space before punctuation


def safety(page: str) -> tuple[str, str]:
    """(text, css class) of the contact-safety answer."""
    found = re.search(r'<p id="contact-safety" class="contact-safety ([^"]+)">([^<]*)</p>', page)
    assert found, "no contact-safety element"
    return found.group(2).strip(), found.group(1)


def audits(app, action: str) -> list[AuditEvent]:
    with app.app_context():
        rows = db.session.execute(select(AuditEvent).where(AuditEvent.action == action)
                                  ).scalars().all()
        db.session.expunge_all()
        return rows


def api(app, path: str) -> dict:
    with app.app_context():
        _row, token = create_token("reader", "staff")
        db.session.commit()
    response = app.test_client().get(path, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    return response.json


# ---- the web form -------------------------------------------------------------------

def test_web_caller_who_said_not_safe(line, staff, make_user):
    sent = send_contact(line.test_client(), "en", message="They read my phone. Help.",
                        name="Sasha", contact="+7 916 555 12 34", region="Kursk",
                        contact_ok="no")
    reference, _receipt = reference_and_receipt(sent.get_data(as_text=True))
    client = signed_in(line, staff)
    page = page_of(client, reference)
    assert safety(page) == ("Not safe to contact", "contact-safety-unsafe")
    told = main_text(page[page.index('id="told-us-h"'):page.index('id="case-facts"')])
    assert "Sasha" in told and "Kursk" in told
    # The contact is masked like a number and is no longer inside the message.
    assert "+7 *** *** ** 34" in told and "555 12 34" not in page
    assert "They read my phone. Help." in timeline_text(page)
    assert "+7 916" not in timeline_text(page)
    assert "replies go only" in page.lower() or "goes only to the caller" in page
    assert api(line, f"/api/v1/cases/{reference}")["contact_ok"] is False

    # Logging a call to this caller needs an explicit confirmation, which is audited.
    refused = post_action(client, reference, "callback", outcome="no_answer")
    assert refused.status_code == 400
    assert "not safe to contact" in refused.get_data(as_text=True)
    assert audits(line, "case.callback") == []
    done = post_action(client, reference, "callback", outcome="no_answer", confirm_unsafe="y")
    assert done.status_code == 303
    [event] = audits(line, "case.callback")
    assert event.detail["unsafe_contact_confirmed"] is True
    text = timeline_text(page_of(client, reference))
    assert "Callback by Olena K.: no answer" in text
    assert "caller had said contact is not safe: confirmed" in text

    # A supervisor's audited reveal shows the contact details as typed.
    boss = signed_in(line, make_user("supervisor"))
    token = csrf_token(page_of(boss, reference))
    revealed = boss.post(case_url(reference, "reveal"), data={"csrf_token": token})
    assert "+7 916 555 12 34" in revealed.get_data(as_text=True)
    [reveal] = audits(line, "case.reveal")
    assert reveal.detail["contact_details"] is True and "555" not in str(reveal.detail)


def test_web_caller_who_said_safe_and_replies_on_the_follow_up_page(line, staff):
    visitor = line.test_client()
    sent = send_contact(visitor, "en", message="Please write back.",
                        contact="Signal @ivan_safe", contact_ok="yes")
    reference, _receipt = reference_and_receipt(sent.get_data(as_text=True))
    client = signed_in(line, staff)
    page = page_of(client, reference)
    assert safety(page) == ("Safe to contact", "contact-safety-safe")
    told = main_text(page[page.index('id="told-us-h"'):page.index('id="case-facts"')])
    assert "****** fe" in told and "ivan_safe" not in page  # masked until a reveal
    assert post_action(client, reference, "reply", body="We read you.").status_code == 303
    text = timeline_text(page_of(client, reference))
    assert "Reply by Olena K. (web form) on the web follow-up page" in text
    assert api(line, f"/api/v1/cases/{reference}")["contact_ok"] is True


# ---- SMS and WhatsApp ------------------------------------------------------------------

def sms(sid: str, body: str, sender: str = CALLER, **extra: str) -> dict:
    return {"MessageSid": sid, "From": sender, "To": HOTLINE, "Body": body, "NumMedia": "0",
            **extra}


def test_sms_case_with_reply_delivery_notes_status_and_classification(line, fake, staff):
    client = line.test_client()
    assert post_signed(client, "/twilio/sms", sms("SM" + "1" * 32, "Хочу сдаться")).status_code \
        == 200
    case = only_case(line)
    reference = case.display_reference
    staff_client = signed_in(line, staff)
    page = page_of(staff_client, reference)
    assert safety(page) == ("Not asked", "contact-safety-not_asked")
    assert api(line, f"/api/v1/cases/{reference}")["contact_ok"] is None
    assert "Caller wrote (SMS) · auto-reply sent" in timeline_text(page)

    assert post_action(staff_client, reference, "claim").status_code == 303
    assert post_action(staff_client, reference, "reply", body="Мы вас слышим").status_code == 303
    assert post_action(staff_client, reference, "note", body="Sounded scared").status_code == 303
    assert post_action(staff_client, reference, "status", status="waiting").status_code == 303
    assert post_action(staff_client, reference, "classify", category="surrender",
                       urgency="high", language="ru").status_code == 303
    with line.app_context():
        assert outbox.work_once().sent == 1
        sid = db.session.execute(select(Interaction.external_id).where(
            Interaction.kind == "message_out")).scalar_one()
    assert post_signed(client, "/twilio/sms/status",
                       {"MessageSid": sid, "MessageStatus": "delivered"}).status_code == 204
    text = timeline_text(page_of(staff_client, reference))
    for expected in ("Caller wrote (SMS)", "Хочу сдаться",
                     "Olena K. assigned the case to Olena K.",
                     "Reply by Olena K. (SMS) delivered", "Мы вас слышим",
                     "Note by Olena K.", "Sounded scared",
                     "System changed the status from new to in progress because the case "
                     "is being worked",
                     "Olena K. changed the status from in progress to waiting",
                     "System changed urgency from normal to immediate (keyword rule: surrender)",
                     "category from — to surrender", "urgency from immediate to high"):
        assert expected in text, expected
    # The caller writes again: the page says who changed the case.
    post_signed(client, "/twilio/sms", sms("SM" + "2" * 32, "STOP"))
    text = timeline_text(page_of(staff_client, reference))
    assert "STOP: opted out of replies" in text


def whatsapp_with_media(client) -> None:
    params = sms(MESSAGE_SID, "Фото документов", sender="whatsapp:" + CALLER, NumMedia="2",
                 MediaUrl0=IMAGE_URL, MediaContentType0="image/jpeg",
                 MediaUrl1=PDF_URL, MediaContentType1="application/pdf")
    assert post_signed(client, "/twilio/sms", params).status_code == 200


def test_whatsapp_media_listed_image_inline_and_file_as_download(line, fake, staff):
    fake.media[IMAGE_URL] = (200, JPEG, {"Content-Type": "image/jpeg"})
    fake.media[PDF_URL] = (200, b"%PDF-1.4 ...", {"Content-Type": "application/pdf"})
    whatsapp_with_media(line.test_client())
    case = only_case(line)
    reference = case.display_reference
    client = signed_in(line, staff)
    page = page_of(client, reference)
    assert "Caller wrote (WhatsApp)" in timeline_text(page) and "2 attachments" in page
    with line.app_context():
        message_id = db.session.execute(select(Interaction.id).where(
            Interaction.kind == "message_in")).scalar_one()
    image = f"{case_url(reference)}/media/{message_id}/0"
    pdf = f"{case_url(reference)}/media/{message_id}/1"
    # The image is shown from the app's own origin; Twilio's URL never reaches the page.
    assert f'<img src="{image}"' in page and f'href="{pdf}" download' in page
    assert "api.twilio.com" not in page

    shown = client.get(image)
    assert shown.status_code == 200 and shown.get_data() == JPEG
    assert shown.content_type == "image/jpeg"
    assert shown.headers["Content-Disposition"] == "inline"
    assert shown.headers["X-Content-Type-Options"] == "nosniff"
    assert shown.headers["Cache-Control"] == "no-store"
    downloaded = client.get(pdf)
    assert downloaded.status_code == 200 and downloaded.get_data() == b"%PDF-1.4 ..."
    assert downloaded.headers["Content-Disposition"].startswith("attachment;")
    assert downloaded.headers["X-Content-Type-Options"] == "nosniff"
    fetched = [r for r in fake.requests if "/Media/" in r["uri"]]
    assert [r["uri"] for r in fetched] == [IMAGE_URL, PDF_URL]
    assert all(r["auth"] == (TEST_ACCOUNT_SID, line.config["TWILIO_AUTH_TOKEN"])
               for r in fetched)
    views = audits(line, "case.media_view")
    assert [(v.detail["n"], v.actor_id) for v in views] == [(0, staff.id), (1, staff.id)]


def test_media_refusals_are_clear_and_never_500(line, fake, staff, make_user):
    whatsapp_with_media(line.test_client())
    case = only_case(line)
    reference = case.display_reference
    client = signed_in(line, staff)
    with line.app_context():
        message_id = db.session.execute(select(Interaction.id).where(
            Interaction.kind == "message_in")).scalar_one()
    base = f"{case_url(reference)}/media/{message_id}"
    fake.media[IMAGE_URL] = (200, b"x" * 16, {"Content-Type": "image/jpeg"})
    assert client.get(f"{base}/7").status_code == 404  # no such attachment
    fake.media[PDF_URL] = (404, b"", {})
    assert client.get(f"{base}/1").status_code == 404  # gone at Twilio
    other = signed_in(line, make_user("staff"))
    post_action(client, reference, "claim")
    assert other.get(f"{base}/0").status_code == 404  # a colleague's case
    assert audits(line, "case.media_view") == []


def test_media_over_the_size_cap_is_refused(make_app, staff):
    fake = FakeTwilioHttp()
    app = make_app(TWILIO_ACCOUNT_SID=TEST_ACCOUNT_SID, TWILIO_HTTP_CLIENT=fake)
    whatsapp_with_media(app.test_client())
    reference = only_case(app).display_reference
    with app.app_context():
        message_id = db.session.execute(select(Interaction.id)).scalars().first()
    client = signed_in(app, staff)
    assert MAX_MEDIA_BYTES == 20 * 1024 * 1024
    fake.media[IMAGE_URL] = (200, b"x" * (MAX_MEDIA_BYTES + 1), {"Content-Type": "image/jpeg"})
    response = client.get(f"{case_url(reference)}/media/{message_id}/0")
    assert response.status_code == 413 and b"x" * 64 not in response.get_data()
    assert audits(app, "case.media_view") == []


def test_media_from_a_foreign_host_is_never_fetched(line, fake, staff):
    params = sms(MESSAGE_SID, "see", NumMedia="1", MediaUrl0="https://evil.example.org/x.jpg",
                 MediaContentType0="image/jpeg")
    assert post_signed(line.test_client(), "/twilio/sms", params).status_code == 200
    reference = only_case(line).display_reference
    with line.app_context():
        message_id = db.session.execute(select(Interaction.id)).scalars().first()
    response = signed_in(line, staff).get(f"{case_url(reference)}/media/{message_id}/0")
    assert response.status_code == 502
    assert not any("evil" in r["uri"] for r in fake.requests)


# ---- voice ----------------------------------------------------------------------------------

def call(**extra: str) -> dict:
    return {"CallSid": CALL, "From": CALLER, "To": HOTLINE, "AccountSid": TEST_ACCOUNT_SID,
            "CallStatus": "in-progress", **extra}


def ring(client):
    """The caller calls and presses 2 (Russian); returns the dial TwiML."""
    assert post_signed(client, "/twilio/voice", call(CallStatus="ringing")).status_code == 200
    answer = post_signed(client, "/twilio/voice/language", call(Digits="2"))
    assert answer.status_code == 200
    return parse_twiml(answer.text)


def test_answered_call_shows_who_took_it_and_how_long(line, staff):
    twilio = line.test_client()
    dial = ring(twilio)
    [number] = dial.iter("Number")
    assert number.text == "+380501112233"
    screen = urlsplit(number.get("url"))
    assert f"staff={staff.id}" in screen.query
    # The staff member's phone asks them to press 1; they do.
    prompt = post_signed(twilio, screen.path, {"CallSid": CHILD, "ParentCallSid": CALL},
                         screen.query)
    gather = parse_twiml(prompt.text).find("Gather")
    action = urlsplit(gather.get("action"))
    assert f"staff={staff.id}" in action.query
    accepted = post_signed(twilio, action.path,
                           {"CallSid": CHILD, "ParentCallSid": CALL, "Digits": "1"},
                           action.query)
    assert accepted.status_code == 200
    post_signed(twilio, "/twilio/voice/dial-result", call(DialCallStatus="completed"),
                "lang=ru")
    post_signed(twilio, "/twilio/voice/status", call(CallStatus="completed", CallDuration="125"))
    case = only_case(line)
    page = page_of(signed_in(line, staff), case.display_reference)
    text = timeline_text(page)
    assert "Call from the caller: answered by Olena K. (call lasted 2 min 5 s)" in text
    assert "callback needed" not in page
    assert safety(page)[0] == "Not asked"


def test_screen_id_not_trusted_without_twilio_signature(line, staff):
    twilio = line.test_client()
    ring(twilio)
    forged = twilio.post(f"/twilio/voice/screen?lang=ru&staff={staff.id}",
                         data={"CallSid": CHILD, "ParentCallSid": CALL, "Digits": "1"})
    assert forged.status_code == 403
    with line.app_context():
        meta = db.session.execute(select(Interaction.meta).where(
            Interaction.kind == "call")).scalar_one()
    assert "answered_by" not in meta


def test_missed_call_with_no_answer_and_no_voicemail(line, staff):
    twilio = line.test_client()
    ring(twilio)
    answer = post_signed(twilio, "/twilio/voice/dial-result", call(DialCallStatus="no-answer"),
                         "lang=ru")
    assert parse_twiml(answer.text).find("Record") is not None
    post_signed(twilio, "/twilio/voice/status", call(CallStatus="completed", CallDuration="40"))
    page = page_of(signed_in(line, staff), only_case(line).display_reference)
    assert "Call from the caller: missed — no answer" in timeline_text(page)
    assert "callback needed" in page


def test_busy_staff_then_voicemail_left(line, fake, staff):
    twilio = line.test_client()
    ring(twilio)
    post_signed(twilio, "/twilio/voice/dial-result", call(DialCallStatus="busy"), "lang=ru")
    post_signed(twilio, "/twilio/voice/recording", {
        "CallSid": CALL, "RecordingSid": "RE" + "1" * 32, "RecordingUrl": RECORDING_URL,
        "RecordingStatus": "completed", "RecordingDuration": "31"})
    post_signed(twilio, "/twilio/voice/status", call(CallStatus="completed", CallDuration="70"))
    case = only_case(line)
    client = signed_in(line, staff)
    page = page_of(client, case.display_reference)
    text = timeline_text(page)
    assert "Call from the caller: missed — voicemail left" in text
    assert "Voicemail (31 s)" in text
    with line.app_context():
        vm = db.session.execute(select(Interaction.id).where(
            Interaction.kind == "voicemail")).scalar_one()
    audio = f"{case_url(case.display_reference)}/voicemail/{vm}"
    player = f'<audio controls preload="none" src="{audio}"'
    assert player in page and "callback needed" in page
    fake.media[RECORDING_URL + ".mp3"] = (200, b"ID3audio", {"Content-Type": "audio/mpeg"})
    assert client.get(f"{case_url(case.display_reference)}/voicemail/{vm}").get_data() \
        == b"ID3audio"


def test_nobody_on_duty_for_the_language(line, make_user):
    reader = make_user("staff", languages="en")
    twilio = line.test_client()
    ring(twilio)
    post_signed(twilio, "/twilio/voice/status", call(CallStatus="completed", CallDuration="20"))
    page = page_of(signed_in(line, reader), only_case(line).display_reference)
    assert "missed — nobody on duty for the language" in timeline_text(page)


def test_caller_hanging_up_in_the_menu_reads_missed(line, staff):
    twilio = line.test_client()
    post_signed(twilio, "/twilio/voice", call(CallStatus="ringing"))
    post_signed(twilio, "/twilio/voice/status", call(CallStatus="completed", CallDuration="4"))
    text = timeline_text(page_of(signed_in(line, staff), only_case(line).display_reference))
    assert "Call from the caller: missed (call lasted 4 s)" in text


# ---- one search, everywhere -------------------------------------------------------------------

def test_the_same_prefix_finds_the_same_cases_in_dashboard_and_api(line, staff):
    twilio = line.test_client()
    for n in range(3):
        post_signed(twilio, "/twilio/sms", sms(f"SM{n:032d}", "hello", sender=f"+7916555000{n}"))
    with line.app_context():
        references = [c.display_reference for c in db.session.execute(select(Case)).scalars()]
    target = references[0]
    # Typed the way people do: lower case, no dash, O for 0 and L for 1.
    typed = target.replace("-", "")[:3].lower().replace("0", "o").replace("1", "l")
    listed = api(line, f"/api/v1/cases?q={typed}")["items"]
    in_api = sorted(item["reference"] for item in listed)
    page = signed_in(line, staff).get(f"/dashboard/?q={typed}").get_data(as_text=True)
    in_dashboard = sorted(ref for ref in references if ref in page)
    assert target in in_api and in_api == in_dashboard
    assert in_api == sorted(r for r in references if r.replace("-", "").startswith(
        target.replace("-", "")[:3]))


def test_api_has_the_dashboards_urgency_and_callback_filters(line, staff):
    twilio = line.test_client()
    post_signed(twilio, "/twilio/sms", sms("SM" + "7" * 32, "one", sender="+79165550001"))
    post_signed(twilio, "/twilio/voice", call(CallStatus="ringing"))
    post_signed(twilio, "/twilio/voice/status", call(CallStatus="completed", CallDuration="4"))
    with line.app_context():
        sms_case, voice_case = db.session.execute(select(Case).order_by(Case.id)).scalars()
        sms_ref, voice_ref = sms_case.display_reference, voice_case.display_reference
    client = signed_in(line, staff)
    assert post_action(client, sms_ref, "classify", urgency="immediate",
                       language="ru").status_code == 303
    refs = [i["reference"] for i in api(line, "/api/v1/cases?urgency=immediate")["items"]]
    assert refs == [sms_ref]
    refs = [i["reference"] for i in api(line, "/api/v1/cases?callback=1")["items"]]
    assert refs == [voice_ref]
    with line.app_context():
        _row, token = create_token("bad", "staff")
        db.session.commit()
    bad = line.test_client().get("/api/v1/cases?urgency=panic",
                                 headers={"Authorization": f"Bearer {token}"})
    assert bad.status_code == 400 and "urgency" in bad.json["error"]
