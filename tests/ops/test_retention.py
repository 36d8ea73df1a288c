"""Retention purge: identifying data of old closed cases is gone, counts stay."""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Text, select, text, type_coerce
from twilio.http import HttpClient
from twilio.http.response import Response as TwilioResponse

from hotline.extensions import db
from hotline.intake.service import receive
from hotline.models import AuditEvent, Caller, Case, Interaction, MessageStatusEvent, utcnow
from hotline.ops import retention
from hotline.reports.queries import StatsFilter, case_stats

ACCOUNT = "AC" + "0" * 32
OLD_NUMBER, RECENT_NUMBER, BUSY_NUMBER = "+79161230001", "+79161230002", "+79161230003"
OLD_TEXT = "Я хочу сдаться, позывной Сокол"
RECORDING_SID = "RE" + "ab" * 16
MESSAGE_SID = "MM" + "cd" * 16
MEDIA_SID = "ME" + "ef" * 16
MEDIA_URL = (f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT}/Messages/{MESSAGE_SID}"
             f"/Media/{MEDIA_SID}")
RECORDING_URL = f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT}/Recordings/{RECORDING_SID}"
OUT_SID = "SM" + "12" * 16


class RecordingHttpClient(HttpClient):
    """Twilio's HTTP layer for tests: records each request, answers ``status``; no network."""

    def __init__(self, status: int = 204) -> None:
        super().__init__(logging.getLogger("tests.twilio"), is_async=False)
        self.status = status
        self.requests: list[tuple[str, str]] = []

    def request(self, method, uri, params=None, data=None, headers=None,
                auth=None, timeout=None, allow_redirects=False) -> TwilioResponse:
        self.requests.append((method, uri))
        if self.status == 204:
            return TwilioResponse(204, "")
        body = json.dumps({"code": 20000 + self.status, "message": "x", "status": self.status})
        return TwilioResponse(self.status, body)


@pytest.fixture
def twilio_http() -> RecordingHttpClient:
    return RecordingHttpClient()


@pytest.fixture
def rapp(make_app, twilio_http):
    """An app whose Twilio client talks to the recording HTTP layer."""
    return make_app(TWILIO_ACCOUNT_SID=ACCOUNT, TWILIO_HTTP_CLIENT=twilio_http)


def _case(number: str, body: str, sid: str, *, closed_days_ago: int | None,
          meta: dict | None = None) -> int:
    result = receive(channel="sms", address=number, body=body, external_id=sid,
                     meta=meta or {}, name="Ivan Petrov")
    case = result.case
    case.created_at = utcnow() - timedelta(days=(closed_days_ago or 0) + 10)
    case.first_response_at = case.created_at + timedelta(minutes=7)
    case.category, case.language, case.region = "surrender", "ru", "Belgorod"
    case.followup_hash = f"$argon2id$v=19$m=8,t=1,p=1$followup{case.id:04d}"
    if closed_days_ago is not None:
        case.status, case.resolution = "closed", "handed_over"
        case.closed_at = utcnow() - timedelta(days=closed_days_ago)
    db.session.commit()
    return case.id


def _seed() -> dict[str, int]:
    """An old closed case full of data, a recently closed one, and a caller still active."""
    old = _case(OLD_NUMBER, OLD_TEXT, "SM" + "01" * 16, closed_days_ago=100,
                meta={"media": [{"url": MEDIA_URL, "content_type": "image/jpeg"}]})
    db.session.add_all([
        Interaction(case_id=old, kind="voicemail", channel="voice", external_id=RECORDING_SID,
                    body="transcript: meet me at the bridge",
                    meta={"recording_url": RECORDING_URL, "duration": 42,
                          "status": "completed", "from": OLD_NUMBER}),
        Interaction(case_id=old, kind="note", body="Staff note: brother in unit 1234"),
        Interaction(case_id=old, kind="message_out", channel="sms", external_id=OUT_SID,
                    body="We received your message", delivery_status="failed",
                    last_error=f"21211 The 'To' number {OLD_NUMBER} is not valid",
                    meta={"reason": "caller_contact"}),
        MessageStatusEvent(message_sid=OUT_SID, status="failed", error_code="21211"),
    ])
    db.session.commit()
    recent = _case(RECENT_NUMBER, "recent message", "SM" + "02" * 16, closed_days_ago=5)
    busy_old = _case(BUSY_NUMBER, "old message of an active caller", "SM" + "03" * 16,
                     closed_days_ago=60)
    # The same caller writes again: a new open case, so the caller must stay reachable.
    busy_open = receive(channel="sms", address=BUSY_NUMBER, body="new message",
                        external_id="SM" + "04" * 16).case.id
    assert busy_open != busy_old
    return {"old": old, "recent": recent, "busy_old": busy_old, "busy_open": busy_open}


def _raw_secrets(case_id: int) -> list[str]:
    """Stored tokens and clear identifiers of one case, as they sit in the database."""
    found: list[str] = []
    for item in db.session.execute(
        select(type_coerce(Interaction.__table__.c.body, Text()))
        .where(Interaction.case_id == case_id)
    ).scalars():
        if item:
            found.append(item)
    case = db.session.get(Case, case_id)
    caller = Caller.__table__
    row = db.session.execute(
        select(type_coerce(caller.c.address, Text()), type_coerce(caller.c.name, Text()),
               caller.c.address_index).where(caller.c.id == case.caller_id)).one()
    found += [v for v in row if v]
    found += [db.session.execute(select(type_coerce(Case.__table__.c.region, Text()))
                                 .where(Case.id == case_id)).scalar_one()]
    return found


def _stats() -> dict:
    now = utcnow()
    result = case_stats(StatsFilter(since=now - timedelta(days=400), until=now)).as_api()
    db.session.rollback()
    return result


def _all_rows_as_text() -> str:
    """Every row of every table, as the database returns it (a logical dump)."""
    parts = []
    for table in db.metadata.sorted_tables:
        parts += [repr(tuple(r)) for r in db.session.execute(text(f'SELECT * FROM "{table.name}"'))]  # noqa: S608 - table names come from our metadata
    db.session.rollback()
    return "\n".join(parts)


def test_purge_removes_identifying_data_and_keeps_counts(rapp, twilio_http) -> None:
    with rapp.app_context():
        ids = _seed()
        secrets = _raw_secrets(ids["old"])
        busy_secrets = _raw_secrets(ids["busy_old"])
        stats_before = _stats()
        plain = [OLD_TEXT, OLD_NUMBER, MESSAGE_SID, MEDIA_SID, RECORDING_SID, OUT_SID,
                 f"followup{ids['old']:04d}"]
        dump = _all_rows_as_text()
        assert all(s in dump for s in secrets + [MESSAGE_SID, RECORDING_SID, OUT_SID])
        db.session.remove()

    result = rapp.test_cli_runner().invoke(args=["retention", "purge", "--older-than", "30"])
    assert result.exit_code == 0, result.output
    assert "purged 2 cases" in result.output
    assert "1 caller identities, 1 recordings, 1 media files" in result.output

    assert sorted(twilio_http.requests) == sorted([
        ("DELETE", f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT}/Recordings/"
                   f"{RECORDING_SID}.json"),
        ("DELETE", f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT}/Messages/"
                   f"{MESSAGE_SID}/Media/{MEDIA_SID}.json"),
    ])

    with rapp.app_context():
        dump = _all_rows_as_text()
        for value in secrets + plain + busy_secrets[:1]:
            assert value not in dump
        old = db.session.get(Case, ids["old"])
        assert old.purged_at is not None and old.region is None and old.followup_hash is None
        assert (old.status, old.resolution, old.category, old.language, old.channel) == (
            "closed", "handed_over", "surrender", "ru", "sms")
        assert old.caller.address is None and old.caller.address_index is None
        assert old.caller.name is None
        items = {i.kind: i for i in old.interactions}
        assert all(i.body is None and i.external_id is None for i in old.interactions)
        # Only what each kind declares survives (cases.timeline.KINDS).
        assert items["voicemail"].meta == {"duration": 42, "purged": True}
        assert items["message_in"].meta == {"purged": True}
        assert items["message_out"].meta == {"purged": True}
        assert items["message_out"].last_error is None
        assert db.session.execute(select(MessageStatusEvent)).first() is None

        recent = db.session.get(Case, ids["recent"])
        assert recent.purged_at is None and recent.region == "Belgorod"
        assert recent.caller.address == RECENT_NUMBER
        assert recent.interactions[0].body == "recent message"
        # The active caller keeps their identity; their old case text is gone.
        busy = db.session.get(Case, ids["busy_old"])
        assert busy.purged_at is not None and busy.interactions[0].body is None
        assert busy.caller.address == BUSY_NUMBER

        assert _stats() == stats_before
        audit = db.session.execute(select(AuditEvent).where(
            AuditEvent.action == "retention.purge")).scalar_one()
        # 6: the old message's keyword rule added the system's urgency entry (no text).
        assert audit.detail == {"days": 30, "cases": 2, "interactions": 6, "bodies": 5,
                                "callers": 1}

        # A purged case is never reopened: the same number now starts afresh.
        fresh = receive(channel="sms", address=OLD_NUMBER, body="hello again",
                        external_id="SM" + "05" * 16)
        assert fresh.case_opened and fresh.case.id != ids["old"]
        assert fresh.case.caller_id != old.caller_id


def test_purged_data_is_gone_from_the_sqlite_file(rapp) -> None:
    with rapp.app_context():
        if db.engine.dialect.name != "sqlite":
            # PostgreSQL: the logical check above applies; disk pages are a documented risk.
            assert db.engine.dialect.name == "postgresql"
            return
        ids = _seed()
        secrets = _raw_secrets(ids["old"])
        path = Path(db.engine.url.database)
        db.session.remove()
    with rapp.app_context():
        retention.checkpoint_sqlite()
    before = path.read_bytes()
    needles = [s.encode() for s in secrets] + [MESSAGE_SID.encode(), RECORDING_SID.encode()]
    assert all(n in before for n in needles)

    result = rapp.test_cli_runner().invoke(args=["retention", "purge", "--older-than", "30"])
    assert result.exit_code == 0, result.output
    assert "VACUUM" in result.output
    data = path.read_bytes()
    wal = path.with_name(path.name + "-wal")
    if wal.exists():
        data += wal.read_bytes()
    for needle in needles + [OLD_TEXT.encode(), OLD_NUMBER.encode()]:
        assert needle not in data


def test_dry_run_changes_nothing(rapp, twilio_http) -> None:
    with rapp.app_context():
        _seed()
        dump = _all_rows_as_text()
    result = rapp.test_cli_runner().invoke(
        args=["retention", "purge", "--older-than", "30", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert ("would purge 2 cases" in result.output
            and "6 interactions (5 with text), 1 caller identities, 1 recordings, "
                "1 media files" in result.output)
    assert twilio_http.requests == []
    with rapp.app_context():
        assert _all_rows_as_text() == dump


def test_retention_days_setting_is_the_default(make_app, twilio_http) -> None:
    unset = make_app(TWILIO_ACCOUNT_SID=ACCOUNT, TWILIO_HTTP_CLIENT=twilio_http)
    result = unset.test_cli_runner().invoke(args=["retention", "purge"])
    assert result.exit_code == 1 and "RETENTION_DAYS is not set" in result.output
    too_short = unset.test_cli_runner().invoke(args=["retention", "purge", "--older-than", "0"])
    assert too_short.exit_code == 1 and "at least 1 day" in too_short.output

    configured = make_app(TWILIO_ACCOUNT_SID=ACCOUNT, TWILIO_HTTP_CLIENT=twilio_http,
                          RETENTION_DAYS=80)
    with configured.app_context():
        ids = _seed()
    result = configured.test_cli_runner().invoke(args=["retention", "purge"])
    assert "purged 1 cases" in result.output  # only the case closed 100 days ago
    with configured.app_context():
        assert db.session.get(Case, ids["old"]).purged_at is not None
        assert db.session.get(Case, ids["busy_old"]).purged_at is None


def test_twilio_failure_keeps_the_case_for_the_next_run(rapp, twilio_http) -> None:
    twilio_http.status = 500
    with rapp.app_context():
        ids = _seed()
    result = rapp.test_cli_runner().invoke(args=["retention", "purge", "--older-than", "30"])
    assert result.exit_code == 0
    assert "purged 1 cases" in result.output and "twilio_error: 1" in result.output
    with rapp.app_context():
        assert db.session.get(Case, ids["old"]).purged_at is None
        assert db.session.get(Case, ids["old"]).interactions[0].body == OLD_TEXT

    twilio_http.status = 404  # gone already at Twilio: fine
    result = rapp.test_cli_runner().invoke(args=["retention", "purge", "--older-than", "30"])
    assert "purged 1 cases" in result.output and "0 recordings" in result.output
    with rapp.app_context():
        assert db.session.get(Case, ids["old"]).purged_at is not None


def test_without_twilio_credentials_cases_with_recordings_wait(make_app) -> None:
    app = make_app()
    with app.app_context():
        ids = _seed()
    result = app.test_cli_runner().invoke(args=["retention", "purge", "--older-than", "30"])
    assert "twilio_not_configured: 1" in result.output
    with app.app_context():
        assert db.session.get(Case, ids["old"]).purged_at is None


def test_scrub_meta_keeps_only_what_the_kind_declares() -> None:
    meta = {"from": "+79161234567", "to": "closed", "reason": "caller_contact",
            "url": RECORDING_URL, "duration": 3, "auto_reply": True, "name": "ivan",
            "reason2": "ivan", "nested": {"a": 1}, "digits": "1"}
    assert retention.scrub_meta("status_change", meta) == {
        "to": "closed", "reason": "caller_contact", "purged": True}
    # A status change's "from" is a status; a phone number there is not kept.
    assert retention.scrub_meta("status_change", {"from": "new"})["from"] == "new"
    assert retention.scrub_meta("call", {**meta, "call_status": "completed",
                                         "answered_by": 7, "voicemail": "RE" + "1" * 32}) == {
        "duration": 3, "call_status": "completed", "answered_by": 7, "purged": True}
    changes = {"changes": {"category": [None, "surrender"], "note": ["ivan", "+7916"]}}
    assert retention.scrub_meta("classification_change", changes) == {"purged": True}
    assert retention.scrub_meta("no_such_kind", meta) == {"purged": True}
