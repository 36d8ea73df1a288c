"""The database goes away: Telegram still gets 200, every update is spooled (encrypted,
once per update id) and replayed into the database afterwards: nothing lost, nothing doubled."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from hotline.extensions import db
from hotline.intake import spool
from hotline.models import Case, Interaction
from tests.channels.telegram.conftest import (
    BOT_TOKEN,
    CHAT_ID,
    SECRET,
    api_base,
    message,
    post_update,
)


@pytest.fixture
def telegram_settings(fake_api) -> dict:
    return {"TELEGRAM_BOT_TOKEN": BOT_TOKEN, "TELEGRAM_WEBHOOK_SECRET": SECRET,
            "TELEGRAM_API_BASE": api_base(fake_api), "SPOOL_AUTO_REPLAY": False}


@pytest.fixture
def down_app(make_app, tmp_path: Path, telegram_settings):
    """The Telegram app on a database that cannot be opened."""
    make_app()  # first: make_app's teardown empties the test database through its first app
    return make_app(SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'missing' / 'x.sqlite3'}",
                    **telegram_settings)


def test_updates_are_spooled_while_the_database_is_down_and_replayed(down_app, make_app,
                                                                   telegram_settings):
    client = down_app.test_client()
    updates = [message(5000 + n, f"Сообщение номер {n}") for n in range(5)]
    updates.append(message(5005, "Исправлено", message_id=1, key="edited_message",
                           edit_date=1767226000))
    for update in updates:
        answer = post_update(client, update)
        assert answer.status_code == 200  # Telegram must not retry for hours
    assert post_update(client, updates[0]).status_code == 200  # a redelivery: spooled once
    names = sorted(p.name for p in spool.pending(down_app))
    assert names == [f"telegram_webhook--u{5000 + n}.spool" for n in range(6)]
    for path in spool.pending(down_app):
        raw = path.read_bytes()
        assert str(CHAT_ID).encode() not in raw and "Сообщение".encode() not in raw
        entry = spool.read_entry(path, down_app)
        # The secret is not kept: the authenticated spool file is the proof.
        assert SECRET not in str(entry) and entry["path"] == "/telegram/webhook"

    good = make_app(**telegram_settings)
    report = spool.replay_all(good)
    assert (report.done, report.kept, report.rejected) == (6, 0, 0)
    assert spool.replay_all(good).done == 0
    with good.app_context():
        assert db.session.execute(select(func.count(Case.id))).scalar_one() == 1
        inbound = db.session.execute(select(Interaction).where(
            Interaction.kind == "message_in").order_by(Interaction.id)).scalars().all()
        assert sorted(i.body for i in inbound) == sorted(
            [f"Сообщение номер {n}" for n in range(5)] + ["Исправлено"])
        replies = db.session.execute(select(Interaction).where(
            Interaction.kind == "message_out")).scalars().all()
        assert len(replies) == 1 and replies[0].delivery_status == "queued"


def test_a_redelivery_after_the_replay_changes_nothing(down_app, make_app, telegram_settings):
    update = message(6000, "Один раз")
    post_update(down_app.test_client(), update)
    good = make_app(**telegram_settings)
    assert spool.replay_all(good).done == 1
    assert post_update(good.test_client(), update).status_code == 200
    with good.app_context():
        assert db.session.execute(select(func.count(Interaction.id)).where(
            Interaction.kind == "message_in")).scalar_one() == 1


def test_a_spooled_update_survives_a_secret_rotation(down_app, make_app, telegram_settings):
    post_update(down_app.test_client(), message(6100, "До смены секрета"))
    rotated = make_app(**{**telegram_settings, "TELEGRAM_WEBHOOK_SECRET": "a-new-secret"})
    assert spool.replay_all(rotated).done == 1


def test_forged_updates_are_not_spooled(down_app):
    answer = post_update(down_app.test_client(), message(6200, "подделка"), secret="forged")
    assert answer.status_code == 403
    assert spool.pending(down_app) == []
