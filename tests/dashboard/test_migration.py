"""Migration 0015 (queue rank and queue indexes) goes down and up again cleanly."""

from __future__ import annotations

from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect

from hotline.extensions import db
from tests.dashboard_support import get_case, make_case

QUEUE_INDEXES = {"ix_cases_queue", "ix_cases_assignee_queue", "ix_cases_callback_queue"}


def _schema() -> tuple[set[str], set[str]]:
    inspector = inspect(db.engine)
    return ({c["name"] for c in inspector.get_columns("cases")},
            {i["name"] for i in inspector.get_indexes("cases")})


def test_downgrade_and_upgrade_keep_cases_and_recompute_the_rank(app):
    case = make_case(app, status="triaged", urgency="high")
    with app.app_context():
        downgrade(revision="0015_dashboard-1")
        db.session.remove()
        db.engine.dispose()
        columns, indexes = _schema()
        assert "queue_rank" not in columns and not indexes & QUEUE_INDEXES
        upgrade()
        db.engine.dispose()
        columns, indexes = _schema()
        assert "queue_rank" in columns and indexes >= QUEUE_INDEXES
    assert get_case(app, case["id"]).queue_rank == 4
