"""Security review, finding 9: the audit chain is keyed, and its head has a witness outside
the database, so ``flask audit verify`` fails (exit 1) when rows are edited, reordered or
missing at the end, even after an attacker with database access recomputed the chain.
"""

from __future__ import annotations

import hashlib
import json
import threading

from flask_migrate import downgrade, upgrade
from sqlalchemy import select, text

from hotline import audit
from hotline.api.tokens import create_token
from hotline.extensions import db
from hotline.intake.service import receive
from hotline.models import AuditEvent
from tests.conftest import AUDIT_KEY

PARALLEL = 8


def _case_and_token(app) -> tuple[str, str]:
    with app.app_context():
        case = receive(channel="sms", address="+79160000001", body="x", external_id="SM1").case
        token = create_token("audit-test", "staff")[1]
        db.session.commit()
        return case.display_reference, token


def _read_case(app, reference: str, token: str) -> int:
    return app.test_client().get(f"/api/v1/cases/{reference}", headers={
        "Authorization": f"Bearer {token}"}).status_code


def _verify(app):
    return app.test_cli_runner().invoke(args=["audit", "verify"])


def _rows(app) -> list[AuditEvent]:
    with app.app_context():
        rows = db.session.execute(select(AuditEvent).order_by(AuditEvent.id)).scalars().all()
        db.session.expunge_all()
        return rows


def _audited_requests(app, n: int = 4) -> None:
    reference, token = _case_and_token(app)
    for _ in range(n):
        assert _read_case(app, reference, token) == 200


def test_an_intact_chain_verifies_and_the_witness_holds_its_head(app):
    _audited_requests(app)
    result = _verify(app)
    assert result.exit_code == 0 and "intact" in result.output
    last = _rows(app)[-1]
    with app.app_context():
        assert audit.read_witness(audit.witness_path()) == (last.id, last.hash)


def test_deleting_the_newest_rows_is_detected(app):
    _audited_requests(app)
    with app.app_context():
        newest = db.session.execute(select(AuditEvent.id).order_by(AuditEvent.id.desc())
                                    .limit(2)).scalars().all()
        db.session.execute(text("DELETE FROM audit_events WHERE id IN (:a, :b)"),
                           {"a": newest[0], "b": newest[1]})
        db.session.commit()
    result = _verify(app)
    assert result.exit_code == 1 and "rows missing at the end" in result.output


def _recompute_unkeyed(app, edit) -> None:
    """What an attacker with database access did before: edit, then rebuild the chain."""
    with app.app_context():
        prev = audit.GENESIS_HASH
        rows = db.session.execute(select(AuditEvent).order_by(AuditEvent.id)).scalars().all()
        edit(rows)
        for row in rows:
            payload = audit.canonical_payload(row.created_at, row.actor_label, row.action,
                                              row.case_id, row.detail or {})
            row.prev_hash = prev
            row.hash = prev = hashlib.sha256((prev + payload).encode()).hexdigest()
        db.session.commit()


def test_an_edited_row_is_detected_even_after_the_chain_is_rebuilt_without_the_key(app):
    _audited_requests(app)

    def edit(rows):
        rows[1].actor_label = "someone else"

    _recompute_unkeyed(app, edit)
    result = _verify(app)
    assert result.exit_code == 1 and "HMAC mismatch" in result.output


def test_a_chain_rebuilt_with_a_guessed_key_is_detected(app):
    _audited_requests(app)
    with app.app_context():
        prev = audit.GENESIS_HASH
        for row in db.session.execute(select(AuditEvent).order_by(AuditEvent.id)).scalars():
            row.detail = {**(row.detail or {}), "bodies": False}
            row.prev_hash = prev
            row.hash = prev = audit.chain_hash("guessed", prev, audit.canonical_payload(
                row.created_at, row.actor_label, row.action, row.case_id, row.detail))
        db.session.commit()
    assert _verify(app).exit_code == 1


def test_reordered_rows_are_detected(app):
    _audited_requests(app)
    rows = _rows(app)
    first, second = rows[1], rows[2]
    with app.app_context():
        # Swap the two rows' whole content (each keeps a valid HMAC of its own).
        for target, source in ((first.id, second), (second.id, first)):
            db.session.execute(text(
                "UPDATE audit_events SET action = :action, detail = :detail, created_at = :at,"
                " prev_hash = :prev, hash = :hash WHERE id = :id"), {
                "action": source.action, "detail": json.dumps(source.detail),
                "at": source.created_at, "prev": source.prev_hash,
                "hash": f"tmp-{target}", "id": target})
        for target, source in ((first.id, second), (second.id, first)):
            db.session.execute(text("UPDATE audit_events SET hash = :hash WHERE id = :id"),
                               {"hash": source.hash, "id": target})
        db.session.commit()
    result = _verify(app)
    assert result.exit_code == 1 and "link to the previous row broken" in result.output


def test_parallel_appends_do_not_fork_the_chain(app):
    reference, token = _case_and_token(app)
    before = len(_rows(app))
    barrier = threading.Barrier(PARALLEL)
    statuses: list[int] = []

    def read() -> None:
        barrier.wait(timeout=30)
        statuses.append(_read_case(app, reference, token))

    threads = [threading.Thread(target=read) for _ in range(PARALLEL)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert statuses == [200] * PARALLEL
    rows = _rows(app)
    assert len(rows) == before + PARALLEL
    assert len({row.prev_hash for row in rows}) == len(rows)  # no two rows share a parent
    assert _verify(app).exit_code == 0
    with app.app_context():
        assert audit.read_witness(audit.witness_path()) == (rows[-1].id, rows[-1].hash)


def test_the_witness_path_is_configurable(make_app, tmp_path):
    path = tmp_path / "elsewhere" / "witness.json"
    app = make_app(HOTLINE_AUDIT_WITNESS=str(path))
    _audited_requests(app, 1)
    assert json.loads(path.read_text())["id"] == _rows(app)[-1].id
    path.unlink()
    result = _verify(app)
    assert result.exit_code == 1 and "no audit witness" in result.output


def test_a_lost_witness_write_is_reported_not_failed(app):
    _audited_requests(app, 2)
    rows = _rows(app)
    with app.app_context():
        audit.write_witness(audit.witness_path(), rows[-2].id, rows[-2].hash, force=True)
    result = _verify(app)
    assert result.exit_code == 0 and "1 newest events are past the witness" in result.output


def test_rechain_moves_the_chain_to_a_new_key(make_app, tmp_path):
    app = make_app()
    _audited_requests(app, 2)
    new_key = "new-audit-key-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMN"
    old_file = tmp_path / "old-key"
    old_file.write_text(AUDIT_KEY)
    rotated = make_app(HOTLINE_AUDIT_KEY=new_key)
    assert _verify(rotated).exit_code == 1  # the old chain does not verify under the new key
    result = rotated.test_cli_runner().invoke(args=["audit", "rechain", "--old-key-file",
                                                    str(old_file)])
    assert result.exit_code == 0, result.output
    assert _verify(rotated).exit_code == 0
    assert _rows(rotated)[-1].action == "audit.rechained"
    wrong = tmp_path / "wrong"
    wrong.write_text("not-the-old-key")
    refused = rotated.test_cli_runner().invoke(args=["audit", "rechain", "--old-key-file",
                                                     str(wrong)])
    assert refused.exit_code != 0 and "not intact under the old key" in refused.output


def test_the_migration_keys_the_existing_chain_and_keeps_evidence_of_a_break(app):
    _audited_requests(app, 3)
    with app.app_context():
        downgrade(revision="0023_drop_settings")  # back to the unkeyed SHA-256 chain
        db.session.remove()
        # Someone edited a legacy row without fixing the chain.
        db.session.execute(text("UPDATE audit_events SET actor_label = 'x' WHERE id = 2"))
        db.session.commit()
        db.session.remove()
        upgrade()
        db.session.remove()
    assert _verify(app).exit_code == 0
    last = _rows(app)[-1]
    assert last.action == "audit.rechained"
    assert last.detail["legacy_chain"] == "broken at event 2" and last.detail["rows"] == 3


def test_an_unwritable_witness_does_not_fail_the_request_and_verify_reports_it(
        make_app, tmp_path):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    app = make_app(HOTLINE_AUDIT_WITNESS=str(blocker / "witness"))
    _audited_requests(app, 1)  # the API read answered 200 and was audited
    assert len(_rows(app)) == 1
    result = _verify(app)
    assert result.exit_code == 1 and "no audit witness" in result.output
