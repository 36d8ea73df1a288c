"""Security review, finding 10: whether an SMS gets the auto-reply must not tell the
sender whether the number has an open case.

The attack: someone holding a seized phone texts the line. Before the fix only a message
that opened or reopened a case was answered, so silence meant "this number has an open
case". Now the only thing that decides is when the number last got an auto-reply.
Everything goes through the signed webhook; only the passage of time is simulated, by
moving the caller's last auto-reply stamp back.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from hotline.extensions import db
from hotline.models import Caller, Case, utcnow
from tests.channels.twilio.test_sms import sms

SEIZED = "+79160000011"
FRESH = "+79160000022"


def _replied(answer) -> bool:
    assert answer.status_code == 200
    return "<Message>" in answer.text


def _let_time_pass(app, hours: float) -> None:
    with app.app_context():
        for caller in db.session.execute(select(Caller)).scalars():
            if caller.last_auto_reply_at is not None:
                caller.last_auto_reply_at -= timedelta(hours=hours)
        db.session.commit()


def test_a_number_with_an_open_case_is_answered_like_a_new_number(app, twilio_post):
    interval = app.config["AUTO_REPLY_INTERVAL_HOURS"]
    assert _replied(twilio_post("/twilio/sms", sms("SM" + "1" * 32, "Помогите", SEIZED)))
    _let_time_pass(app, interval + 1)
    # The case is still open; the phone's new holder texts the line.
    probe = twilio_post("/twilio/sms", sms("SM" + "2" * 32, "hello?", SEIZED))
    fresh = twilio_post("/twilio/sms", sms("SM" + "3" * 32, "hello?", FRESH))
    assert _replied(probe) and _replied(fresh)
    with app.app_context():
        cases = db.session.execute(select(Case).order_by(Case.id)).scalars().all()
        assert len(cases) == 2 and cases[0].status != "closed"  # one open case each


def test_within_the_interval_silence_whatever_the_cases(app, twilio_post):
    assert _replied(twilio_post("/twilio/sms", sms("SM" + "4" * 32, "first", SEIZED)))
    # Staff close the case long ago enough that the next message opens a new case ...
    with app.app_context():
        case = db.session.execute(select(Case)).scalar_one()
        case.status, case.resolution = "closed", "no_contact"
        case.closed_at = utcnow() - timedelta(days=app.config["REOPEN_WINDOW_DAYS"] + 1)
        db.session.commit()
    # ... yet a new case, like the open one, gets no second reply within the interval.
    assert not _replied(twilio_post("/twilio/sms", sms("SM" + "5" * 32, "again", SEIZED)))
    with app.app_context():
        assert len(db.session.execute(select(Case)).scalars().all()) == 2
    assert not _replied(twilio_post("/twilio/sms", sms("SM" + "6" * 32, "more", SEIZED)))


def test_stop_and_blocked_still_silence_replies(app, twilio_post):
    twilio_post("/twilio/sms", sms("SM" + "7" * 32, "STOP", SEIZED, OptOutType="STOP"))
    _let_time_pass(app, 48)
    assert not _replied(twilio_post("/twilio/sms", sms("SM" + "8" * 32, "x", SEIZED)))
    assert _replied(twilio_post("/twilio/sms", sms("SM" + "9" * 32, "x", FRESH)))
    with app.app_context():
        db.session.execute(update(Caller).values(flag="blocked"))
        db.session.commit()
    _let_time_pass(app, 48)
    assert not _replied(twilio_post("/twilio/sms", sms("SM" + "a" * 32, "x", FRESH)))
