"""Every figure of the report page, the CSV export and /api/v1/stats, on a known mix of cases.

The seed holds seven cases opened inside the range (one exactly on its first instant),
one a second before it, one after it, and one opened long before but closed inside it;
the expected numbers below are counted by hand from that table.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import pytest
from babel.dates import format_datetime
from sqlalchemy import select

from hotline.api.tokens import create_token
from hotline.cases.references import format_reference, new_reference
from hotline.extensions import db
from hotline.models import AuditEvent, Caller, Case, Interaction
from hotline.reports import export
from hotline.reports.queries import StatsFilter, case_stats, report
from tests.conftest import login_as

SECRET_BODY = "please help, my number is +79161234567"
CALLER_NUMBER = "+79161234567"


@dataclass
class Seeded:
    """What the seed made: the range, the moment it was made, references by letter."""

    first_day: date
    last_day: date
    now: datetime
    refs: dict[str, str]
    created: dict[str, datetime]
    users: dict[str, object]

    @property
    def query(self) -> str:
        return f"from={self.first_day.isoformat()}&to={self.last_day.isoformat()}"

    @property
    def filter(self) -> StatsFilter:
        return StatsFilter(
            since=datetime.combine(self.first_day, time.min, UTC),
            until=datetime.combine(self.last_day + timedelta(days=1), time.min, UTC))


def seed_cases(app, make_user) -> Seeded:
    """Insert the known mix (direct model rows) and return what was made."""
    alice = make_user("staff", display_name="Alice Staff", email="alice@hotline.test")
    bob = make_user("staff", display_name="Bob Staff", email="bob@hotline.test")
    supervisor = make_user("supervisor", display_name="Sam Supervisor")
    now = datetime.now(UTC)
    today = now.date()
    first_day, last_day = today - timedelta(days=9), today
    since = datetime.combine(first_day, time.min, UTC)
    until = datetime.combine(last_day + timedelta(days=1), time.min, UTC)
    ago = now.__sub__
    h, d, s = (lambda n: timedelta(hours=n)), (lambda n: timedelta(days=n)), \
        (lambda n: timedelta(seconds=n))
    # letter: created, channel, language, status, resolution, category, affiliation,
    # urgency, first response after (s), closed at, assignee, callback, interactions
    table = {
        "A": (ago(h(0.5)), "sms", "ru", "new", None, "surrender", "russia", "immediate",
              None, None, None, False, 1),
        "B": (ago(h(2)), "voice", "ko", "triaged", None, "conscription", "dprk", "high",
              60, None, alice, True, 2),
        "C": (ago(h(10)), "whatsapp", "uk", "in_progress", None, "relative", "russia",
              "normal", 120, None, alice, False, 3),
        "D": (ago(d(3)), "web", "en", "waiting", None, "information", "other", "normal",
              300, None, bob, True, 1),
        "E": (ago(d(8)), "sms", "ru", "closed", "handed_over", "surrender", "russia",
              "immediate", 30, ago(d(7)), alice, False, 4),
        "F": (ago(d(5)), "sms", "ru", "closed", "referred", "surrender", "russia", "high",
              600, ago(d(1)), bob, False, 2),
        "G": (since, "voice", "ko", "closed", "no_contact", "other", "unknown", "normal",
              None, since + h(1), None, False, 1),
        # outside the range
        "H": (since - s(1), "sms", "ru", "in_progress", None, "surrender", "russia", "normal",
              5, None, alice, True, 1),
        "I": (ago(d(40)), "web", "en", "closed", "information_provided", "information",
              "other", "normal", 50, ago(d(2)), bob, False, 1),
        "J": (until, "sms", "en", "closed", "hoax", "hostile", "other", "normal", 10,
              until + h(1), alice, False, 1),
    }
    refs, created = {}, {}
    with app.app_context():
        for index, (letter, row) in enumerate(table.items()):
            (at, channel, language, status, resolution, category, affiliation, urgency,
             response, closed_at, assignee, callback, interactions) = row
            caller = Caller(address_kind="phone", address_index=f"idx-{index}",
                            address=f"+7916123456{index}", first_seen=at, last_seen=at)
            case = Case(reference=new_reference(), caller=caller, channel=channel,
                        status=status, resolution=resolution, category=category,
                        affiliation=affiliation, urgency=urgency, language=language,
                        caller_type="serviceman", callback_needed=callback,
                        assigned_to_id=assignee.id if assignee else None,
                        created_at=at, updated_at=at, closed_at=closed_at,
                        first_response_at=at + s(response) if response is not None else None)
            db.session.add(case)
            for n in range(interactions):
                db.session.add(Interaction(case=case, kind="message_in", channel=channel,
                                           body=SECRET_BODY, meta={}, created_at=at + s(n)))
            refs[letter], created[letter] = case.reference, at
        db.session.commit()
    return Seeded(first_day, last_day, now, refs, created,
                  {"alice": alice, "bob": bob, "supervisor": supervisor})


@pytest.fixture
def seeded(app, make_user) -> Seeded:
    return seed_cases(app, make_user)


@pytest.fixture
def supervisor_client(app, seeded):
    client = app.test_client()
    login_as(client, seeded.users["supervisor"])
    return client


IN_RANGE = "ABCDEFG"
EXPECTED = {
    "total": 7,
    "by_status": {"new": 1, "triaged": 1, "in_progress": 1, "waiting": 1, "closed": 3},
    "by_category": {"surrender": 3, "conscription": 1, "relative": 1, "information": 1,
                    "other": 1},
    "by_channel": {"sms": 3, "voice": 2, "whatsapp": 1, "web": 1},
    "by_language": {"ru": 3, "ko": 2, "uk": 1, "en": 1},
    "callback_needed": 3,  # B, D and H: the queue now, whenever the case was opened
    "median_first_response_seconds": 120.0,  # of 30, 60, 120, 300, 600
}
EXPECTED_AFFILIATION = {"russia": 4, "dprk": 1, "other": 1, "unknown": 1}
EXPECTED_URGENCY = {"immediate": 2, "high": 2, "normal": 3}
EXPECTED_P90 = 480.0  # percentile_cont: 300 + 0.6 * (600 - 300)
EXPECTED_BACKLOG = {"under_1h": 1, "1h_4h": 1, "4h_24h": 1, "1d_7d": 1, "older": 1}
EXPECTED_RESOLUTIONS = {"handed_over": 1, "referred": 1, "no_contact": 1,
                        "information_provided": 1}
EXPECTED_STAFF = {"Alice Staff": (3, 1), "Bob Staff": (1, 2), "Sam Supervisor": (0, 0),
                  "(unassigned)": (1, 1)}


def expected_days(seeded: Seeded) -> list[dict[str, object]]:
    counts: dict[str, int] = {}
    for letter in IN_RANGE:
        key = seeded.created[letter].date().isoformat()
        counts[key] = counts.get(key, 0) + 1
    days = [seeded.first_day + timedelta(days=n) for n in range(10)]
    return [{"date": day.isoformat(), "count": counts.get(day.isoformat(), 0)} for day in days]


# --- the query layer ----------------------------------------------------------------------

def test_case_stats_counts_the_known_mix(app, seeded):
    with app.app_context():
        stats = case_stats(seeded.filter).as_api()
    assert {key: stats[key] for key in EXPECTED} == EXPECTED
    assert stats["by_day"] == expected_days(seeded)
    assert sum(day["count"] for day in stats["by_day"]) == 7


def test_report_has_every_supervisor_figure(app, seeded):
    with app.app_context():
        data = report(seeded.filter, seeded.now)
    assert data.by_affiliation == EXPECTED_AFFILIATION
    assert data.by_urgency == EXPECTED_URGENCY
    assert data.responded == 5
    assert data.stats.median_first_response_seconds == 120.0
    assert data.p90_first_response_seconds == EXPECTED_P90
    assert {key: count for key, _label, count in data.backlog} == EXPECTED_BACKLOG
    assert data.backlog_total == 5
    assert data.stats.callback_needed == 3
    assert data.callback_oldest == seeded.created["H"]
    assert data.closed_by_resolution == EXPECTED_RESOLUTIONS
    assert {row.name: (row.open_cases, row.closed) for row in data.staff} == EXPECTED_STAFF


def test_filters_apply_to_every_figure(app, seeded):
    flt = seeded.filter
    flt.channel = "sms"
    with app.app_context():
        data = report(flt, seeded.now)
    assert data.stats.total == 3  # A, E, F
    assert data.stats.by_language == {"ru": 3}
    assert data.stats.median_first_response_seconds == 315.0  # of 30 and 600
    assert data.responded == 2
    assert {key: count for key, _l, count in data.backlog} == {
        "under_1h": 1, "1h_4h": 0, "4h_24h": 0, "1d_7d": 0, "older": 1}  # A and H
    assert data.stats.callback_needed == 1  # H
    assert data.closed_by_resolution == {"handed_over": 1, "referred": 1}


def test_no_answered_cases_gives_no_median(app, seeded):
    flt = seeded.filter
    flt.category = "other"  # only G, never answered
    with app.app_context():
        data = report(flt, seeded.now)
    assert data.stats.total == 1
    assert data.stats.median_first_response_seconds is None
    assert data.p90_first_response_seconds is None


# --- the page -----------------------------------------------------------------------------

def _table(html: str, table_id: str) -> dict[str, list[str]]:
    """Rows of the table with ``table_id``: the row's code word (``data-key``, else its
    first cell) -> the other cells."""
    body = re.search(rf'<table id="{table_id}">(.*?)</table>', html, re.S)
    assert body, f"no table {table_id}"
    rows = {}
    for attributes, row in re.findall(r"<tr([^>]*)>(.*?)</tr>", body.group(1), re.S):
        cells = re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, re.S)
        key = re.search(r'data-key="([^"]*)"', attributes)
        rows[key.group(1) if key else cells[0]] = cells[1:]
    return rows


def _counts(html: str, table_id: str) -> dict[str, int]:
    return {key: int(cells[0]) for key, cells in _table(html, table_id).items()
            if cells and cells[0].isdigit()}


def _figure(html: str, figure_id: str) -> str:
    match = re.search(rf'id="{figure_id}">([^<]*)<', html)
    assert match, f"no figure {figure_id}"
    return match.group(1)


def _nonzero(counts: dict[str, int]) -> dict[str, int]:
    return {key: n for key, n in counts.items() if n}


def test_page_shows_every_figure(supervisor_client, seeded):
    response = supervisor_client.get(f"/reports/?{seeded.query}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert _figure(html, "fig-total") == "7"
    assert _figure(html, "fig-backlog") == "5"
    assert _figure(html, "fig-callbacks") == "3"
    assert _figure(html, "fig-callback-oldest") == format_datetime(
        seeded.created["H"], "short", tzinfo=UTC, locale="en") + " UTC"
    assert _figure(html, "fig-median") == "2 min 0 s"
    assert _figure(html, "fig-p90") == "8 min 0 s"
    assert _figure(html, "fig-responded") == "5"
    assert _figure(html, "fig-closed") == "4"
    assert _nonzero(_counts(html, "table-status")) == EXPECTED["by_status"]
    assert _nonzero(_counts(html, "table-category")) == EXPECTED["by_category"]
    assert _nonzero(_counts(html, "table-channel")) == EXPECTED["by_channel"]
    assert _nonzero(_counts(html, "table-language")) == EXPECTED["by_language"]
    assert _nonzero(_counts(html, "table-affiliation")) == EXPECTED_AFFILIATION
    assert _nonzero(_counts(html, "table-urgency")) == EXPECTED_URGENCY
    assert _nonzero(_counts(html, "table-resolution")) == EXPECTED_RESOLUTIONS
    assert _counts(html, "table-day") == {d["date"]: d["count"] for d in expected_days(seeded)}
    backlog = _counts(html, "table-backlog")
    assert backlog == {"under_1h": 1, "1h_4h": 1, "4h_24h": 1, "1d_7d": 1, "older": 1,
                       "total": 5}
    staff = {name: (int(cells[0]), int(cells[1]))
             for name, cells in _table(html, "table-staff").items() if cells[0].isdigit()}
    assert staff == EXPECTED_STAFF


def test_page_charts_are_inline_svg_without_scripts_or_styles(supervisor_client, seeded):
    html = supervisor_client.get(f"/reports/?{seeded.query}").get_data(as_text=True)
    for chart in ("chart-status", "chart-category", "chart-channel", "chart-day"):
        assert f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-labelledby="{chart}' \
            in html
    assert "<script" not in html
    assert "style=" not in html and "<style" not in html
    assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    # The channel chart's sms bar is the longest: 3 of 3.
    channel_svg = re.search(r'id="chart-channel".*?</svg>', html, re.S).group(0)
    assert 'data-value="3"' in channel_svg


def test_page_filter_narrows_the_figures(supervisor_client, seeded):
    html = supervisor_client.get(f"/reports/?{seeded.query}&channel=sms&language=ru"
                                 ).get_data(as_text=True)
    assert _figure(html, "fig-total") == "3"
    assert _nonzero(_counts(html, "table-channel")) == {"sms": 3}
    assert 'value="sms" selected' in html


def test_page_defaults_to_the_last_30_days(supervisor_client, seeded):
    html = supervisor_client.get("/reports/").get_data(as_text=True)
    first = seeded.now.date() - timedelta(days=29)
    assert f'name="from" value="{first.isoformat()}"' in html
    assert f'name="to" value="{seeded.now.date().isoformat()}"' in html
    # I (opened 40 days ago) is out; H (a second before day -9) is in this wider range.
    assert _figure(html, "fig-total") == "8"
    assert len(_counts(html, "table-day")) == 30


@pytest.mark.parametrize("query, reason", [
    ("from=yesterday", "YYYY-MM-DD"),
    ("from=2026-02-30", "YYYY-MM-DD"),
    ("from=2026-03-02&to=2026-03-01", "must not be before"),
    ("from=2000-01-01&to=2026-01-01", "at most"),
    ("to=0001-01-01", "must lie between"),
    ("channel=fax", "unknown channel"),
    ("language=xx", "unknown language"),
    ("category=<script>", "unknown category"),
])
def test_bad_input_is_a_clear_400(supervisor_client, seeded, query, reason):
    page = supervisor_client.get(f"/reports/?{query}")
    assert page.status_code == 400
    assert reason in page.get_data(as_text=True)
    assert "<script>" not in page.get_data(as_text=True)
    csv_response = supervisor_client.get(f"/reports/export.csv?{query}")
    assert csv_response.status_code == 400
    assert reason in csv_response.get_data(as_text=True)


# --- the API agrees -----------------------------------------------------------------------

def test_api_stats_equal_the_page_and_the_query_layer(app, supervisor_client, seeded):
    with app.app_context():
        _token, secret = create_token("reports-test", "stats")
        db.session.commit()
        layer = case_stats(seeded.filter).as_api()
    response = app.test_client().get(
        f"/api/v1/stats?since={seeded.first_day}&until={seeded.last_day}",
        headers={"Authorization": f"Bearer {secret}"})
    assert response.status_code == 200
    api = response.get_json()
    assert set(api) == {"total", "by_status", "by_category", "by_channel", "by_language",
                        "by_day", "callback_needed", "median_first_response_seconds",
                        "first_response_within_target"}
    assert api == layer
    assert {key: api[key] for key in EXPECTED} == EXPECTED
    html = supervisor_client.get(f"/reports/?{seeded.query}").get_data(as_text=True)
    assert int(_figure(html, "fig-total")) == api["total"]
    assert int(_figure(html, "fig-callbacks")) == api["callback_needed"]
    assert _nonzero(_counts(html, "table-status")) == api["by_status"]
    assert _nonzero(_counts(html, "table-category")) == api["by_category"]
    assert _nonzero(_counts(html, "table-channel")) == api["by_channel"]
    assert _nonzero(_counts(html, "table-language")) == api["by_language"]
    assert _counts(html, "table-day") == {d["date"]: d["count"] for d in api["by_day"]}
    filtered = app.test_client().get(
        f"/api/v1/stats?since={seeded.first_day}&until={seeded.last_day}&channel=sms",
        headers={"Authorization": f"Bearer {secret}"}).get_json()
    assert filtered["total"] == 3 and filtered["median_first_response_seconds"] == 315.0


# --- the CSV export -----------------------------------------------------------------------

def _csv(response) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


def test_export_has_one_row_per_case_in_the_range(app, supervisor_client, seeded):
    response = supervisor_client.get(f"/reports/export.csv?{seeded.query}")
    assert response.status_code == 200
    assert response.is_streamed
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = _csv(response)
    assert [row["reference"] for row in rows] == [
        format_reference(seeded.refs[letter]) for letter in "GEFDCBA"]  # oldest first
    assert list(rows[0]) == list(export.COLUMNS)
    by_ref = {row["reference"]: row for row in rows}
    b = by_ref[format_reference(seeded.refs["B"])]
    assert (b["channel"], b["language"], b["status"], b["category"], b["affiliation"],
            b["urgency"], b["caller_type"]) == ("voice", "ko", "triaged", "conscription",
                                                "dprk", "high", "serviceman")
    assert b["assigned_to"] == "alice@hotline.test"
    assert b["first_response_seconds"] == "60"
    assert b["interactions"] == "2"
    assert b["callback_needed"] == "yes"
    assert b["created_at"] == seeded.created["B"].isoformat(timespec="seconds")
    e = by_ref[format_reference(seeded.refs["E"])]
    assert (e["resolution"], e["interactions"], e["first_response_seconds"]) == (
        "handed_over", "4", "30")
    g = by_ref[format_reference(seeded.refs["G"])]
    assert g["first_response_seconds"] == "" and g["assigned_to"] == ""
    text = response.get_data(as_text=True)
    assert CALLER_NUMBER[:-1] not in text and "please help" not in text


def test_export_filters_and_is_audited(app, supervisor_client, seeded):
    response = supervisor_client.get(f"/reports/export.csv?{seeded.query}&language=ru")
    rows = _csv(response)
    assert sorted(row["reference"] for row in rows) == sorted(
        format_reference(seeded.refs[letter]) for letter in "AEF")
    with app.app_context():
        event = db.session.execute(select(AuditEvent).where(
            AuditEvent.action == "report.export")).scalar_one()
        assert event.actor_id == seeded.users["supervisor"].id
        assert event.detail == {"from": seeded.first_day.isoformat(),
                                "to": seeded.last_day.isoformat(), "language": "ru",
                                "rows": 3}


def test_export_batches_cover_ties_exactly_once(app, supervisor_client, seeded, monkeypatch):
    monkeypatch.setattr(export, "BATCH_SIZE", 2)
    tie = datetime.combine(seeded.first_day, time(12), UTC)
    with app.app_context():
        caller = db.session.execute(select(Caller).limit(1)).scalar_one()
        for _ in range(5):  # five cases opened in the same microsecond
            db.session.add(Case(reference=new_reference(), caller=caller, channel="web",
                                created_at=tie, updated_at=tie))
        db.session.commit()
    rows = _csv(supervisor_client.get(f"/reports/export.csv?{seeded.query}"))
    references = [row["reference"] for row in rows]
    assert len(references) == 12 and len(set(references)) == 12


def test_export_neutralises_spreadsheet_formulas(app, supervisor_client, seeded):
    with app.app_context():
        case = db.session.execute(select(Case).where(
            Case.reference == seeded.refs["A"])).scalar_one()
        case.category = '=HYPERLINK("http://x.y")'
        case.affiliation = "+1+1"
        db.session.commit()
    rows = _csv(supervisor_client.get(f"/reports/export.csv?{seeded.query}"))
    a = next(row for row in rows if row["reference"] == format_reference(seeded.refs["A"]))
    assert a["category"] == "'=HYPERLINK(\"http://x.y\")"
    assert a["affiliation"] == "'+1+1"


@pytest.mark.parametrize("value, cell", [
    ("=1+1", "'=1+1"), ("-2", "'-2"), ("@SUM(A1)", "'@SUM(A1)"), ("\tx", "'\tx"),
    ("plain", "plain"), (None, ""), (True, "yes"), (7, "7"),
])
def test_safe_cell(value, cell):
    assert export.safe_cell(value) == cell
