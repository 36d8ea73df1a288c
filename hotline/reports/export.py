"""CSV export of one row per case, streamed in keyset batches.

The export holds case metadata only: no caller numbers or names, no message text, no
region (free text). Cells that a spreadsheet would run as a formula are neutralised.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, func, select, tuple_

from hotline.cases.references import format_reference
from hotline.extensions import db
from hotline.models import Case, Interaction, User
from hotline.reports import rollup
from hotline.reports.queries import StatsFilter

BATCH_SIZE = 1000
COLUMNS = (
    "reference", "created_at", "first_response_at", "closed_at", "updated_at", "channel",
    "language", "status", "resolution", "category", "caller_type", "affiliation", "urgency",
    "callback_needed", "assigned_to", "first_response_seconds", "interactions",
    # Issue 13: the urgency when the first response left, and whether that response came
    # within its target (yes / no; empty when not answered), as the report counts them.
    "response_urgency", "within_target",
)
# A cell starting with one of these is a formula to Excel / LibreOffice / Sheets (OWASP).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "\n")


def safe_cell(value: object) -> str:
    """The cell text, with a leading apostrophe when it could be read as a formula."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    text = str(value)
    if text.startswith(FORMULA_PREFIXES):
        return "'" + text
    return text


def count_rows(flt: StatsFilter) -> int:
    """How many cases the export for ``flt`` holds."""
    return db.session.execute(select(func.count()).where(*flt.conditions())).scalar_one()


def _batch(flt: StatsFilter, after: tuple[datetime, int] | None) -> Sequence[Row[Any]]:
    stmt = (select(Case.id, Case.reference, Case.created_at, Case.first_response_at,
                   Case.closed_at, Case.updated_at, Case.channel, Case.language, Case.status,
                   Case.resolution, Case.category, Case.caller_type, Case.affiliation,
                   Case.urgency, Case.callback_needed, User.email,
                   Case.first_response_urgency)
            .outerjoin(User, User.id == Case.assigned_to_id)
            .where(*flt.conditions())
            .order_by(Case.created_at, Case.id).limit(BATCH_SIZE))
    if after is not None:
        stmt = stmt.where(tuple_(Case.created_at, Case.id) > after)
    return db.session.execute(stmt).all()


def _interaction_counts(case_ids: list[int]) -> dict[int, int]:
    rows = db.session.execute(
        select(Interaction.case_id, func.count()).where(Interaction.case_id.in_(case_ids))
        .group_by(Interaction.case_id))
    return {case_id: count for case_id, count in rows}


def _seconds(created: datetime, responded: datetime | None) -> int | None:
    if responded is None or responded < created:
        return None
    return int((responded - created).total_seconds())


def _judged(row: Row[Any], targets: dict[str, int]) -> tuple[str | None, bool | None]:
    """The urgency a response is judged by and whether it was within target (the
    roll-up's rule, ``hotline.reports.rollup``): None, None when not answered."""
    seconds = (None if row.first_response_at is None or row.first_response_at < row.created_at
               else (row.first_response_at - row.created_at).total_seconds())
    if seconds is None:
        return None, None
    urgency = row.first_response_urgency or row.urgency
    target = targets.get(urgency, targets.get("normal"))
    return urgency, target is not None and round(seconds) <= target


def rows(flt: StatsFilter) -> Iterator[list[str]]:
    """Data rows, oldest case first, ``BATCH_SIZE`` cases per query."""
    targets = rollup.stored_targets()
    after: tuple[datetime, int] | None = None
    while True:
        batch = _batch(flt, after)
        if not batch:
            return
        counts = _interaction_counts([row.id for row in batch])
        for row in batch:
            yield [safe_cell(value) for value in (
                format_reference(row.reference), row.created_at, row.first_response_at,
                row.closed_at, row.updated_at, row.channel, row.language, row.status,
                row.resolution, row.category, row.caller_type, row.affiliation, row.urgency,
                row.callback_needed, row.email, _seconds(row.created_at, row.first_response_at),
                counts.get(row.id, 0), *_judged(row, targets),
            )]
        after = (batch[-1].created_at, batch[-1].id)


def csv_chunks(flt: StatsFilter) -> Iterator[str]:
    """The CSV text (header first), one chunk per batch of rows."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    pending = 0
    for row in rows(flt):
        writer.writerow(row)
        pending += 1
        if pending >= BATCH_SIZE:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
            pending = 0
    yield buffer.getvalue()
