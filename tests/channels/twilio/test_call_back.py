"""Call back through the line, driven through the real routes: the Call back form, the
worker's REST requests to a fake Twilio (asserted exactly) and every webhook signed.

No number of either side reaches the other: the caller's number is only the ``To`` of
the caller's conference-participant request, the staff member's only the ``To`` of the
staff leg's ``calls.create``; no TwiML, no page and no other request carries either.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from hotline.cases.actions import UNSAFE_CALL_BACK
from hotline.channels import replies
from hotline.channels.twilio import calls, dialer
from hotline.extensions import db
from hotline.languages import say_language
from hotline.models import AuditEvent, CallLeg, Case, Interaction, User
from tests.conftest import PUBLIC_BASE_URL, csrf_token, in_parallel, login_as
from tests.dashboard_support import case_url, make_case, post_action
from tests.twilio_fakes import (
    ROSTER_PHONE,
    TEST_ACCOUNT_SID,
    FakeTwilioHttp,
    olena_on_roster,
    parse_twiml,
    post_signed,
    twilio_app,
)

CALLER = "+79161234567"
STAFF_PHONE = ROSTER_PHONE
INTERPRETER_PHONE = "+821012345678"
HOTLINE = "+15005550006"
VOICE_FROM = "+15005550009"
CALL = "CA" + "a" * 32
RECORDING = "RE" + "b" * 32
RECORDING_URL = "https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/" + RECORDING
LEG_EVENTS = ["initiated", "ringing", "answered", "completed"]


@pytest.fixture
def line_app(make_app, fake):
    return twilio_app(make_app, fake, TWILIO_VOICE_FROM=VOICE_FROM)


@pytest.fixture
def olena(make_user):
    """The staff member calling back: on the roster with a phone, off duty (so inbound
    calls go to voicemail)."""
    return olena_on_roster(make_user)


def inbound(**extra: str) -> dict:
    return {"CallSid": CALL, "From": CALLER, "To": HOTLINE, "AccountSid": "AC1",
            "CallStatus": "in-progress", **extra}


def leave_voicemail(client) -> str:
    """A Russian caller reaches nobody and leaves a voicemail; the case's reference."""
    post_signed(client, "/twilio/voice", inbound(CallStatus="ringing"))
    assert "<Record" in post_signed(client, "/twilio/voice/language", inbound(Digits="2")).text
    assert post_signed(client, "/twilio/voice/recording", {
        "CallSid": CALL, "RecordingSid": RECORDING, "RecordingUrl": RECORDING_URL,
        "RecordingStatus": "completed", "RecordingDuration": "14"}).status_code == 204
    assert post_signed(client, "/twilio/voice/status", inbound(
        CallStatus="completed", CallDuration="40")).status_code == 204
    with client.application.app_context():
        case = db.session.execute(select(Case)).scalar_one()
        assert case.callback_needed
        return case.display_reference


def work(app) -> int:
    """One pass of the worker's line jobs."""
    with app.app_context():
        return dialer.work_once()


def leg(app, role: str) -> CallLeg:
    with app.app_context():
        found = db.session.execute(
            select(CallLeg).where(CallLeg.role == role).order_by(CallLeg.id.desc())
        ).scalars().first()
        assert found is not None, f"no {role} leg"
        db.session.expunge(found)
        return found


def leg_status(client, leg_id: int, call_sid: str, status: str, **extra: str):
    return post_signed(client, "/twilio/voice/leg-status",
                       {"CallSid": call_sid, "CallStatus": status, "AccountSid": "AC1",
                        **extra}, query=f"leg={leg_id}")


def the_attempt(app) -> Interaction:
    with app.app_context():
        entry = db.session.execute(
            select(Interaction).where(Interaction.kind == "callback")).scalar_one()
        db.session.expunge(entry)
        return entry


def ring_olena(line_app, client, olena) -> tuple[str, CallLeg]:
    """A voicemail case Olena (signed in on ``client``) calls back: the worker rings her
    roster phone. Returns the case reference and her leg."""
    reference = leave_voicemail(client)
    login_as(client, olena)
    post_action(client, reference, "call-back")
    work(line_app)
    return reference, leg(line_app, "staff")


def answer_and_dial(line_app, client, staff: CallLeg) -> CallLeg:
    """The staff member answers and presses 1; the worker dials the caller (their leg)."""
    leg_status(client, staff.id, staff.call_sid, "in-progress")
    post_signed(client, "/twilio/voice/screen", {"CallSid": staff.call_sid, "Digits": "1"},
                query=f"leg={staff.id}")
    work(line_app)
    return leg(line_app, "caller")


def dial_the_caller(line_app, client, olena) -> tuple[str, CallLeg, CallLeg]:
    """``ring_olena`` then ``answer_and_dial``: the reference and both legs."""
    reference, staff = ring_olena(line_app, client, olena)
    return reference, staff, answer_and_dial(line_app, client, staff)


def status_url(leg_id: int) -> str:
    return f"{PUBLIC_BASE_URL}/twilio/voice/leg-status?leg={leg_id}"


def test_call_back_on_a_voicemail_case_end_to_end(line_app, fake, olena):
    client = line_app.test_client()
    reference = leave_voicemail(client)
    login_as(client, olena)
    page = client.get(case_url(reference)).get_data(as_text=True)
    assert 'id="call-back"' in page and "call-back-off" not in page

    answer = post_action(client, reference, "call-back")
    assert answer.status_code == 303
    assert fake.calls() == []  # nothing is placed inside the request
    with line_app.app_context():
        case = db.session.execute(select(Case)).scalar_one()
        stored_reference = case.reference
        audit = db.session.execute(
            select(AuditEvent).where(AuditEvent.action == "case.call_back")).scalar_one()
        assert audit.actor_id == olena.id and audit.case_id == case.id

    # The worker rings Olena's roster phone from the hotline number, with the screen.
    assert work(line_app) == 1
    staff = leg(line_app, "staff")
    [create] = fake.calls()
    assert create["method"] == "POST"
    assert create["uri"] == (f"https://api.twilio.com/2010-04-01/Accounts/{TEST_ACCOUNT_SID}"
                             "/Calls.json")
    screen_twiml = create["data"].pop("Twiml")
    assert create["data"] == {
        "To": STAFF_PHONE, "From": VOICE_FROM, "Timeout": calls.STAFF_RING_SECONDS,
        "StatusCallback": status_url(staff.id), "StatusCallbackMethod": "POST",
        "StatusCallbackEvent": LEG_EVENTS}
    gather = parse_twiml(screen_twiml).find("Gather")
    assert gather.get("action") == f"{PUBLIC_BASE_URL}/twilio/voice/screen?leg={staff.id}"
    assert gather.get("numDigits") == "1"
    assert gather.find("Say").text == replies.call_back_prompt(stored_reference, "ru")
    assert "Russian" in gather.find("Say").text
    assert staff.call_sid == f"CA{1:032d}" and staff.job is None

    # Her phone rings and she answers; Twilio reports it (twice: it retries).
    for status in ("initiated", "ringing", "in-progress", "in-progress"):
        assert leg_status(client, staff.id, staff.call_sid, status).status_code == 204
    assert the_attempt(line_app).meta["staff_status"] == "in-progress"

    # She presses 1: she joins the attempt's conference and the caller's leg is queued.
    joined = post_signed(client, "/twilio/voice/screen",
                         {"CallSid": staff.call_sid, "Digits": "1", "AccountSid": "AC1"},
                         query=f"leg={staff.id}")
    root = parse_twiml(joined.text)
    conference_name = the_attempt(line_app).meta["conference"]
    assert root.find("Say").text == replies.call_back_connecting()
    conference = root.find("Dial/Conference")
    assert conference.text == conference_name
    assert conference.get("endConferenceOnExit") == "true"
    assert conference.get("beep") == "false"
    twiml_answers = [screen_twiml, joined.text]
    assert len(fake.calls()) == 1  # still only the staff leg: the caller waits for the worker

    # The worker dials the caller into the conference, from the hotline number.
    assert work(line_app) == 1
    caller = leg(line_app, "caller")
    participant = fake.calls()[-1]
    assert participant["uri"] == (f"https://api.twilio.com/2010-04-01/Accounts/"
                                  f"{TEST_ACCOUNT_SID}/Conferences/{conference_name}"
                                  "/Participants.json")
    assert participant["data"] == {
        "From": VOICE_FROM, "To": CALLER, "Label": "caller",
        "Timeout": calls.CALLER_RING_SECONDS, "EarlyMedia": "false", "Beep": "false",
        "EndConferenceOnExit": "true", "StatusCallback": status_url(caller.id),
        "StatusCallbackMethod": "POST", "StatusCallbackEvent": LEG_EVENTS}

    # The caller's phone rings, they answer: callback needed clears at once.
    for status in ("initiated", "ringing", "in-progress"):
        assert leg_status(client, caller.id, caller.call_sid, status).status_code == 204
    with line_app.app_context():
        case = db.session.execute(select(Case)).scalar_one()
        assert not case.callback_needed and case.first_response_at is not None
    queue = client.get("/dashboard/").get_data(as_text=True)
    assert "On a call with Olena K." in queue

    # They talk for 2 min 5 s; both legs end (reports repeated and out of order).
    assert leg_status(client, caller.id, caller.call_sid, "completed",
                      CallDuration="125").status_code == 204
    assert leg_status(client, caller.id, caller.call_sid, "ringing").status_code == 204
    assert leg_status(client, staff.id, staff.call_sid, "completed",
                      CallDuration="140").status_code == 204
    assert leg_status(client, caller.id, caller.call_sid, "completed",
                      CallDuration="125").status_code == 204
    assert work(line_app) == 0  # nothing left to hang up

    entry = the_attempt(line_app)
    assert entry.author_id == olena.id and entry.channel == "voice"
    assert entry.meta["outcome"] == "reached" and entry.meta["duration"] == 125
    assert entry.meta["staff_status"] == "completed"
    assert entry.meta["caller_status"] == "completed"
    with line_app.app_context():
        assert len(db.session.execute(select(CallLeg)).scalars().all()) == 2
        assert not db.session.execute(select(Case)).scalar_one().callback_needed
    page = client.get(case_url(reference)).get_data(as_text=True)
    assert "Call back through the line by Olena K." in page
    assert "the caller answered" in page and "call lasted 2 min 5 s" in page
    assert "staff accepted" in page and "caller answered" in page
    assert "On a call with" not in client.get("/dashboard/").get_data(as_text=True)

    # Neither number reached the other side: each is only the To of its own leg.
    for request in fake.calls():
        values = " ".join(str(v) for v in request["data"].values())
        others = values.replace(request["data"].get("To", ""), "", 1)
        assert CALLER not in others and STAFF_PHONE not in others
    assert [r["data"]["To"] for r in fake.calls()] == [STAFF_PHONE, CALLER]
    for text in twiml_answers:
        assert CALLER not in text and STAFF_PHONE not in text
        assert CALLER[1:] not in text and STAFF_PHONE[1:] not in text
    assert STAFF_PHONE not in page and CALLER not in page


def test_attempt_where_staff_do_not_accept(line_app, fake, olena):
    client = line_app.test_client()
    reference, staff = ring_olena(line_app, client, olena)
    leg_status(client, staff.id, staff.call_sid, "ringing")
    # Her voicemail picks up: it cannot press 1, the gather times out and hangs up.
    leg_status(client, staff.id, staff.call_sid, "completed", CallDuration="9")
    entry = the_attempt(line_app)
    assert entry.meta["outcome"] == "staff_missed"
    with line_app.app_context():
        assert db.session.execute(select(Case)).scalar_one().callback_needed
        assert db.session.execute(select(CallLeg).where(CallLeg.role == "caller")).first() \
            is None
    assert len(fake.calls()) == 1
    page = client.get(case_url(reference)).get_data(as_text=True)
    assert "not accepted" in page


@pytest.mark.parametrize(("status", "outcome", "words"), [
    ("no-answer", "no_answer", "the caller did not answer"),
    ("busy", "busy", "line was busy"),
])
def test_caller_not_answering_is_an_attempt_and_staff_are_told(line_app, fake, olena, status,
                                                               outcome, words):
    client = line_app.test_client()
    reference, staff, caller = dial_the_caller(line_app, client, olena)
    leg_status(client, caller.id, caller.call_sid, "ringing")
    leg_status(client, caller.id, caller.call_sid, status)
    assert the_attempt(line_app).meta["outcome"] == outcome
    with line_app.app_context():
        assert db.session.execute(select(Case)).scalar_one().callback_needed
    # Olena, alone in the conference, is told why and hung up.
    assert work(line_app) == 1
    update = fake.calls()[-1]
    assert update["uri"].endswith(f"/Calls/{staff.call_sid}.json")
    said = parse_twiml(update["data"]["Twiml"])
    assert said.find("Say").text == replies.call_back_ended(outcome)
    assert said.find("Hangup") is not None
    page = client.get(case_url(reference)).get_data(as_text=True)
    assert words in page, page[page.find("timeline"):][:3000]


def test_staff_hanging_up_cancels_the_ringing_caller(line_app, fake, olena):
    client = line_app.test_client()
    reference, staff, caller = dial_the_caller(line_app, client, olena)
    leg_status(client, caller.id, caller.call_sid, "ringing")
    leg_status(client, staff.id, staff.call_sid, "completed", CallDuration="12")
    assert work(line_app) == 1
    cancel = fake.calls()[-1]
    assert cancel["uri"].endswith(f"/Calls/{caller.call_sid}.json")
    assert cancel["data"] == {"Status": "canceled"}
    leg_status(client, caller.id, caller.call_sid, "canceled")
    assert the_attempt(line_app).meta["outcome"] == "canceled"
    assert "ended before the caller answered" in client.get(case_url(reference)).get_data(
        as_text=True)


def test_pressing_another_key_hangs_up_without_calling(line_app, fake, olena):
    client = line_app.test_client()
    reference, staff = ring_olena(line_app, client, olena)
    answer = post_signed(client, "/twilio/voice/screen", {"CallSid": staff.call_sid,
                                                          "Digits": "2"},
                         query=f"leg={staff.id}")
    assert parse_twiml(answer.text).find("Hangup") is not None
    assert work(line_app) == 0 and len(fake.calls()) == 1


def test_blocked_meanwhile_the_caller_is_not_dialled(line_app, fake, olena):
    client = line_app.test_client()
    reference, staff = ring_olena(line_app, client, olena)
    with line_app.app_context():
        db.session.execute(select(Case)).scalar_one().caller.flag = "blocked"
        db.session.commit()
    answer = post_signed(client, "/twilio/voice/screen", {"CallSid": staff.call_sid,
                                                          "Digits": "1"},
                         query=f"leg={staff.id}")
    root = parse_twiml(answer.text)
    assert root.find("Say").text == replies.call_back_stopped()
    assert root.find("Dial") is None
    assert work(line_app) == 0 and len(fake.calls()) == 1


@pytest.mark.parametrize(("change", "words"), [
    ("opted_out", "opted out (STOP)"),
    ("blocked", "The caller is blocked"),
])
def test_opted_out_or_blocked_caller_cannot_be_called(line_app, fake, olena, change, words):
    client = line_app.test_client()
    reference = leave_voicemail(client)
    with line_app.app_context():
        caller = db.session.execute(select(Case)).scalar_one().caller
        if change == "opted_out":
            caller.opted_out = True
        else:
            caller.flag = "blocked"
        db.session.commit()
    login_as(client, olena)
    page = client.get(case_url(reference)).get_data(as_text=True)
    assert 'id="call-back-off"' in page and words in page
    answer = post_action(client, reference, "call-back")
    assert answer.status_code == 400 and words in answer.get_data(as_text=True)
    assert work(line_app) == 0 and fake.calls() == []


def test_no_roster_phone_is_a_clear_message(line_app, fake, make_user):
    client = line_app.test_client()
    reference = leave_voicemail(client)
    nobody = make_user("staff", display_name="No Phone", languages="ru")
    login_as(client, nobody)
    answer = post_action(client, reference, "call-back")
    assert answer.status_code == 400
    assert "Your roster entry has no phone number" in answer.get_data(as_text=True)
    with line_app.app_context():
        assert db.session.execute(select(CallLeg)).first() is None


def test_without_voice_from_call_back_is_off(make_app, fake, olena):
    app = make_app(TWILIO_ACCOUNT_SID=TEST_ACCOUNT_SID, TWILIO_HTTP_CLIENT=fake)
    client = app.test_client()
    reference = leave_voicemail(client)
    login_as(client, olena)
    page = client.get(case_url(reference)).get_data(as_text=True)
    assert "TWILIO_VOICE_FROM is not set" in page and "disabled" in page
    answer = post_action(client, reference, "call-back")
    assert answer.status_code == 400
    assert "TWILIO_VOICE_FROM is not set" in answer.get_data(as_text=True)
    assert fake.calls() == []


def test_not_safe_web_caller_needs_an_audited_confirmation(line_app, fake, olena):
    case = make_case(line_app, kind="web", channel="web", language="ru")
    with line_app.app_context():
        stored = db.session.get(Case, case["id"])
        stored.contact_ok = False
        stored.contact_details = "+7 916 123-45-67"
        db.session.commit()
    client = line_app.test_client()
    login_as(client, olena)
    refused = post_action(client, case["reference"], "call-back")
    assert refused.status_code == 400 and UNSAFE_CALL_BACK in refused.get_data(as_text=True)
    assert work(line_app) == 0
    confirmed = post_action(client, case["reference"], "call-back", confirm_unsafe="y")
    assert confirmed.status_code == 303
    with line_app.app_context():
        audit = db.session.execute(
            select(AuditEvent).where(AuditEvent.action == "case.call_back")).scalar_one()
        assert audit.detail["unsafe_contact_confirmed"] is True
    assert the_attempt(line_app).meta["unsafe_confirmed"] is True
    work(line_app)
    staff = leg(line_app, "staff")
    post_signed(client, "/twilio/voice/screen", {"CallSid": staff.call_sid, "Digits": "1"},
                query=f"leg={staff.id}")
    work(line_app)
    assert fake.calls()[-1]["data"]["To"] == CALLER  # the number the visitor gave


def test_web_caller_without_a_phone_number_cannot_be_called(line_app, olena):
    case = make_case(line_app, kind="web", channel="web")
    client = line_app.test_client()
    login_as(client, olena)
    answer = post_action(client, case["reference"], "call-back")
    assert answer.status_code == 400
    assert "no phone number the line can call" in answer.get_data(as_text=True)


def test_twilio_refusal_is_shown_on_the_case_in_words(make_app, olena):
    fake = FakeTwilioHttp(failures=[(400, 21215)])
    app = make_app(TWILIO_ACCOUNT_SID=TEST_ACCOUNT_SID, TWILIO_VOICE_FROM=VOICE_FROM,
                   TWILIO_HTTP_CLIENT=fake)
    client = app.test_client()
    reference = leave_voicemail(client)
    login_as(client, olena)
    post_action(client, reference, "call-back")
    assert work(app) == 1
    entry = the_attempt(app)
    assert entry.meta["outcome"] == "not_placed" and entry.meta["error"] == "geo_permission"
    page = client.get(case_url(reference)).get_data(as_text=True)
    assert "Calls to this country are not enabled" in page and "(Twilio 21215)" in page
    assert "refused" not in page  # Twilio's own message is never shown
    # A new attempt can be made at once: the failed one is over.
    assert post_action(client, reference, "call-back").status_code == 303


def test_network_failure_is_not_retried(make_app, olena):
    import requests

    fake = FakeTwilioHttp(failures=[requests.ConnectionError("down")])
    app = make_app(TWILIO_ACCOUNT_SID=TEST_ACCOUNT_SID, TWILIO_VOICE_FROM=VOICE_FROM,
                   TWILIO_HTTP_CLIENT=fake)
    client = app.test_client()
    reference = leave_voicemail(client)
    login_as(client, olena)
    post_action(client, reference, "call-back")
    work(app)
    assert work(app) == 0 and len(fake.requests) == 1
    assert the_attempt(app).meta["error"] == "twilio_unreachable"


def test_a_leg_left_waiting_is_never_placed_late(line_app, fake, olena):
    client = line_app.test_client()
    reference = leave_voicemail(client)
    login_as(client, olena)
    post_action(client, reference, "call-back")
    with line_app.app_context():
        staff = db.session.execute(select(CallLeg)).scalar_one()
        staff.job_at -= calls.PLACE_WITHIN + timedelta(seconds=1)
        db.session.commit()
    assert work(line_app) == 1
    assert fake.calls() == []
    assert the_attempt(line_app).meta["error"] == "expired"


def test_worker_without_twilio_places_nothing(make_app, olena):
    app = make_app(TWILIO_VOICE_FROM=VOICE_FROM)
    with app.app_context():
        case = db.session.get(Case, make_case(app)["id"])
        calls.start_call_back(case, db.session.get(User, olena.id))
        db.session.commit()
    assert work(app) == 0
    assert leg(app, "staff").job == "place"


def test_one_call_back_at_a_time(line_app, fake, olena, make_user):
    client = line_app.test_client()
    reference, staff = ring_olena(line_app, client, olena)
    leg_status(client, staff.id, staff.call_sid, "in-progress")
    other = make_user("staff", display_name="Petro", phone="+380671234567", languages="ru")
    second = line_app.test_client()
    login_as(second, other)
    answer = post_action(second, reference, "call-back")
    assert answer.status_code == 400
    assert "already under way" in answer.get_data(as_text=True)


def test_leg_status_refuses_bad_and_forged_reports(line_app, fake, olena, twilio_post):
    client = line_app.test_client()
    reference, staff = ring_olena(line_app, client, olena)
    unsigned = client.post(f"/twilio/voice/leg-status?leg={staff.id}",
                           data={"CallSid": staff.call_sid, "CallStatus": "completed"})
    assert unsigned.status_code == 403
    assert leg_status(client, 999999, staff.call_sid, "ringing").status_code == 400
    assert leg_status(client, staff.id, "CA" + "f" * 32, "ringing").status_code == 400
    assert leg_status(client, staff.id, staff.call_sid, "exploded").status_code == 400
    assert leg_status(client, staff.id, staff.call_sid, "completed",
                      CallDuration="x").status_code == 400
    assert post_signed(client, "/twilio/voice/leg-status",
                       {"CallSid": staff.call_sid, "CallStatus": "ringing"},
                       query="leg=abc").status_code == 400
    assert leg(line_app, "staff").status == "queued"
    # A forged screen (another leg id, unsigned) dials nobody.
    forged = client.post(f"/twilio/voice/screen?leg={staff.id}",
                         data={"CallSid": staff.call_sid, "Digits": "1"})
    assert forged.status_code == 403
    assert work(line_app) == 0


def test_screen_of_an_inbound_call_names_the_case_and_a_known_caller(make_app, make_user):
    app = make_app()
    client = app.test_client()
    staff = make_user("staff", phone=STAFF_PHONE, languages="ru", on_duty=True)
    earlier = make_case(app, address=CALLER, status="closed")
    with app.app_context():
        old = db.session.get(Case, earlier["id"])
        old.created_at = old.closed_at = old.created_at - timedelta(days=60)
        db.session.commit()
    post_signed(client, "/twilio/voice", inbound(CallStatus="ringing"))
    dial = parse_twiml(post_signed(client, "/twilio/voice/language", inbound(Digits="2")).text)
    screen_url = dial.find("Dial/Number").get("url")
    query = screen_url.split("?", 1)[1]
    answer = post_signed(client, "/twilio/voice/screen",
                         {"CallSid": "CA" + "c" * 32, "ParentCallSid": CALL}, query=query)
    said = parse_twiml(answer.text).find("Gather/Say").text
    with app.app_context():
        case = db.session.execute(select(Case).where(Case.id != earlier["id"])).scalar_one()
        spelled = replies.spell_reference(case.reference)
    assert said == (f"Hotline call in Russian. Case {spelled}. A known caller, with one "
                    "earlier case. Press 1 to accept.")
    assert CALLER not in answer.text and CALLER[1:] not in answer.text
    assert staff


def test_spelled_reference_reads_letter_by_letter():
    assert replies.spell_reference("K7M2Q9X4") == "K, 7, M, 2. Q, 9, X, 4"
    assert replies.screen_case("K7M2Q9X4", 0) == "Case K, 7, M, 2. Q, 9, X, 4. A new caller."
    assert replies.screen_case("K7M2Q9X4", 3).endswith("A known caller, with 3 earlier cases.")


def accept_inbound(client, staff_id: int, child: str = "CA" + "c" * 32):
    return post_signed(client, "/twilio/voice/screen",
                       {"CallSid": child, "ParentCallSid": CALL, "Digits": "1"},
                       query=f"lang=ru&staff={staff_id}")


def test_queue_shows_who_is_on_an_inbound_call(make_app, make_user):
    app = make_app()
    client = app.test_client()
    staff = make_user("staff", display_name="Olena K.", phone=STAFF_PHONE, languages="ru",
                      on_duty=True)
    post_signed(client, "/twilio/voice", inbound(CallStatus="ringing"))
    post_signed(client, "/twilio/voice/language", inbound(Digits="2"))
    assert accept_inbound(client, staff.id).status_code == 200
    accept_inbound(client, staff.id)  # Twilio retries: still one leg
    with app.app_context():
        assert len(db.session.execute(select(CallLeg)).scalars().all()) == 1
    login_as(client, staff)
    assert "On a call with Olena K." in client.get("/dashboard/").get_data(as_text=True)
    post_signed(client, "/twilio/voice/dial-result", inbound(DialCallStatus="completed"))
    post_signed(client, "/twilio/voice/status", inbound(CallStatus="completed",
                                                         CallDuration="60"))
    assert "On a call with" not in client.get("/dashboard/").get_data(as_text=True)


def test_interpreter_joins_a_call_back(line_app, fake, olena, make_user):
    anna = make_user("staff", display_name="Anna", phone=INTERPRETER_PHONE, languages="ru,ko")
    make_user("staff", display_name="Speaks no Russian", phone="+447700900123",
              languages="ko")
    client = line_app.test_client()
    reference = leave_voicemail(client)
    login_as(client, olena)
    page = client.get(case_url(reference)).get_data(as_text=True)
    assert 'id="interpreter"' not in page  # no call under way
    post_action(client, reference, "call-back")
    work(line_app)
    staff = leg(line_app, "staff")
    caller = answer_and_dial(line_app, client, staff)
    leg_status(client, caller.id, caller.call_sid, "in-progress")

    page = client.get(case_url(reference)).get_data(as_text=True)
    assert 'id="interpreter"' in page and "Anna" in page
    assert "Speaks no Russian" not in page
    answer = post_action(client, reference, "interpreter", interpreter=str(anna.id))
    assert answer.status_code == 303
    assert work(line_app) == 1
    interpreter = leg(line_app, "interpreter")
    name = the_attempt(line_app).meta["conference"]
    joined = fake.calls()[-1]
    assert joined["uri"].endswith(f"/Conferences/{name}/Participants.json")
    assert joined["data"] == {
        "From": VOICE_FROM, "To": INTERPRETER_PHONE, "Label": "interpreter",
        "Timeout": calls.CALLER_RING_SECONDS, "EarlyMedia": "false", "Beep": "false",
        "EndConferenceOnExit": "false", "StatusCallback": status_url(interpreter.id),
        "StatusCallbackMethod": "POST", "StatusCallbackEvent": LEG_EVENTS}
    leg_status(client, interpreter.id, interpreter.call_sid, "in-progress")
    page = client.get(case_url(reference)).get_data(as_text=True)
    assert "Interpreter Anna added by Olena K." in page and "on the call" in page
    assert "On a call with Olena K., Anna" in client.get("/dashboard/").get_data(as_text=True)
    with line_app.app_context():
        audit = db.session.execute(
            select(AuditEvent).where(AuditEvent.action == "case.interpreter_add")
        ).scalar_one()
        assert audit.detail["interpreter_id"] == anna.id
    # The interpreter's number went only to their own leg; the caller's nowhere else.
    assert [r["data"].get("To") for r in fake.calls()] == [STAFF_PHONE, CALLER,
                                                           INTERPRETER_PHONE]


def test_interpreter_refused_without_a_call_or_for_a_stranger(line_app, olena, make_user):
    anna = make_user("staff", display_name="Anna", phone=INTERPRETER_PHONE, languages="ru")
    client = line_app.test_client()
    reference = leave_voicemail(client)
    login_as(client, olena)
    page = client.get(case_url(reference)).get_data(as_text=True)
    assert 'id="interpreter"' not in page
    with line_app.app_context():
        version = db.session.execute(select(Case)).scalar_one().version
    answer = post_action(client, reference, "interpreter", version=version,
                         interpreter=str(anna.id))
    assert answer.status_code == 400
    assert "No call is under way" in answer.get_data(as_text=True)
    with line_app.app_context():
        assert db.session.execute(select(CallLeg)).first() is None


def test_interpreter_on_an_inbound_call_moves_it_into_a_conference(line_app, fake, make_user):
    olena = make_user("staff", display_name="Olena K.", phone=STAFF_PHONE, languages="ru",
                      on_duty=True)
    anna = make_user("staff", display_name="Anna", phone=INTERPRETER_PHONE, languages="ru")
    client = line_app.test_client()
    post_signed(client, "/twilio/voice", inbound(CallStatus="ringing"))
    post_signed(client, "/twilio/voice/language", inbound(Digits="2"))
    child = "CA" + "c" * 32
    accept_inbound(client, olena.id, child)
    with line_app.app_context():
        reference = db.session.execute(select(Case)).scalar_one().display_reference
    login_as(client, olena)
    assert post_action(client, reference, "interpreter",
                       interpreter=str(anna.id)).status_code == 303
    assert work(line_app) == 2
    move, joined = fake.calls()
    with line_app.app_context():
        call = db.session.execute(select(Interaction).where(Interaction.kind == "call")
                                  ).scalar_one()
        name = call.meta["conference"]
        assert call.meta["moved"] is True
    assert move["uri"].endswith(f"/Calls/{child}.json")
    assert parse_twiml(move["data"]["Twiml"]).find("Dial/Conference").text == name
    assert joined["uri"].endswith(f"/Conferences/{name}/Participants.json")
    assert joined["data"]["To"] == INTERPRETER_PHONE
    # The caller's leg left its bridge: its dial result follows the staff member in.
    followed = post_signed(client, "/twilio/voice/dial-result",
                           inbound(DialCallStatus="completed"), query="lang=ru")
    assert parse_twiml(followed.text).find("Dial/Conference").text == name
    assert "On a call with Olena K." in client.get("/dashboard/").get_data(as_text=True)
    post_signed(client, "/twilio/voice/status", inbound(CallStatus="completed",
                                                         CallDuration="300"))
    assert "On a call with" not in client.get("/dashboard/").get_data(as_text=True)
    for request in fake.calls():
        assert CALLER not in " ".join(str(v) for v in request["data"].values())


# ---- races: parallel requests (really side by side on PostgreSQL) ----------------------------

def test_two_staff_pressing_call_back_at_once_make_one_attempt(line_app, fake, olena,
                                                               make_user):

    client = line_app.test_client()
    reference = leave_voicemail(client)
    petro = make_user("staff", display_name="Petro", phone="+380671234567", languages="ru")
    clients = []
    for user in (olena, petro):
        signed_in = line_app.test_client()
        login_as(signed_in, user)
        clients.append(signed_in)
    with line_app.app_context():
        version = db.session.execute(select(Case)).scalar_one().version
    forms = []
    for signed_in in clients:
        html = signed_in.get(case_url(reference)).get_data(as_text=True)
        forms.append({"call-back-csrf_token": csrf_token(html),
                      "call-back-version": str(version)})
    answers = in_parallel([
        lambda c=c, f=f: c.post(case_url(reference, "call-back"), data=f).status_code
        for c, f in zip(clients, forms, strict=True)])
    assert sorted(answers)[0] == 303 and sorted(answers)[1] in (400, 409)
    with line_app.app_context():
        assert len(db.session.execute(select(CallLeg)).scalars().all()) == 1
        assert len(db.session.execute(
            select(Interaction).where(Interaction.kind == "callback")).scalars().all()) == 1


def test_two_workers_place_a_leg_once(line_app, fake, olena):

    client = line_app.test_client()
    reference = leave_voicemail(client)
    login_as(client, olena)
    post_action(client, reference, "call-back")
    in_parallel([lambda: work(line_app), lambda: work(line_app)])
    assert len(fake.calls()) == 1
    assert leg(line_app, "staff").call_sid is not None


def test_pressing_1_twice_at_once_dials_the_caller_once(line_app, fake, olena):

    client = line_app.test_client()
    reference, staff = ring_olena(line_app, client, olena)
    presses = [line_app.test_client(), line_app.test_client()]
    answers = in_parallel([
        lambda c=c: post_signed(c, "/twilio/voice/screen",
                                {"CallSid": staff.call_sid, "Digits": "1"},
                                query=f"leg={staff.id}").text for c in presses])
    for text in answers:
        assert parse_twiml(text).find("Dial/Conference") is not None
    with line_app.app_context():
        assert len(db.session.execute(
            select(CallLeg).where(CallLeg.role == "caller")).scalars().all()) == 1
    work(line_app)
    assert [r["data"]["To"] for r in fake.calls()] == [STAFF_PHONE, CALLER]


def test_a_leg_nobody_placed_does_not_block_the_next_attempt(line_app, fake, olena):
    client = line_app.test_client()
    reference = leave_voicemail(client)
    login_as(client, olena)
    post_action(client, reference, "call-back")
    assert post_action(client, reference, "call-back").status_code == 400  # under way
    with line_app.app_context():
        staff = db.session.execute(select(CallLeg)).scalar_one()
        staff.job_at -= calls.PLACE_WITHIN + timedelta(seconds=1)  # the worker was down
        db.session.commit()
    assert post_action(client, reference, "call-back").status_code == 303


def test_a_leg_report_while_the_database_is_down_is_spooled_and_replayed(line_app, fake,
                                                                         olena, make_app,
                                                                         tmp_path):
    from hotline.intake import spool

    client = line_app.test_client()
    reference, staff, caller = dial_the_caller(line_app, client, olena)
    down = make_app(SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'missing' / 'x.sqlite3'}")
    answer = leg_status(down.test_client(), caller.id, caller.call_sid, "in-progress")
    assert answer.status_code == 204
    assert len(spool.pending(down)) == 1
    with line_app.app_context():
        assert db.session.execute(select(Case)).scalar_one().callback_needed
    report = spool.replay_all(line_app)
    assert (report.done, report.kept, report.rejected) == (1, 0, 0)
    assert leg(line_app, "caller").status == "in-progress"
    with line_app.app_context():
        assert not db.session.execute(select(Case)).scalar_one().callback_needed
    assert the_attempt(line_app).meta["outcome"] == "reached"


def test_staff_prompts_are_in_the_staff_members_language(make_app, fake, make_user):
    # Olena works in Ukrainian: her call-back screen, the notice after pressing 1 and the
    # one when the caller does not answer are Ukrainian, spoken with the Ukrainian voice.
    app = twilio_app(make_app, fake, TWILIO_VOICE_FROM=VOICE_FROM)
    olena = olena_on_roster(make_user, ui_language="uk")
    client = app.test_client()
    reference, staff = ring_olena(app, client, olena)
    screen = parse_twiml(fake.calls()[0]["data"]["Twiml"]).find("Gather/Say")
    with app.app_context():
        stored = db.session.execute(select(Case)).scalar_one().reference
    assert screen.text == replies.call_back_prompt(stored, "ru", "uk")
    assert screen.text.startswith("Зворотний дзвінок у зверненні ")
    assert "Мова абонента: російська" in screen.text and "Press" not in screen.text
    assert screen.get("language") == say_language("uk")
    caller = answer_and_dial(app, client, staff)
    joined = post_signed(client, "/twilio/voice/screen",
                         {"CallSid": staff.call_sid, "Digits": "1"}, query=f"leg={staff.id}")
    notice = parse_twiml(joined.text).find("Say")
    assert (notice.text, notice.get("language")) == (
        "Телефонуємо абонентові. Залишайтеся на лінії.", say_language("uk"))
    leg_status(client, caller.id, caller.call_sid, "no-answer")
    work(app)
    ended = parse_twiml(fake.calls()[-1]["data"]["Twiml"]).find("Say")
    assert (ended.text, ended.get("language")) == (
        "Абонент не відповів. Спробу записано у зверненні.", say_language("uk"))
    assert reference


def test_inbound_screen_is_in_the_language_of_the_staff_member_rung(make_app, make_user):
    # The deployment default (Korean here) for a staff member who chose none.
    app = make_app(STAFF_DEFAULT_LANGUAGE="ko")
    client = app.test_client()
    make_user("staff", phone=STAFF_PHONE, languages="ru", on_duty=True)
    post_signed(client, "/twilio/voice", inbound(CallStatus="ringing"))
    dial = parse_twiml(post_signed(client, "/twilio/voice/language", inbound(Digits="2")).text)
    query = dial.find("Dial/Number").get("url").split("?", 1)[1]
    answer = post_signed(client, "/twilio/voice/screen",
                         {"CallSid": "CA" + "c" * 32, "ParentCallSid": CALL}, query=query)
    said = parse_twiml(answer.text).find("Gather/Say")
    with app.app_context():
        reference = db.session.execute(select(Case)).scalar_one().reference
    spelled = replies.spell_reference(reference)
    assert said.text == (f"상담 전화입니다. 언어: 러시아어. 사건 {spelled}. "
                         "처음 연락한 사람입니다. 받으려면 1번을 누르세요.")
    assert said.get("language") == say_language("ko")


def test_staff_prompt_texts_are_translated_in_every_staff_language():
    for language in ("uk", "ru", "ko"):
        texts = [replies.screen_prompt("en", replies.screen_case("K7M2Q9X4", 3, language),
                                       language),
                 replies.call_back_prompt("K7M2Q9X4", "ko", language),
                 replies.call_back_connecting(language), replies.call_back_stopped(language),
                 *(replies.call_back_ended(outcome, language)
                   for outcome in ("busy", "no_answer", None))]
        for text in texts:
            assert not any(word in text for word in ("Press", "caller", "Case ", "attempt")), text
