"""``POST /telegram/webhook`` through the real route: signed-only, idempotent, encrypted,
never a 500; /start, /stop, edits, attachments; the auto-reply through the outbox."""

from __future__ import annotations

import json
import threading

import pytest
from sqlalchemy import func, select, text

from hotline.channels.replies import auto_reply
from hotline.channels.telegram.webhook import MAX_UPDATE_BYTES
from hotline.extensions import db
from hotline.models import Caller, Case, Interaction
from tests.channels.telegram.conftest import (
    BOT_TOKEN,
    CHAT_ID,
    SECRET,
    message,
    post_update,
)
from tests.conftest import postgres_url


def count(model) -> int:
    return db.session.execute(select(func.count()).select_from(model)).scalar_one()


def rows(app) -> tuple[int, int, int]:
    with app.app_context():
        return count(Caller), count(Case), count(Interaction)


def timeline(app) -> list[Interaction]:
    return db.session.execute(select(Interaction).order_by(Interaction.id)).scalars().all()


def test_without_a_bot_token_the_route_is_not_there(make_app):
    app = make_app()
    answer = post_update(app.test_client(), message(1))
    assert answer.status_code == 404
    assert rows(app) == (0, 0, 0)


@pytest.mark.parametrize("secret", [None, "", "wrong", SECRET + "x", SECRET[:-1], BOT_TOKEN])
def test_forged_or_missing_secret_is_refused_and_nothing_stored(tg_app, tg_client, secret,
                                                                caplog):
    answer = post_update(tg_client, message(2, "Помогите"), secret=secret)
    assert answer.status_code == 403
    assert rows(tg_app) == (0, 0, 0)
    refused = [r for r in caplog.records if r.getMessage() == "telegram.refused"]
    assert len(refused) == 1 and "Помогите" not in caplog.text and str(CHAT_ID) not in caplog.text


@pytest.mark.parametrize("raw", [b"{broken", b"[]", b'"x"', b"{}"])
def test_forged_secret_on_a_malformed_body_is_still_403(tg_client, raw):
    """The secret is checked before a byte of the body is parsed."""
    assert post_update(tg_client, None, secret="wrong", raw=raw).status_code == 403


@pytest.mark.parametrize(("raw", "reason"), [
    (b"{broken", b"not UTF-8 JSON"),
    (b"[]", b"not a JSON object"),
    (b'"just a string"', b"not a JSON object"),
    (b"\xc3\x28", b"not UTF-8 JSON"),
    (json.dumps({"message": {}}).encode(), b"update_id"),
    (json.dumps({"update_id": 5, "message": {"message_id": 1}}).encode(), b"message.chat"),
    (b"", b"not UTF-8 JSON"),
])
def test_bad_bodies_are_400_with_a_reason(tg_app, tg_client, raw, reason):
    answer = post_update(tg_client, None, raw=raw)
    assert answer.status_code == 400 and reason in answer.data
    assert rows(tg_app) == (0, 0, 0)


def test_a_huge_body_is_400_not_a_crash(tg_app, tg_client):
    huge = json.dumps(message(6, "я" * (MAX_UPDATE_BYTES // 2 + 10))).encode()
    assert len(huge) > MAX_UPDATE_BYTES
    answer = post_update(tg_client, None, raw=huge)
    assert answer.status_code == 400 and b"too large" in answer.data
    assert rows(tg_app) == (0, 0, 0)


def test_a_long_real_message_above_the_twilio_form_limit_is_taken(tg_app, tg_client):
    """A 4096-character reply to another one, with JSON escapes, exceeds the 64 KiB form cap."""
    quoted = message(6, "🙂" * 4096)["message"]
    body = json.dumps(message(7, "🙂" * 4096, reply_to_message=quoted)).encode()
    assert len(body) > tg_app.config["MAX_CONTENT_LENGTH"]
    assert post_update(tg_client, None, raw=body).status_code == 200
    assert rows(tg_app)[2] == 2  # the message and its auto-reply


@pytest.mark.parametrize("update", [
    message(8, "hi all", chat_type="group", chat_id=-4242),
    message(9, "news", chat_type="channel", chat_id=-100999),
    message(10, "beep", is_bot=True),
    {"update_id": 11, "callback_query": {"id": "1", "from": {"id": 5, "is_bot": False}}},
    {"update_id": 12, "my_chat_member": {"chat": {"id": 5, "type": "private"}}},
])
def test_groups_channels_bots_and_other_updates_get_200_and_are_not_stored(tg_app, tg_client,
                                                                           update):
    answer = post_update(tg_client, update)
    assert answer.status_code == 200
    assert rows(tg_app) == (0, 0, 0)


def test_a_message_opens_a_case_with_the_chat_id_encrypted(tg_app, tg_client):
    answer = post_update(tg_client, message(100, "Хочу сдаться, я в Курской области"))
    assert answer.status_code == 200 and answer.data == b""
    with tg_app.app_context():
        case = db.session.execute(select(Case)).scalar_one()
        assert case.channel == "telegram" and case.language == "ru" and case.status == "new"
        caller = case.caller
        assert caller.address_kind == "telegram" and caller.address == str(CHAT_ID)
        inbound, raised, reply = timeline(tg_app)
        assert inbound.kind == "message_in" and inbound.channel == "telegram"
        assert inbound.body == "Хочу сдаться, я в Курской области"
        # "сдаться" is a surrender keyword: the system raised the urgency at intake.
        assert case.urgency == "immediate"
        assert raised.kind == "classification_change" and raised.author_id is None
        assert raised.meta == {"changes": {"urgency": ["normal", "immediate"]},
                               "reason": "keyword", "rule": "surrender"}
        assert inbound.external_id.startswith("tg-100-")
        assert str(CHAT_ID) not in inbound.external_id
        assert inbound.meta["auto_reply"] is True
        # The auto-reply waits in the outbox: its delivery shows on the timeline.
        assert reply.kind == "message_out" and reply.channel == "telegram"
        assert reply.delivery_status == "queued" and reply.meta == {"auto_reply": True}
        assert reply.body == auto_reply("ru", case.display_reference)
        stored = db.session.execute(text(
            "SELECT address, address_index FROM callers")).one()
        raw_bodies = db.session.execute(text("SELECT body FROM interactions")).scalars().all()
    assert str(CHAT_ID) not in stored.address and str(CHAT_ID) not in stored.address_index
    assert all("Курской" not in (b or "") for b in raw_bodies)


def test_same_update_twice_is_one_interaction(tg_app, tg_client):
    update = message(200, "Первое сообщение")
    first, again = post_update(tg_client, update), post_update(tg_client, update)
    assert first.status_code == again.status_code == 200
    with tg_app.app_context():
        assert count(Case) == 1
        assert [i.kind for i in timeline(tg_app)] == ["message_in", "message_out"]


def test_an_update_id_telegram_hands_out_again_for_another_message_is_kept(tg_app, tg_client):
    """After a week without updates Telegram restarts update ids at random: a different
    message under an old id is a new message, not a redelivery."""
    post_update(tg_client, message(250, "Старое сообщение", message_id=3))
    post_update(tg_client, message(250, "Новое сообщение", message_id=90))
    with tg_app.app_context():
        inbound = [i.body for i in timeline(tg_app) if i.kind == "message_in"]
    assert inbound == ["Старое сообщение", "Новое сообщение"]


def test_further_messages_thread_into_the_open_case_without_another_reply(tg_app, tg_client):
    post_update(tg_client, message(300, "Здравствуйте"))
    post_update(tg_client, message(301, "Вы здесь?"))
    with tg_app.app_context():
        assert count(Case) == 1
        assert [i.kind for i in timeline(tg_app)] == ["message_in", "message_out", "message_in"]


def test_language_from_the_text_first_then_the_app_language(tg_app, tg_client):
    post_update(tg_client, message(400, "Допоможіть, будь ласка", language_code="ru"))
    post_update(tg_client, message(401, "/start", chat_id=CHAT_ID + 1, language_code="ko"))
    post_update(tg_client, message(402, "/start", chat_id=CHAT_ID + 2, language_code="en-GB"))
    post_update(tg_client, message(403, "/start", chat_id=CHAT_ID + 3, language_code="de"))
    with tg_app.app_context():
        languages = db.session.execute(select(Case.language).order_by(Case.id)).scalars().all()
        replies = db.session.execute(select(Interaction.body).where(
            Interaction.kind == "message_out").order_by(Interaction.id)).scalars().all()
    assert languages == ["uk", "ko", "en", "en"]  # "de" is not a hotline language
    assert replies[1].startswith("메시지를 받았습니다")


@pytest.mark.parametrize("start", ["/start", "/start from_leaflet_7"])
def test_start_opens_the_case_and_gets_the_auto_reply(tg_app, tg_client, start):
    post_update(tg_client, message(500, start, language_code="uk"))
    with tg_app.app_context():
        case = db.session.execute(select(Case)).scalar_one()
        inbound, reply = timeline(tg_app)
        assert inbound.meta["command"] == "start" and inbound.body == start
        assert reply.body == auto_reply("uk", case.display_reference)


def test_stop_opts_out_and_start_opts_back_in(tg_app, tg_client):
    post_update(tg_client, message(600, "/start", language_code="ru"))
    post_update(tg_client, message(601, "/stop"))
    with tg_app.app_context():
        caller = db.session.execute(select(Caller)).scalar_one()
        assert caller.opted_out and caller.opt_out_keyword == "/stop"
        stop = timeline(tg_app)[-1]
        assert stop.meta["opt"] == "out" and "auto_reply" not in stop.meta
    post_update(tg_client, message(602, "/start"))
    with tg_app.app_context():
        caller = db.session.execute(select(Caller)).scalar_one()
        assert not caller.opted_out and caller.opt_out_keyword == "/start"
        assert timeline(tg_app)[-1].meta["opt"] == "in"


def test_first_message_stop_gets_no_auto_reply(tg_app, tg_client):
    post_update(tg_client, message(650, "/stop"))
    with tg_app.app_context():
        assert [i.kind for i in timeline(tg_app)] == ["message_in"]
        assert db.session.execute(select(Caller)).scalar_one().opted_out


def test_an_edit_is_a_new_entry_marked_edited(tg_app, tg_client):
    post_update(tg_client, message(700, "Я в селе Ивановка", message_id=31))
    post_update(tg_client, message(701, "Я в селе Петровка", message_id=31,
                                   key="edited_message", edit_date=1767226000))
    with tg_app.app_context():
        entries = [i for i in timeline(tg_app) if i.kind == "message_in"]
        assert [e.body for e in entries] == ["Я в селе Ивановка", "Я в селе Петровка"]
        assert "edited" not in entries[0].meta and entries[1].meta["edited"] is True
        assert count(Case) == 1


def test_caption_and_attachments_are_recorded_by_file_id_only(tg_app, tg_client, fake_api):
    photo = [{"file_id": "AgAD-small", "file_unique_id": "a", "width": 90, "height": 90},
             {"file_id": "AgAD-large", "file_unique_id": "b", "width": 800, "height": 600}]
    post_update(tg_client, message(800, None, caption="Вот фото", photo=photo))
    post_update(tg_client, message(801, None, voice={"file_id": "AwAD-voice",
                                                     "mime_type": "audio/ogg", "duration": 3}))
    with tg_app.app_context():
        photo_entry, _reply, voice_entry = timeline(tg_app)
        assert photo_entry.body == "Вот фото"
        assert photo_entry.meta["media"] == [{"source": "telegram", "file_id": "AgAD-large",
                                              "content_type": "image/jpeg", "kind": "photo"}]
        assert voice_entry.body is None
        assert voice_entry.meta["media"][0]["file_id"] == "AwAD-voice"
    assert fake_api.log == []  # nothing is downloaded until a staff member opens it


def test_script_in_a_message_is_stored_as_text(tg_app, tg_client):
    post_update(tg_client, message(900, "<script>alert(1)</script>"))
    with tg_app.app_context():
        assert timeline(tg_app)[0].body == "<script>alert(1)</script>"


def test_caller_flagged_blocked_gets_no_auto_reply(tg_app, tg_client):
    post_update(tg_client, message(950, "раз"))
    with tg_app.app_context():
        caller = db.session.execute(select(Caller)).scalar_one()
        caller.flag = "blocked"
        case = db.session.execute(select(Case)).scalar_one()
        case.status, case.resolution = "closed", "hoax"
        case.closed_at = case.created_at
        db.session.commit()
    post_update(tg_client, message(951, "два"))  # reopens the case
    with tg_app.app_context():
        assert [i.kind for i in timeline(tg_app)].count("message_out") == 1


def test_parallel_updates_from_one_chat_make_one_case(tg_app):
    """24 updates of one new chat at once: one caller, one case, 24 messages, one reply.

    On PostgreSQL (HOTLINE_TEST_DATABASE_URL) this is a real race between connections.
    """
    n = 24
    barrier = threading.Barrier(n)
    statuses: list[int] = []

    def deliver(k: int) -> None:
        client = tg_app.test_client()
        barrier.wait()
        statuses.append(post_update(client, message(1000 + k, f"сообщение {k}")).status_code)

    threads = [threading.Thread(target=deliver, args=(k,)) for k in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [200] * n
    with tg_app.app_context():
        assert count(Caller) == 1 and count(Case) == 1
        kinds = [i.kind for i in timeline(tg_app)]
        assert kinds.count("message_in") == n and kinds.count("message_out") == 1
        if postgres_url():
            assert db.engine.dialect.name == "postgresql"
