"""The audit log behind the dashboard is tamper-evident: ``flask audit verify`` catches edits."""

from __future__ import annotations

from sqlalchemy import text

from hotline.extensions import db
from tests.conftest import login_as
from tests.dashboard_support import case_url, make_case, post_action


def _work_a_case(app, client, user) -> None:
    case = make_case(app)
    login_as(client, user)
    post_action(client, case["reference"], "claim")
    post_action(client, case["reference"], "note", body="checked")
    client.get(case_url(case["reference"]))


def _verify(app):
    return app.test_cli_runner().invoke(args=["audit", "verify"])


def test_dashboard_work_leaves_an_intact_chain(app, client, make_user):
    _work_a_case(app, client, make_user("staff"))
    result = _verify(app)
    assert result.exit_code == 0, result.output
    assert "audit chain intact" in result.output


def test_an_altered_row_breaks_the_chain(app, client, make_user):
    _work_a_case(app, client, make_user("staff"))
    with app.app_context():
        db.session.execute(text(
            "UPDATE audit_events SET action = 'case.view' WHERE action = 'case.note'"))
        db.session.commit()
    result = _verify(app)
    assert result.exit_code == 1
    assert "BROKEN" in result.output and "altered" in result.output


def test_a_deleted_row_breaks_the_chain(app, client, make_user):
    _work_a_case(app, client, make_user("staff"))
    with app.app_context():
        db.session.execute(text("DELETE FROM audit_events WHERE action = 'case.claim'"))
        db.session.commit()
    result = _verify(app)
    assert result.exit_code == 1
    assert "link to the previous row broken" in result.output
