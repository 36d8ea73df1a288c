"""Security review, finding 15: a wrong encryption key is caught before anything runs.

Before, the app started with a wrong ``HOTLINE_ENCRYPTION_KEYS``, every decrypting page was
a 500 and new data was written under the wrong key. Now start-up (``import wsgi``, as
gunicorn and every ``flask --app wsgi`` command do) and ``flask db upgrade`` refuse keys
that cannot open the canary row, with one line; ``keys rotate`` re-encrypts the canary.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys

import pytest
from cryptography.fernet import Fernet
from flask_migrate import downgrade, upgrade
from sqlalchemy import Text, select, type_coerce

from hotline.extensions import db
from hotline.intake.service import receive
from hotline.models import KeyCanary
from hotline.ops import canary
from tests.conftest import ENCRYPTION_KEY, INDEX_KEY, ROOT, TEST_AUTH_TOKEN

WRONG = Fernet.generate_key().decode()
REFUSAL = "HOTLINE_ENCRYPTION_KEYS cannot decrypt this database"


def _stored_canary(app) -> str:
    with app.app_context():
        return db.session.execute(select(type_coerce(KeyCanary.value, Text()))).scalar_one()


def test_the_right_key_opens_the_canary(app):
    canary.check(app)  # no exception
    assert canary.opening_key(_stored_canary(app), [ENCRYPTION_KEY]) == 0


def test_a_wrong_key_is_refused_at_start_up(make_app):
    make_app()
    with pytest.raises(canary.KeyCanaryError, match=REFUSAL):
        canary.check(make_app(HOTLINE_ENCRYPTION_KEYS=[WRONG]))


def test_gunicorns_start_stops_with_one_line(database_url, make_app, tmp_path):
    make_app()  # the test database, migrated, with its canary under ENCRYPTION_KEY
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path),
           "HOTLINE_ENV": "production", "DATABASE_URL": database_url,
           "SECRET_KEY": secrets.token_urlsafe(48), "HOTLINE_INDEX_KEY": INDEX_KEY + "xyz",
           "HOTLINE_AUDIT_KEY": secrets.token_urlsafe(48), "TWILIO_AUTH_TOKEN": TEST_AUTH_TOKEN,
           "HOTLINE_ENCRYPTION_KEYS": WRONG}
    done = subprocess.run([sys.executable, "-c", "import wsgi"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 1
    assert len(done.stderr.strip().splitlines()) == 1
    assert done.stderr.strip().startswith(f"hotline: {REFUSAL}")
    env["HOTLINE_ENCRYPTION_KEYS"] = ENCRYPTION_KEY
    ok = subprocess.run([sys.executable, "-c", "import wsgi"], cwd=ROOT, env=env,
                        capture_output=True, text=True, timeout=60, check=False)
    assert ok.returncode == 0, ok.stderr


def test_db_upgrade_with_a_wrong_key_is_refused(make_app):
    make_app()
    wrong = make_app(HOTLINE_ENCRYPTION_KEYS=[WRONG])
    result = wrong.test_cli_runner().invoke(args=["db", "upgrade"])
    assert result.exit_code == 1
    assert REFUSAL in str(result.exception) or REFUSAL in result.output


def test_rotation_keeps_working_and_re_encrypts_the_canary(make_app):
    make_app()
    new_key = Fernet.generate_key().decode()
    both = make_app(HOTLINE_ENCRYPTION_KEYS=[new_key, ENCRYPTION_KEY])
    canary.check(both)  # step 1 of a rotation: the new key first, the old one still there
    assert canary.opening_key(_stored_canary(both), [new_key, ENCRYPTION_KEY]) == 1
    result = both.test_cli_runner().invoke(args=["keys", "rotate"])
    assert result.exit_code == 0, result.output
    assert "key_canary.value: 1 values, 1 rotated" in result.output
    only_new = make_app(HOTLINE_ENCRYPTION_KEYS=[new_key])
    canary.check(only_new)
    assert canary.opening_key(_stored_canary(only_new), [new_key]) == 0
    with pytest.raises(canary.KeyCanaryError):
        canary.check(make_app(HOTLINE_ENCRYPTION_KEYS=[ENCRYPTION_KEY]))


def test_the_migration_refuses_to_seal_data_under_a_wrong_key(app, make_app):
    with app.app_context():
        receive(channel="sms", address="+79160000001", body="под старым ключом",
                external_id="SM1")
        downgrade(revision="0024_audit_hmac_chain")  # a database from before the canary
        db.session.remove()
    wrong = make_app(HOTLINE_ENCRYPTION_KEYS=[WRONG])
    with wrong.app_context(), pytest.raises(SystemExit, match="cannot decrypt the data"):
        upgrade()
    with app.app_context():
        db.session.remove()
        upgrade()  # the right key: the canary is stored
    canary.check(app)
