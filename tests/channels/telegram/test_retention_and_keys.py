"""Telegram data under retention and key rotation: a purge removes chat ids, file ids and
Telegram message ids; rotation re-encrypts the chat id and the thread carries on."""

from __future__ import annotations

import json
from datetime import timedelta

from cryptography.fernet import Fernet
from sqlalchemy import Text, select, text, type_coerce

from hotline.extensions import db
from hotline.messaging import outbox
from hotline.models import Caller, Case, Interaction, utcnow
from hotline.ops import keys, retention
from tests.channels.telegram.conftest import (
    BOT_TOKEN,
    CHAT_ID,
    SECRET,
    api_base,
    expect_send,
    message,
    post_update,
)
from tests.conftest import ENCRYPTION_KEY


def test_purge_removes_chat_ids_file_ids_and_message_ids(tg_app, tg_client, fake_api):
    photo = [{"file_id": "AgAD-secret-file", "file_unique_id": "u", "width": 1, "height": 1}]
    post_update(tg_client, message(1, "Позывной Сокол", photo=photo))
    post_update(tg_client, message(2, "Исправлено", message_id=1, key="edited_message",
                                   edit_date=1767226000))
    expect_send(fake_api, message_id=4321)
    with tg_app.app_context():
        assert outbox.work_once().sent == 1
        case = db.session.execute(select(Case)).scalar_one()
        case.status, case.resolution = "closed", "information_provided"
        case.closed_at = utcnow() - timedelta(days=100)
        db.session.commit()
        report = retention.purge(90)
        assert report.cases == 1 and report.callers == 1
        caller = db.session.execute(select(Caller)).scalar_one()
        assert caller.address is None and caller.address_index is None
        assert caller.address_kind == "telegram"
        for item in db.session.execute(select(Interaction)).scalars():
            assert item.body is None and item.external_id is None
            assert "media" not in item.meta and item.meta["purged"] is True
        dump = json.dumps([list(row) for row in db.session.execute(text(
            "SELECT external_id, meta, last_error FROM interactions")).all()], default=str)
    for needle in ("AgAD-secret-file", "4321", "tg-1-", "tgm-", str(CHAT_ID)):
        assert needle not in dump
    assert json.loads(dump)  # the rows are still there: reports keep their counts


def test_rotation_re_encrypts_the_chat_id_and_the_thread_continues(make_app, fake_api):
    settings = {"TELEGRAM_BOT_TOKEN": BOT_TOKEN, "TELEGRAM_WEBHOOK_SECRET": SECRET,
                "TELEGRAM_API_BASE": api_base(fake_api)}
    old = make_app(**settings)
    post_update(old.test_client(), message(10, "Первое"))
    new_key = Fernet.generate_key().decode()
    rotated = make_app(HOTLINE_ENCRYPTION_KEYS=[new_key, ENCRYPTION_KEY], **settings)
    with rotated.app_context():
        report = keys.rotate_all()
        assert report.columns["callers.address"].rotated == 1
    only_new = make_app(HOTLINE_ENCRYPTION_KEYS=[new_key], **settings)
    post_update(only_new.test_client(), message(11, "Второе"))
    with only_new.app_context():
        caller = db.session.execute(select(Caller)).scalar_one()
        assert caller.address == str(CHAT_ID)  # decrypts under the new key alone
        token = db.session.execute(select(type_coerce(Caller.address, Text()))).scalar_one()
        assert Fernet(new_key.encode()).decrypt(token.encode()) == str(CHAT_ID).encode()
        assert len(db.session.execute(select(Case)).scalars().all()) == 1
        bodies = db.session.execute(select(Interaction.body).where(
            Interaction.kind == "message_in").order_by(Interaction.id)).scalars().all()
        assert bodies == ["Первое", "Второе"]
