"""The share of first responses within target, per urgency and per channel (issue 13).

The rule: a case is judged by the urgency it had when its first response left (stamped
by a trigger as ``first_response_at`` is set), against that urgency's target; a response
exactly on the target is within it. Shown on the report page (``#within-target``), in
``/api/v1/stats`` and per case in the CSV, all from the roll-up.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, time, timedelta

from sqlalchemy import select, update

from hotline.api.tokens import create_token
from hotline.cases.references import format_reference, new_reference
from hotline.extensions import db
from hotline.models import Caller, Case
from hotline.reports import rollup
from tests.conftest import login_as

# letter: channel, urgency when answered, seconds to the first response, urgency after
CASES = {
    "A": ("sms", "immediate", 300, None),        # exactly on target: within
    "B": ("sms", "immediate", 301, None),        # a second late
    "C": ("voice", "high", 1801, None),          # late
    "D": ("voice", "high", 60, None),
    "E": ("whatsapp", "normal", 600, "immediate"),  # raised after the answer: still within
    "F": ("web", "immediate", 200, "normal"),    # lowered after: still judged immediate
    "G": ("sms", "normal", None, None),          # not answered: not counted
}


def _seed(app) -> dict[str, int]:
    now = datetime.now(UTC)
    ids = {}
    with app.app_context():
        for index, (letter, (channel, urgency, _seconds, _later)) in enumerate(CASES.items()):
            at = now - timedelta(hours=3, minutes=index)
            caller = Caller(address_kind="phone", address_index=f"wt-{index}",
                            address=f"+7916000000{index}", first_seen=at, last_seen=at)
            case = Case(reference=new_reference(), caller=caller, channel=channel,
                        status="in_progress", urgency=urgency, language="ru",
                        created_at=at, updated_at=at)
            db.session.add(case)
            db.session.flush()
            ids[letter] = case.id
        db.session.commit()
        # The first responses leave (an UPDATE, as a reply's delivery report writes it),
        # then some urgencies change.
        for letter, (_channel, _urgency, seconds, later) in CASES.items():
            case = db.session.get(Case, ids[letter])
            if seconds is not None:
                db.session.execute(update(Case).where(Case.id == case.id).values(
                    first_response_at=case.created_at + timedelta(seconds=seconds)))
                db.session.commit()
            if later is not None:
                db.session.execute(update(Case).where(Case.id == case.id)
                                   .values(urgency=later))
                db.session.commit()
    return ids


def _cells(html: str, table_id: str) -> dict[str, tuple[int, int, str]]:
    table = re.search(rf'<table id="{table_id}">(.*?)</table>', html, re.S).group(1)
    out = {}
    for key, row in re.findall(r'<tr data-key="([^"]+)">(.*?)</tr>', table, re.S):
        answered = re.search(r'class="answered">([^<]*)<', row).group(1)
        within = re.search(r'class="within">([^<]*)<', row).group(1)
        share = re.search(r'class="share">([^<]*)<', row).group(1)
        out[key] = (int(answered), int(within), share)
    return out


def test_within_target_per_urgency_and_channel_on_page_api_and_csv(app, make_user):
    ids = _seed(app)
    with app.app_context():
        stamped = dict(db.session.execute(select(Case.id, Case.first_response_urgency)).all())
        assert rollup.differences() == {"report_days": [], "report_facts": []}
    assert stamped[ids["E"]] == "normal" and stamped[ids["F"]] == "immediate"
    assert stamped[ids["G"]] is None
    client = app.test_client()
    login_as(client, make_user("supervisor"))
    html = client.get("/reports/?range=30d").get_data(as_text=True)
    assert 'id="within-target"' in html
    by_urgency = _cells(html, "within-target-urgency")
    assert by_urgency == {"immediate": (3, 2, "67 %"), "high": (2, 1, "50 %"),
                          "normal": (1, 1, "100 %"), "total": (6, 4, "67 %")}
    by_channel = _cells(html, "within-target-channel")
    assert by_channel == {"sms": (2, 1, "50 %"), "whatsapp": (1, 1, "100 %"),
                          "voice": (2, 1, "50 %"), "web": (1, 1, "100 %"),
                          "total": (6, 4, "67 %")}
    with app.app_context():
        _token, secret = create_token("within-target", "stats")
        db.session.commit()
    api = app.test_client().get("/api/v1/stats",
                                headers={"Authorization": f"Bearer {secret}"}).get_json()
    within = api["first_response_within_target"]
    assert within["target_seconds"] == {"immediate": 300, "high": 1800, "normal": 14400}
    assert within["by_urgency"]["immediate"] == {"answered": 3, "within_target": 2}
    assert within["by_channel"]["voice"] == {"answered": 2, "within_target": 1}
    rows = list(csv.DictReader(io.StringIO(
        client.get("/reports/export.csv?range=30d").get_data(as_text=True))))
    with app.app_context():
        refs = {letter: format_reference(db.session.get(Case, case_id).reference)
                for letter, case_id in ids.items()}
    by_ref = {row["reference"]: row for row in rows}
    assert [(by_ref[refs[x]]["response_urgency"], by_ref[refs[x]]["within_target"])
            for x in "ABEFG"] == [("immediate", "yes"), ("immediate", "no"),
                                  ("normal", "yes"), ("immediate", "yes"), ("", "")]


def test_changed_targets_are_reported_by_check_and_followed_by_rebuild(make_app):
    app = make_app(RESPONSE_TARGET_IMMEDIATE_MINUTES=6)
    ids = _seed(app)
    runner = app.test_cli_runner()
    checked = runner.invoke(args=["reports", "check"])
    assert checked.exit_code == 1 and "RESPONSE_TARGET_* settings" in checked.output
    assert runner.invoke(args=["reports", "rebuild"]).exit_code == 0
    assert runner.invoke(args=["reports", "check"]).exit_code == 0
    with app.app_context():
        since = datetime.combine(datetime.now(UTC).date() - timedelta(days=2), time.min, UTC)
        figures = rollup.range_figures(since, since + timedelta(days=4), rollup.Scope())
    # B (301 s) is within a 6-minute target now; so is every immediate answer.
    assert figures.by["within"][("immediate", "sms")] == 2
    assert ids


def test_migration_0035_comes_and_goes_with_the_roll_up_exact(app):
    """Down to 0034 (0026's triggers back, the column and table gone) and up again, with
    answered cases in the roll-up: exact at each step."""
    from flask_migrate import downgrade, upgrade
    from sqlalchemy import inspect

    _seed(app)
    with app.app_context():
        downgrade(revision="0034_unattended")
        db.session.remove()
        assert "first_response_urgency" not in {
            c["name"] for c in inspect(db.engine).get_columns("cases")}
        assert "report_targets" not in inspect(db.engine).get_table_names()
        assert rollup.differences() == {"report_days": [], "report_facts": []}
        db.session.remove()  # (its read would hold locks the upgrade waits for)
        upgrade()
        db.session.remove()
        assert rollup.differences(app.config) == {
            "report_targets": [], "report_days": [], "report_facts": []}
        answered = db.session.execute(select(Case.first_response_urgency).where(
            Case.first_response_at.is_not(None))).scalars().all()
        assert len(answered) == 6 and None not in answered
