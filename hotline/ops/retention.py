"""Retention: remove what identifies people from cases closed long ago.

``purge(days)`` takes every case closed more than ``days`` ago and not yet purged, and:

- deletes its voicemail recordings and MMS media at Twilio (through the REST API) —
  first, so that nothing at Twilio is left without a pointer to it; a case whose
  deletions fail is left untouched and retried by the next run;
- sets every interaction's ``body`` (messages, notes, transcripts) to NULL, clears
  ``external_id`` (the Twilio Sid that points into Twilio's logs) and ``last_error``
  (Twilio error texts can quote the number), and reduces ``meta`` to what each entry
  kind declares it may keep (``cases.timeline.KINDS``: statuses, durations, code
  words): URLs, Sids and anything else are dropped;
- clears ``Case.region``, ``Case.contact_details`` and ``Case.followup_hash`` and sets
  ``Case.purged_at``;
- clears ``Caller.address``, ``address_index`` and ``name`` once the caller has no
  unpurged case left (the caller row stays, anonymous, so cases keep their foreign key);
- deletes the delivery-status rows of the purged messages' Sids.

It keeps status, resolution, channel, language, classification, urgency, assignee and
every date (created, updated, first response, closed), so reports stay right.

Each batch of cases is one short transaction with conditional updates (a case
reopened meanwhile is skipped); the caller rows are locked first, as intake does, so a
caller who writes again during the purge never loses the case just opened. Every batch
is audited with counts, never content. On SQLite the WAL is checkpointed afterwards and
``vacuum_sqlite`` rewrites the file, so the old pages are gone from disk too.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import and_, delete, exists, func, not_, select, update
from twilio.base.exceptions import TwilioException, TwilioRestException

from hotline import audit, twilio_client
from hotline.cases.timeline import scrub_meta
from hotline.channels.web import throttle
from hotline.database import rowcount
from hotline.extensions import db
from hotline.intake import spool
from hotline.logging_setup import log_event
from hotline.models import Caller, Case, Interaction, MessageStatusEvent, utcnow

MIN_RETENTION_DAYS = 1
DEFAULT_BATCH_SIZE = 200

RECORDING_SID = re.compile(r"RE[0-9a-fA-F]{32}")
MEDIA_PATH = re.compile(r"/Messages/((?:MM|SM)[0-9a-fA-F]{32})/Media/(ME[0-9a-fA-F]{32})")

log = logging.getLogger(__name__)


class RetentionError(ValueError):
    """The purge was asked for something unsafe (e.g. fewer than MIN_RETENTION_DAYS)."""


@dataclass
class PurgeReport:
    """What a purge removed (or, in a dry run, would remove). Counts only."""

    days: int
    cutoff: datetime
    dry_run: bool
    cases: int = 0
    interactions: int = 0
    bodies: int = 0
    callers: int = 0
    recordings: int = 0
    media: int = 0
    skipped_cases: int = 0
    skipped_reasons: dict[str, int] = field(default_factory=dict)
    spool_rejected: int = 0
    spool_waiting_old: int = 0

    def counts(self) -> dict[str, Any]:
        """The counts as a plain mapping (for the audit log and the CLI)."""
        return {"days": self.days, "dry_run": self.dry_run, "cases": self.cases,
                "interactions": self.interactions, "bodies": self.bodies,
                "callers": self.callers, "recordings": self.recordings, "media": self.media,
                "skipped_cases": self.skipped_cases, "skipped_reasons": self.skipped_reasons,
                "spool_rejected": self.spool_rejected,
                "spool_waiting_old": self.spool_waiting_old}

    def skip(self, reason: str) -> None:
        self.skipped_cases += 1
        self.skipped_reasons[reason] = self.skipped_reasons.get(reason, 0) + 1


@dataclass
class _CaseWork:
    case_id: int
    caller_id: int
    interactions: list[Any]
    recordings: set[str]
    media: set[tuple[str, str]]


def effective_days(days: int | None) -> int:
    """``days`` or the ``RETENTION_DAYS`` setting; RetentionError when neither is usable."""
    if days is None:
        days = current_app.config.get("RETENTION_DAYS")
    if days is None:
        raise RetentionError("no --older-than given and RETENTION_DAYS is not set")
    if int(days) < MIN_RETENTION_DAYS:
        raise RetentionError(f"the retention period must be at least {MIN_RETENTION_DAYS} day")
    return int(days)


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)


def twilio_resources(external_id: str | None, meta: Any) -> tuple[set[str], set[tuple[str, str]]]:
    """Recording Sids and (message Sid, media Sid) pairs an interaction points to."""
    recordings: set[str] = set()
    media: set[tuple[str, str]] = set()
    for text in [external_id or "", *_strings(meta)]:
        media.update(MEDIA_PATH.findall(text))
        recordings.update(RECORDING_SID.findall(text))
    return recordings, media


def _candidates(cutoff: datetime):
    return and_(Case.status == "closed", Case.closed_at.is_not(None), Case.closed_at < cutoff,
                Case.purged_at.is_(None))


def purge(days: int | None = None, *, dry_run: bool = False,
          batch_size: int = DEFAULT_BATCH_SIZE, now: datetime | None = None) -> PurgeReport:
    """Purge cases closed more than ``days`` ago (default ``RETENTION_DAYS``); see module doc."""
    days = effective_days(days)
    cutoff = (now or utcnow()) - timedelta(days=days)
    report = PurgeReport(days=days, cutoff=cutoff, dry_run=dry_run)
    client = twilio_client.twilio_client() if twilio_client.is_configured() else None
    last_id = 0
    while True:
        batch = _load_batch(cutoff, last_id, batch_size)
        db.session.rollback()  # end the read transaction before any network call
        if not batch:
            break
        last_id = batch[-1].case_id
        if dry_run:
            _count_dry(batch, report)
            continue
        ready = [work for work in batch if _delete_at_twilio(client, work, report)]
        if ready:
            _purge_batch(ready, cutoff, report)
    report.spool_rejected, report.spool_waiting_old = spool.purge_rejected(
        timedelta(days=days).total_seconds(), dry_run=dry_run,
        now=(now or utcnow()).timestamp())
    if dry_run:
        report.callers = _callers_to_clear(cutoff)
        db.session.rollback()
    else:
        throttle.forget_before((now or utcnow()) - timedelta(days=1))
        db.session.commit()
        checkpoint_sqlite()
        log_event(log, "retention.purged", **{k: v for k, v in report.counts().items()
                                              if k != "skipped_reasons"})
    return report


def _load_batch(cutoff: datetime, last_id: int, batch_size: int) -> list[_CaseWork]:
    rows = db.session.execute(
        select(Case.id, Case.caller_id).where(_candidates(cutoff), Case.id > last_id)
        .order_by(Case.id).limit(batch_size)
    ).all()
    if not rows:
        return []
    ids = [row.id for row in rows]
    interactions: dict[int, list[Any]] = {case_id: [] for case_id in ids}
    for item in db.session.execute(
        select(Interaction.id, Interaction.case_id, Interaction.kind, Interaction.external_id,
               Interaction.meta,
               Interaction.body.is_not(None).label("has_body"))
        .where(Interaction.case_id.in_(ids)).order_by(Interaction.id)
    ).all():
        interactions[item.case_id].append(item)
    batch = []
    for row in rows:
        recordings: set[str] = set()
        media: set[tuple[str, str]] = set()
        for item in interactions[row.id]:
            found_recordings, found_media = twilio_resources(item.external_id, item.meta)
            recordings |= found_recordings
            media |= found_media
        batch.append(_CaseWork(row.id, row.caller_id, interactions[row.id], recordings, media))
    return batch


def _count_dry(batch: list[_CaseWork], report: PurgeReport) -> None:
    for work in batch:
        report.cases += 1
        report.interactions += len(work.interactions)
        report.bodies += sum(1 for item in work.interactions if item.has_body)
        report.recordings += len(work.recordings)
        report.media += len(work.media)


def _delete_at_twilio(client, work: _CaseWork, report: PurgeReport) -> bool:
    """Delete the case's recordings and media at Twilio; False leaves the case for later."""
    if not work.recordings and not work.media:
        return True
    if client is None:
        report.skip("twilio_not_configured")
        return False
    deleted_recordings = deleted_media = 0
    try:
        for sid in sorted(work.recordings):
            deleted_recordings += _gone(lambda sid=sid: client.recordings(sid).delete())
        for message_sid, media_sid in sorted(work.media):
            deleted_media += _gone(
                lambda m=message_sid, s=media_sid: client.messages(m).media(s).delete())
    except (TwilioException, OSError) as exc:
        log_event(log, "retention.twilio_failed", logging.WARNING,
                  error=type(exc).__name__, status=getattr(exc, "status", None))
        report.skip("twilio_error")
        return False
    report.recordings += deleted_recordings
    report.media += deleted_media
    return True


def _gone(call) -> int:
    """Run a delete; a 404 means it is gone already (0), success counts 1."""
    try:
        call()
    except TwilioRestException as exc:
        if exc.status == 404:
            return 0
        raise
    return 1


def _purge_batch(batch: list[_CaseWork], cutoff: datetime, report: PurgeReport) -> None:
    now = utcnow()
    caller_ids = sorted({work.caller_id for work in batch})
    # The same lock intake takes (PostgreSQL; SQLite's BEGIN IMMEDIATE serialises anyway).
    db.session.execute(select(Caller.id).where(Caller.id.in_(caller_ids)).with_for_update())
    counts = {"cases": 0, "interactions": 0, "bodies": 0, "callers": 0}
    purged_sids: list[str] = []
    for work in batch:
        result = db.session.execute(
            update(Case.__table__)
            .where(Case.id == work.case_id, _candidates(cutoff))
            .values(region=None, contact_details=None, followup_hash=None, purged_at=now,
                    version=Case.version + 1)
        )
        if rowcount(result) != 1:
            report.skip("changed_meanwhile")
            continue
        counts["cases"] += 1
        for item in work.interactions:
            db.session.execute(
                update(Interaction.__table__).where(Interaction.id == item.id)
                .values(body=None, external_id=None, last_error=None,
                        meta=scrub_meta(item.kind, item.meta))
            )
            counts["interactions"] += 1
            counts["bodies"] += int(bool(item.has_body))
            if item.external_id:
                purged_sids.append(item.external_id)
    if purged_sids:
        db.session.execute(delete(MessageStatusEvent.__table__)
                           .where(MessageStatusEvent.message_sid.in_(purged_sids)))
    unpurged = exists().where(Case.caller_id == Caller.id, Case.purged_at.is_(None))
    result = db.session.execute(
        update(Caller.__table__)
        .where(Caller.id.in_(caller_ids), not_(unpurged),
               Caller.address_index.is_not(None) | Caller.address.is_not(None)
               | Caller.name.is_not(None))
        .values(address=None, address_index=None, name=None)
    )
    counts["callers"] = rowcount(result)
    audit.record("retention.purge", actor_label="retention",
                 detail={"days": report.days, **counts})
    db.session.commit()
    report.cases += counts["cases"]
    report.interactions += counts["interactions"]
    report.bodies += counts["bodies"]
    report.callers += counts["callers"]


def _callers_to_clear(cutoff: datetime) -> int:
    """Dry run: callers whose every unpurged case is a purge candidate."""
    kept = exists().where(Case.caller_id == Caller.id, Case.purged_at.is_(None),
                          not_(_candidates(cutoff)))
    due = exists().where(Case.caller_id == Caller.id, _candidates(cutoff))
    return db.session.execute(
        select(func.count()).select_from(Caller).where(due, not_(kept))
    ).scalar_one()


def checkpoint_sqlite() -> None:
    """SQLite: move the WAL into the main file and truncate it (old page images go)."""
    if db.engine.dialect.name != "sqlite":
        return
    db.session.remove()
    raw = db.engine.raw_connection()
    try:
        raw.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        raw.close()


def vacuum_sqlite() -> bool:
    """SQLite: rebuild the file so freed pages are gone; False on other databases.

    PostgreSQL keeps dead row versions until (auto)vacuum reuses the space; see
    docs/SECURITY.md for ``VACUUM FULL`` and backups.
    """
    if db.engine.dialect.name != "sqlite":
        return False
    db.session.remove()
    raw = db.engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute("VACUUM")
        cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        raw.close()
    return True
