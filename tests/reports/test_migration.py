"""Migration 0006_reports: the report indexes come and go with upgrade / downgrade."""

from __future__ import annotations

from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect

from hotline.extensions import db

REPORT_INDEXES = {"ix_cases_created_report", "ix_cases_open_created", "ix_cases_closed_report"}


def _indexes() -> set[str]:
    db.session.remove()
    return {index["name"] for index in inspect(db.engine).get_indexes("cases")}


def test_report_indexes_upgrade_and_downgrade(app_ctx):
    assert _indexes() >= REPORT_INDEXES
    downgrade(revision="0006_reports-1")  # just below this migration, wherever it is chained
    assert not REPORT_INDEXES & _indexes()
    upgrade()
    assert _indexes() >= REPORT_INDEXES
