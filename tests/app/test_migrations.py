"""The migrations build the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from hotline.extensions import db

# Migration 0026's index over an expression (the delay to first response, written per
# dialect): the models do not declare it (SQLite reflection skips it, see pyproject.toml).
EXPRESSION_INDEXES = frozenset({"ix_cases_first_response"})


def _not_expression_index(obj, name, type_, reflected, compare_to) -> bool:
    return not (type_ == "index" and name in EXPRESSION_INDEXES)


def test_upgrade_matches_the_models(app_ctx):
    """The per-test database was built by ``flask db upgrade``: no drift from the models."""
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True,
                                                        "include_object": _not_expression_index})
        diff = compare_metadata(context, db.metadata)
    assert diff == []


def test_every_model_table_exists_with_its_indexes(app_ctx):
    inspector = inspect(db.engine)
    tables = set(inspector.get_table_names())
    assert set(db.metadata.tables) <= tables
    case_indexes = {ix["name"] for ix in inspector.get_indexes("cases")}
    assert {"ix_cases_status_created", "ix_cases_assigned_status"} <= case_indexes
    assert "alembic_version" in tables


def test_the_unused_settings_table_is_dropped_and_comes_back_on_downgrade(app_ctx):
    """Migration 0026_drop_settings (the ``Setting`` model nothing used)."""
    from flask_migrate import downgrade, upgrade

    def tables() -> set[str]:
        db.session.remove()
        return set(inspect(db.engine).get_table_names())

    assert "settings" not in tables()
    downgrade(revision="0023_drop_settings-1")
    assert "settings" in tables()
    upgrade()
    assert "settings" not in tables()
