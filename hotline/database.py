"""Engine set-up for the two supported databases.

SQLite: WAL journal, foreign keys, a busy timeout, and ``BEGIN IMMEDIATE`` for every
transaction, so concurrent writers queue for the lock instead of failing half-way
(pysqlite's own transaction handling is switched off, as SQLAlchemy's docs advise,
which also makes savepoints work). ``secure_delete`` makes SQLite overwrite deleted
and replaced content with zeros, so a retention purge does not leave the old
ciphertext in free pages of the file. PostgreSQL needs nothing special here.

Both engines hide bound parameters from SQLAlchemy's log lines and exception
messages (``hide_parameters``): a logged statement or error never carries data.
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import event
from sqlalchemy.engine import CursorResult, Engine, Result
from werkzeug.routing import IntegerConverter, Map

SQLITE_BUSY_TIMEOUT_MS = 30_000
# Primary keys are PostgreSQL ``integer`` columns; a larger id in a URL is a 404.
MAX_ROW_ID = 2**31 - 1


class RowIdConverter(IntegerConverter):
    """The app's ``<int:…>`` URL converter: ids above ``MAX_ROW_ID`` do not match, so
    PostgreSQL never sees an out-of-range id (which it refuses with an error: a 500)."""

    def __init__(self, url_map: Map, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", MAX_ROW_ID)
        super().__init__(url_map, *args, **kwargs)


def engine_options(database_uri: str) -> dict:
    """Engine keyword arguments suited to the database in ``database_uri``."""
    if database_uri.startswith("sqlite"):
        return {"connect_args": {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000,
                                 "check_same_thread": False},
                "hide_parameters": True}
    return {"pool_pre_ping": True, "pool_size": 10, "max_overflow": 10,
            "hide_parameters": True}


def configure_engine_events(engine: Engine) -> None:
    """Attach the SQLite connection and transaction hooks (no-op on PostgreSQL)."""
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA secure_delete=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def rowcount(result: Result[Any]) -> int:
    """Rows an UPDATE, DELETE or INSERT matched (``Session.execute`` types its result as a
    plain ``Result``; for these statements it is a ``CursorResult``)."""
    return cast(CursorResult[Any], result).rowcount or 0
