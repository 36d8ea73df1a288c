"""Encryption key rotation: re-encrypt every encrypted field under the current key.

The encrypted columns are discovered from the metadata (every ``EncryptedText``
column of every table), so a column added later is rotated without a change here.

How it stays safe while the app runs:

- rows are read in batches, keyset-paged by primary key, and each batch is one short
  transaction (committed before the next is read), so no long lock is held;
- values already under the first key (``FieldCipher.is_current``) are skipped, so an
  interrupted run is simply started again;
- each value is written with a Core ``UPDATE … WHERE pk = :pk AND col = :old_token``
  on the table: only that column changes, and only if no one changed it since it was
  read (a concurrent edit already wrote a current-key token; it is left alone). The
  ORM is not used, so ``Case.version`` (the optimistic lock of staff edits) does not
  move: rotation changes no meaning, and an open edit form must not become stale.

Procedure: put the new key FIRST in ``HOTLINE_ENCRYPTION_KEYS`` on every app server
and worker, restart them, run ``flask --app wsgi keys rotate``, then remove the old
key from the list and restart again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import Column, Table, Text, select, type_coerce, update

from hotline import audit
from hotline.crypto import DecryptionError, EncryptedText, FieldCipher, cipher
from hotline.database import rowcount
from hotline.extensions import db
from hotline.logging_setup import log_event

DEFAULT_BATCH_SIZE = 500
log = logging.getLogger(__name__)


class RotationError(RuntimeError):
    """Rotation cannot proceed (e.g. a table without a single-column primary key)."""


@dataclass
class ColumnCount:
    """What rotation saw in one column."""

    values: int = 0
    rotated: int = 0
    already_current: int = 0
    changed_concurrently: int = 0
    undecryptable: int = 0


@dataclass
class RotationReport:
    """Counts per ``table.column``."""

    columns: dict[str, ColumnCount] = field(default_factory=dict)

    @property
    def rotated(self) -> int:
        return sum(c.rotated for c in self.columns.values())

    @property
    def undecryptable(self) -> int:
        return sum(c.undecryptable for c in self.columns.values())


def generate_key() -> str:
    """A new random Fernet key (url-safe base64, 32 bytes)."""
    return Fernet.generate_key().decode("ascii")


def encrypted_columns() -> dict[Table, list[Column]]:
    """Every table of the metadata with its ``EncryptedText`` columns."""
    found: dict[Table, list[Column]] = {}
    for table in db.metadata.sorted_tables:
        columns = [c for c in table.columns if isinstance(c.type, EncryptedText)]
        if columns:
            found[table] = columns
    return found


def _primary_key(table: Table) -> Column:
    keys = list(table.primary_key.columns)
    if len(keys) != 1:
        raise RotationError(f"table {table.name} needs a single-column primary key")
    return keys[0]


def rotate_all(batch_size: int = DEFAULT_BATCH_SIZE) -> RotationReport:
    """Re-encrypt every encrypted value not yet under the first key; commit per batch."""
    report = RotationReport()
    fc = cipher()
    for table, columns in encrypted_columns().items():
        for column in columns:
            report.columns[f"{table.name}.{column.name}"] = ColumnCount()
        _rotate_table(table, columns, fc, batch_size, report)
    audit.record("keys.rotate", actor_label="cli", detail={
        "rotated": report.rotated, "undecryptable": report.undecryptable,
        "columns": {name: count.rotated for name, count in report.columns.items()},
    })
    db.session.commit()
    log_event(log, "keys.rotated", rotated=report.rotated, undecryptable=report.undecryptable)
    return report


def _rotate_table(table: Table, columns: list[Column], fc: FieldCipher, batch_size: int,
                  report: RotationReport) -> None:
    pk = _primary_key(table)
    # type_coerce to Text: read and write the stored tokens, not the decrypted values.
    raw = [type_coerce(column, Text()).label(column.name) for column in columns]
    last = None
    while True:
        stmt = select(pk, *raw).order_by(pk).limit(batch_size)
        if last is not None:
            stmt = stmt.where(pk > last)
        rows = db.session.execute(stmt).all()
        if not rows:
            db.session.rollback()
            return
        for row in rows:
            for column in columns:
                _rotate_value(table, pk, column, row[0], getattr(row, column.name), fc,
                              report.columns[f"{table.name}.{column.name}"])
        last = rows[-1][0]
        db.session.commit()


def _rotate_value(table: Table, pk: Column, column: Column, key: object, token: str | None,
                  fc: FieldCipher, count: ColumnCount) -> None:
    if token is None:
        return
    count.values += 1
    try:
        if fc.is_current(token):
            count.already_current += 1
            return
        new_token = fc.rotate(token)
    except (InvalidToken, DecryptionError, ValueError):
        # No configured key opens it (or it is not a token): leave it, report it.
        count.undecryptable += 1
        return
    result = db.session.execute(
        update(table)
        .where(pk == key, type_coerce(column, Text()) == token)
        .values({column.name: type_coerce(new_token, Text())})
    )
    if rowcount(result) == 1:
        count.rotated += 1
    else:
        count.changed_concurrently += 1
