"""Key rotation: every encrypted field moves to the new key, and the old key can go."""

from __future__ import annotations

from cryptography.fernet import Fernet
from sqlalchemy import Text, select, type_coerce

from hotline.crypto import FieldCipher
from hotline.extensions import db
from hotline.intake.service import receive
from hotline.models import AuditEvent, Caller, Case, Interaction, User
from hotline.ops import keys
from tests.conftest import ENCRYPTION_KEY, INDEX_KEY

NUMBERS = ["+79161234501", "+79161234502", "+79161234503"]
TEXTS = ["Хочу сдаться", "Мой сын в армии", "I need help, unit 12"]


def _seed(app, make_user) -> dict:
    """Cases through the intake service, a note, a region, a user's TOTP secret and phone."""
    make_user("staff", email="rot@hotline.test", totp_secret="JBSWY3DPEHPK3PXP",
              phone="+15005550006")
    with app.app_context():
        for i, (number, text) in enumerate(zip(NUMBERS, TEXTS, strict=True)):
            result = receive(channel="sms", address=number, body=text,
                             external_id=f"SM{i:032d}", name=f"Caller {i}")
            result.case.region = f"Region {i}"
            db.session.add(Interaction(case=result.case, kind="note", body=f"note {i}"))
            db.session.commit()
        return _plain()


def _plain() -> dict:
    """Every decrypted value, keyed so two reads can be compared."""
    values = {}
    for caller in db.session.execute(select(Caller)).scalars():
        values[("caller", caller.id)] = (caller.address, caller.name)
    for case in db.session.execute(select(Case)).scalars():
        values[("case", case.id)] = (case.region, case.version)
    for item in db.session.execute(select(Interaction)).scalars():
        values[("interaction", item.id)] = item.body
    for user in db.session.execute(select(User)).scalars():
        values[("user", user.id)] = (user.totp_secret, user.phone)
    db.session.rollback()
    return values


def _raw_tokens() -> list[str]:
    """Every stored token of every encrypted column, as stored."""
    tokens = []
    for columns in keys.encrypted_columns().values():
        for column in columns:
            tokens += [v for v in db.session.execute(
                select(type_coerce(column, Text()))).scalars() if v is not None]
    db.session.rollback()
    return tokens


def test_encrypted_columns_are_discovered_from_the_metadata(app_ctx) -> None:
    found = {f"{t.name}.{c.name}" for t, cols in keys.encrypted_columns().items() for c in cols}
    assert {"callers.address", "callers.name", "cases.region", "interactions.body",
            "users.totp_secret", "users.phone"} <= found


def test_rotate_then_remove_old_key(app, make_app, make_user) -> None:
    before = _seed(app, make_user)
    new_key = keys.generate_key()
    with app.app_context():
        old_tokens = _raw_tokens()
    assert len(old_tokens) == 3 * 2 + 3 + 6 + 2 + 1  # callers, regions, interactions, user, canary

    both = make_app(HOTLINE_ENCRYPTION_KEYS=[new_key, ENCRYPTION_KEY])
    result = both.test_cli_runner().invoke(args=["keys", "rotate", "--batch-size", "2"])
    assert result.exit_code == 0, result.output
    assert f"rotated {len(old_tokens)} values" in result.output
    assert "interactions.body: 6 values, 6 rotated" in result.output

    only_new = make_app(HOTLINE_ENCRYPTION_KEYS=[new_key])
    with only_new.app_context():
        new_tokens = _raw_tokens()
        assert not set(new_tokens) & set(old_tokens)
        new_cipher = FieldCipher([new_key], INDEX_KEY)
        assert all(new_cipher.is_current(token) for token in new_tokens)
        # Everything decrypts with the new key alone, and Case.version did not move.
        assert _plain() == before
        action = db.session.execute(
            select(AuditEvent.action).order_by(AuditEvent.id.desc()).limit(1)).scalar_one()
        assert action == "keys.rotate"

    again = both.test_cli_runner().invoke(args=["keys", "rotate"])
    assert again.exit_code == 0
    assert "rotated 0 values" in again.output  # resumable: done rows are skipped


def test_rotation_never_overwrites_a_concurrent_edit(app, make_app, make_user) -> None:
    _seed(app, make_user)
    new_key = keys.generate_key()
    both = make_app(HOTLINE_ENCRYPTION_KEYS=[new_key, ENCRYPTION_KEY])
    with both.app_context():
        table = Case.__table__
        case_id, stale = db.session.execute(
            select(table.c.id, type_coerce(table.c.region, Text()))).first()
        case = db.session.get(Case, case_id)
        case.region = "edited meanwhile"  # a staff edit, written under the new key
        db.session.commit()
        count = keys.ColumnCount()
        keys._rotate_value(table, table.c.id, table.c.region, case_id, stale,
                           FieldCipher([new_key, ENCRYPTION_KEY], INDEX_KEY), count)
        db.session.commit()
        assert count.changed_concurrently == 1 and count.rotated == 0
        db.session.expire_all()
        assert db.session.get(Case, case_id).region == "edited meanwhile"


def test_undecryptable_values_are_reported_and_fail_the_command(app, make_user) -> None:
    _seed(app, make_user)
    foreign = Fernet(Fernet.generate_key()).encrypt(b"lost").decode()
    with app.app_context():
        db.session.execute(Interaction.__table__.update()
                           .where(Interaction.__table__.c.id == 1)
                           .values(body=type_coerce(foreign, Text())))
        db.session.commit()
    result = app.test_cli_runner().invoke(args=["keys", "rotate"])
    assert result.exit_code == 1
    assert "1 values open with none of the configured keys" in result.output
    assert "interactions.body: 6 values, 0 rotated, 5 already current" in result.output


def test_generate_prints_a_fernet_key(app) -> None:
    result = app.test_cli_runner().invoke(args=["keys", "generate"])
    assert result.exit_code == 0
    key = result.output.strip()
    Fernet(key)  # raises when it is not a key
    assert key != app.test_cli_runner().invoke(args=["keys", "generate"]).output.strip()
