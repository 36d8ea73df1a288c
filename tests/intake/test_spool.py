"""The database goes away: Twilio still gets correct answers, every delivery is
spooled (encrypted, once per Sid), and the spool replays into a good database."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from hotline.channels.replies import voicemail_prompt
from hotline.extensions import db
from hotline.intake import spool
from hotline.models import Case, Interaction
from tests.conftest import TEST_AUTH_TOKEN
from tests.twilio_fakes import parse_twiml, post_signed

SENDER = "+79161234567"
CALLER = "+79169998877"
CALL = "CA" + "7" * 32


@pytest.fixture
def down_app(make_app, tmp_path: Path):
    """The app on a database that cannot be opened (a path in a missing directory)."""
    make_app()  # first: make_app's teardown empties the test database through its first app
    return make_app(SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'missing' / 'x.sqlite3'}")


def sms(sid: str, body: str = "Помогите, пожалуйста") -> dict:
    return {"MessageSid": sid, "From": SENDER, "To": "+15005550006", "Body": body,
            "NumMedia": "0"}


def call(**extra: str) -> dict:
    return {"CallSid": CALL, "From": CALLER, "To": "+15005550006", "CallStatus": "ringing",
            **extra}


def files(app) -> list[str]:
    return sorted(p.name for p in spool.pending(app))


def kinds() -> list[str]:
    return db.session.execute(select(Interaction.kind).order_by(Interaction.id)).scalars().all()


def test_sms_with_database_down_answers_and_spools_once(down_app):
    client = down_app.test_client()
    params = sms("SM" + "1" * 32)
    first = post_signed(client, "/twilio/sms", params)
    again = post_signed(client, "/twilio/sms", params)
    for answer in (first, again):
        assert answer.status_code == 200 and answer.mimetype == "text/xml"
        assert parse_twiml(answer.text).tag == "Response"
    assert files(down_app) == ["twilio_sms--" + "SM" + "1" * 32 + ".spool"]
    raw = next(iter(spool.pending(down_app))).read_bytes()
    assert SENDER.encode() not in raw and "Помогите".encode() not in raw  # encrypted
    entry = spool.read_entry(next(iter(spool.pending(down_app))), down_app)
    assert entry["path"] == "/twilio/sms" and "X-Twilio-Signature" in entry["headers"]
    assert entry["received_at"] > 0


def test_voice_with_database_down_still_guides_the_caller(down_app):
    client = down_app.test_client()
    menu = parse_twiml(post_signed(client, "/twilio/voice", call()).text)
    assert len(menu.findall("Gather")) == 2
    chosen = parse_twiml(post_signed(client, "/twilio/voice/language",
                                       call(Digits="3", CallStatus="in-progress")).text)
    assert chosen.find("Say").text == voicemail_prompt("uk")
    assert chosen.find("Record") is not None
    status = post_signed(client, "/twilio/voice/status", call(CallStatus="completed"))
    assert status.status_code == 204
    fallback = parse_twiml(post_signed(client, "/twilio/voice/fallback",
                                         call(ErrorCode="11200")).text)
    assert fallback.find("Record") is not None
    assert len(files(down_app)) == 4


def test_replay_into_good_database_is_complete_and_idempotent(down_app, make_app):
    client = down_app.test_client()
    post_signed(client, "/twilio/sms", sms("SM" + "2" * 32))
    post_signed(client, "/twilio/voice", call())
    post_signed(client, "/twilio/voice/language", call(Digits="2", CallStatus="in-progress"))
    post_signed(client, "/twilio/voice/status", call(CallStatus="completed"))
    assert len(files(down_app)) == 4

    good = make_app()
    report = spool.replay_all(good)
    assert (report.done, report.kept, report.rejected) == (4, 0, 0)
    assert files(good) == []
    with good.app_context():
        assert sorted(kinds()) == ["call", "message_in", "message_out"]
        sms_case = db.session.execute(select(Case).where(Case.channel == "sms")).scalar_one()
        reply = db.session.execute(
            select(Interaction).where(Interaction.kind == "message_out")).scalar_one()
        # Twilio got an empty answer: the auto-reply goes out through the outbox instead.
        assert reply.case_id == sms_case.id and reply.delivery_status == "queued"
        assert sms_case.reference.replace("-", "")[:4] in reply.body.replace("-", "")
        voice_case = db.session.execute(select(Case).where(Case.channel == "voice")).scalar_one()
        assert voice_case.language == "ru" and voice_case.callback_needed
    assert spool.replay_all(good).done == 0  # nothing left, nothing doubled
    with good.app_context():
        assert db.session.execute(select(func.count(Interaction.id))).scalar_one() == 3


def test_same_delivery_replayed_twice_and_live_retry_make_no_duplicates(down_app, make_app):
    params = sms("SM" + "3" * 32)
    post_signed(down_app.test_client(), "/twilio/sms", params)
    good = make_app(SPOOL_AUTO_REPLAY=False)  # this test replays by hand
    path = next(iter(spool.pending(good)))
    copy = path.read_bytes()
    post_signed(good.test_client(), "/twilio/sms", params)  # Twilio's own retry got through
    assert spool.replay_entry(good, path) == "done"
    path.write_bytes(copy)  # a second replayer had read the same file
    assert spool.replay_entry(good, path) == "done"
    with good.app_context():
        assert kinds().count("message_in") == 1


def test_replay_keeps_files_while_database_is_still_down(down_app):
    post_signed(down_app.test_client(), "/twilio/sms", sms("SM" + "4" * 32))
    report = spool.replay_all(down_app)
    assert (report.done, report.kept) == (0, 1)
    assert len(files(down_app)) == 1


def test_sms_fallback_spools_without_touching_the_database(down_app, make_app):
    answer = post_signed(down_app.test_client(), "/twilio/sms/fallback",
                         {**sms("SM" + "5" * 32), "ErrorCode": "11200"})
    assert answer.status_code == 200 and parse_twiml(answer.text).tag == "Response"
    assert files(down_app) == ["twilio_sms_fallback--" + "SM" + "5" * 32 + ".spool"]
    good = make_app()
    assert spool.replay_all(good).done == 1
    with good.app_context():
        assert kinds() == ["message_in"]


def test_recording_before_its_spooled_call_waits_for_the_call(down_app, make_app):
    post_signed(down_app.test_client(), "/twilio/voice", call())
    good = make_app()
    recording = {"CallSid": CALL, "RecordingSid": "RE" + "7" * 32, "RecordingStatus": "completed",
                 "RecordingUrl": "https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE7",
                 "RecordingDuration": "12"}
    # The database is back but the call is still in the spool: the recording waits too.
    assert post_signed(good.test_client(), "/twilio/voice/recording",
                       recording).status_code == 204
    assert len(files(good)) == 2
    assert spool.replay_all(good).done == 2
    with good.app_context():
        assert kinds() == ["call", "voicemail"]
        assert db.session.execute(select(Case)).scalar_one().callback_needed


def test_app_replays_by_itself_once_the_database_is_back(down_app, make_app):
    post_signed(down_app.test_client(), "/twilio/sms", sms("SM" + "6" * 32))
    good = make_app(SPOOL_REPLAY_INTERVAL=0)
    post_signed(good.test_client(), "/twilio/sms", sms("SM" + "8" * 32, "другое"))
    thread = good.extensions[spool._STATE_KEY]["thread"]
    thread.join(timeout=10)
    assert files(good) == []
    with good.app_context():
        assert kinds().count("message_in") == 2


def test_auto_replay_is_throttled(down_app, make_app):
    good = make_app()
    post_signed(good.test_client(), "/twilio/sms", sms("SM" + "9" * 31 + "1"))
    post_signed(down_app.test_client(), "/twilio/sms", sms("SM" + "9" * 31 + "2"))
    post_signed(good.test_client(), "/twilio/sms", sms("SM" + "9" * 31 + "3"))
    assert len(files(good)) == 1  # checked moments ago: the next check waits its turn


def test_refused_replay_is_moved_aside_not_deleted(down_app, make_app):
    post_signed(down_app.test_client(), "/twilio/sms", sms("SM" + "a" * 32))
    rotated = make_app(TWILIO_AUTH_TOKEN="another-token")
    assert rotated.config["TWILIO_AUTH_TOKEN"] != TEST_AUTH_TOKEN
    report = spool.replay_all(rotated)
    assert report.rejected == 1 and files(rotated) == []
    assert len(list((spool.spool_dir(rotated) / spool.REJECTED_DIR).iterdir())) == 1


def test_intake_replay_command(down_app, make_app):
    post_signed(down_app.test_client(), "/twilio/sms", sms("SM" + "b" * 32))
    stuck = down_app.test_cli_runner().invoke(args=["intake", "replay"])
    assert stuck.exit_code == 1 and "kept 1" in stuck.output
    good = make_app()
    result = good.test_cli_runner().invoke(args=["intake", "replay"])
    assert result.exit_code == 0 and "replayed 1" in result.output
    with good.app_context():
        assert kinds() == ["message_in", "message_out"]


def test_unwritable_spool_makes_sms_answer_503_but_voice_still_answers(make_app, tmp_path):
    make_app()  # see down_app
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    app = make_app(SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'missing' / 'x.sqlite3'}",
                   SPOOL_DIR=str(blocker / "spool"))
    client = app.test_client()
    assert post_signed(client, "/twilio/sms", sms("SM" + "c" * 32)).status_code == 503
    voice = post_signed(client, "/twilio/voice", call())
    assert voice.status_code == 200 and parse_twiml(voice.text).find("Gather") is not None


def test_recording_of_a_call_never_stored_is_moved_aside_after_a_while(make_app, monkeypatch):
    good = make_app()
    recording = {"CallSid": "CA" + "e" * 32, "RecordingSid": "RE" + "e" * 32,
                 "RecordingUrl": "https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE",
                 "RecordingStatus": "completed"}
    assert post_signed(good.test_client(), "/twilio/voice/recording",
                       recording).status_code == 204
    assert spool.replay_all(good).kept == 1  # the call may still be in another spool file
    monkeypatch.setattr(spool, "WAITING_MAX_AGE_SECONDS", -1)
    assert spool.replay_all(good).rejected == 1
    assert files(good) == []


def _age_files(folder: Path, days: float) -> None:
    import os
    import time

    stamp = time.time() - days * 86400
    for path in folder.iterdir():
        if path.is_file():
            os.utime(path, (stamp, stamp))


def test_retention_purge_removes_old_rejected_spool_files_and_keeps_waiting_ones(
        down_app, make_app):
    """Security review, finding 12: refused spool files used to stay forever."""
    post_signed(down_app.test_client(), "/twilio/sms", sms("SM" + "c" * 32))
    rotated = make_app(TWILIO_AUTH_TOKEN="another-token", RETENTION_DAYS=30)
    assert spool.replay_all(rotated).rejected == 1
    rejected = spool.spool_dir(rotated) / spool.REJECTED_DIR
    post_signed(down_app.test_client(), "/twilio/sms", sms("SM" + "d" * 32))  # a waiting one
    post_signed(down_app.test_client(), "/twilio/sms", sms("SM" + "e" * 32))
    runner = rotated.test_cli_runner()
    young = runner.invoke(args=["retention", "purge", "--older-than", "30"])
    assert young.exit_code == 0 and "purged 0 rejected spool files" in young.output
    _age_files(rejected, 31)
    _age_files(spool.spool_dir(rotated), 31)
    dry = runner.invoke(args=["retention", "purge", "--older-than", "30", "--dry-run"])
    assert "would purge 1 rejected spool files" in dry.output
    assert len(list(rejected.iterdir())) == 1
    result = runner.invoke(args=["retention", "purge", "--older-than", "30"])
    assert result.exit_code == 0, result.output
    assert "purged 1 rejected spool files" in result.output
    assert "2 spool files older than 30 days are still waiting" in result.output
    assert list(rejected.iterdir()) == []
    assert len(files(rotated)) == 2  # waiting deliveries are never dropped by retention


def test_replay_list_shows_what_waits_without_decrypting(down_app, make_app):
    post_signed(down_app.test_client(), "/twilio/sms", sms("SM" + "f" * 32, "секрет"))
    rotated = make_app(TWILIO_AUTH_TOKEN="another-token")
    spool.replay_all(rotated)
    post_signed(down_app.test_client(), "/twilio/sms", sms("SM" + "9" * 32, "секрет"))
    # With a key that decrypts nothing: listing must not need to.
    from cryptography.fernet import Fernet

    stranger = make_app(HOTLINE_ENCRYPTION_KEYS=[Fernet.generate_key().decode()])
    result = stranger.test_cli_runner().invoke(args=["intake", "replay", "--list"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert any(line.startswith("waiting") and "SM" + "9" * 32 in line for line in lines)
    assert any(line.startswith("rejected") and "SM" + "f" * 32 in line for line in lines)
    assert "1 waiting, 1 rejected" in result.output
    assert SENDER not in result.output and "секрет" not in result.output
    assert len(files(stranger)) == 1  # nothing was replayed
