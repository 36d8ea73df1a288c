"""Caller data is encrypted at rest: the SQLite file holds no number and no message text."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from hotline.extensions import db
from hotline.intake.service import receive

NUMBER = "+821012345678"
BODY_KO = "탈영하고 싶습니다 도와주세요"
BODY_RU = "Хочу сдаться в плен, помогите"


def _database_bytes(app) -> bytes:
    """The database file together with its write-ahead log and shared-memory files."""
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    path = Path(app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///"))
    parts = [path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")]
    return b"".join(p.read_bytes() for p in parts if p.exists())


def test_sqlite_file_holds_no_plaintext_caller_data(app, twilio_post):
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        # On PostgreSQL the same property is checked on the stored column values below.
        with app.app_context():
            rows = db.session.execute(text(
                "SELECT address, address_index FROM callers")).all()
            assert rows == []
    response = twilio_post("/twilio/sms", {"From": NUMBER, "To": "+15005550006",
                                           "Body": BODY_KO, "MessageSid": "SM" + "1" * 32})
    assert response.status_code == 200
    with app.app_context():
        receive(channel="whatsapp", address="whatsapp:+79161234567", body=BODY_RU,
                external_id="SM" + "2" * 32, name="Иван Петров")
        stored = db.session.execute(text(
            "SELECT c.address, c.name, i.body FROM interactions i JOIN cases k "
            "ON k.id = i.case_id JOIN callers c ON c.id = k.caller_id "
            "WHERE i.kind = 'message_in'")).all()
        for address, name, body in stored:
            assert address.startswith("gAAAAA")  # a Fernet token, not the number
            assert body.startswith("gAAAAA")
            assert name is None or name.startswith("gAAAAA")
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        return
    raw = _database_bytes(app)
    for secret in (NUMBER, NUMBER[1:], "1012345678", "+79161234567", "9161234567"):
        assert secret.encode() not in raw
    for secret in (BODY_KO, BODY_RU, "Иван Петров", "탈영", "сдаться"):
        assert secret.encode("utf-8") not in raw
        assert secret.encode("utf-16-le") not in raw
