"""The queue page: order, filters, search, keyset pages, callback view, poll, visibility."""

from __future__ import annotations

import base64
import json
import re

import pytest
from sqlalchemy import event, select, text

from hotline.cases.queries import CaseFilter, prefix_range
from hotline.dashboard.queue import PAGE_SIZE
from hotline.database import MAX_ROW_ID as MAX_ID
from hotline.extensions import db
from hotline.models import Case
from tests.conftest import login_as
from tests.dashboard_support import make_case, minutes_ago


def _refs(html: str) -> list[str]:
    return re.findall(r'class="ref" href="/dashboard/cases/([0-9A-Z]{4}-[0-9A-Z]{4})"', html)


def test_anonymous_visitors_are_sent_to_login(client):
    for path in ("/dashboard/", "/dashboard/queue/poll", "/dashboard/?view=callbacks"):
        response = client.get(path)
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/login")


def test_order_is_new_and_urgent_first_then_oldest_first(app, client, staff):
    triaged_immediate = make_case(app, status="triaged", urgency="immediate",
                                  created_at=minutes_ago(90))
    new_normal_old = make_case(app, created_at=minutes_ago(80))
    new_normal_young = make_case(app, created_at=minutes_ago(5))
    new_high = make_case(app, urgency="high", created_at=minutes_ago(3))
    new_immediate = make_case(app, urgency="immediate", created_at=minutes_ago(1))
    waiting_normal = make_case(app, status="waiting", created_at=minutes_ago(100))
    make_case(app, status="closed", created_at=minutes_ago(200))
    login_as(client, staff)
    html = client.get("/dashboard/").get_data(as_text=True)
    assert _refs(html) == [c["reference"] for c in (
        new_immediate, new_high, new_normal_old, new_normal_young, triaged_immediate,
        waiting_normal)]


def test_title_counts_new_cases(app, client, staff):
    for _ in range(3):
        make_case(app)
    make_case(app, status="triaged")
    login_as(client, staff)
    html = client.get("/dashboard/").get_data(as_text=True)
    assert "<title>(3) Queue — Hotline</title>" in html


@pytest.mark.parametrize(("query", "matching", "other"), [
    ("status=closed", {"status": "closed"}, {"status": "new"}),
    ("status=waiting", {"status": "waiting"}, {"status": "triaged"}),
    ("category=surrender", {"category": "surrender"}, {"category": "relative"}),
    ("category=none", {"category": None}, {"category": "other"}),
    ("channel=whatsapp", {"channel": "whatsapp"}, {"channel": "sms"}),
    ("language=ko", {"language": "ko"}, {"language": "uk"}),
    ("urgency=high", {"urgency": "high"}, {"urgency": "normal"}),
    ("callback=1", {"callback_needed": True}, {"callback_needed": False}),
])
def test_each_filter(app, client, supervisor, query, matching, other):
    wanted = make_case(app, **matching)
    make_case(app, **other)
    login_as(client, supervisor)
    response = client.get(f"/dashboard/?{query}")
    assert response.status_code == 200
    assert _refs(response.get_data(as_text=True)) == [wanted["reference"]]


def test_status_all_and_default_open(app, client, supervisor):
    open_case = make_case(app, created_at=minutes_ago(2))
    closed = make_case(app, status="closed", created_at=minutes_ago(1))
    login_as(client, supervisor)
    assert _refs(client.get("/dashboard/").get_data(as_text=True)) == [open_case["reference"]]
    assert set(_refs(client.get("/dashboard/?status=all").get_data(as_text=True))) == {
        open_case["reference"], closed["reference"]}


def test_assignee_filters_mine_unassigned_and_a_person(app, client, make_user, supervisor):
    worker = make_user("staff")
    mine = make_case(app, assigned_to=supervisor)
    theirs = make_case(app, assigned_to=worker)
    nobodys = make_case(app)
    login_as(client, supervisor)
    get = lambda q: _refs(client.get(f"/dashboard/?assignee={q}").get_data(as_text=True))  # noqa: E731
    assert get("mine") == [mine["reference"]]
    assert get("unassigned") == [nobodys["reference"]]
    assert get(str(worker.id)) == [theirs["reference"]]


def test_staff_see_unassigned_and_their_own_only(app, client, make_user, staff):
    colleague = make_user("staff")
    mine = make_case(app, assigned_to=staff, created_at=minutes_ago(3))
    free = make_case(app, created_at=minutes_ago(2))
    hidden = make_case(app, assigned_to=colleague, created_at=minutes_ago(1))
    login_as(client, staff)
    html = client.get("/dashboard/?status=all").get_data(as_text=True)
    assert set(_refs(html)) == {mine["reference"], free["reference"]}
    assert hidden["reference"] not in html
    assert client.get(f"/dashboard/?assignee={colleague.id}").status_code == 200
    assert _refs(client.get(f"/dashboard/?assignee={colleague.id}").get_data(as_text=True)) == []


def test_supervisors_and_admins_see_everything(app, client, make_user):
    worker = make_user("staff")
    hidden = make_case(app, assigned_to=worker)
    for role in ("supervisor", "admin"):
        login_as(client, make_user(role))
        assert hidden["reference"] in _refs(client.get("/dashboard/").get_data(as_text=True))


def test_search_exact_reference_jumps_to_the_case_in_any_spelling(app, client, staff):
    closed = make_case(app, status="closed")
    login_as(client, staff)
    for typed in (closed["reference"], closed["stored"], closed["reference"].lower(),
                  f" {closed['stored'].lower()} "):
        response = client.get("/dashboard/", query_string={"q": typed})
        assert response.status_code == 302, typed
        assert response.headers["Location"].endswith(f"/dashboard/cases/{closed['reference']}")


def test_search_by_partial_reference_and_unknown_reference(app, client, staff):
    case = make_case(app)
    login_as(client, staff)
    html = client.get("/dashboard/", query_string={"q": case["reference"][:4].lower()}
                      ).get_data(as_text=True)
    assert case["reference"] in _refs(html)
    missing = "ZZZZ-ZZZZ" if case["stored"] != "ZZZZZZZZ" else "0000-0000"
    html = client.get("/dashboard/", query_string={"q": missing}).get_data(as_text=True)
    assert f"No case with the reference {missing}" in html


def test_search_does_not_reveal_a_colleagues_case(app, client, make_user, staff):
    other = make_case(app, assigned_to=make_user("staff"))
    login_as(client, staff)
    response = client.get("/dashboard/", query_string={"q": other["reference"]})
    assert response.status_code == 200
    assert "No case with the reference" in response.get_data(as_text=True)
    assert _refs(response.get_data(as_text=True)) == []


def test_prefix_range_covers_exactly_the_prefix():
    assert prefix_range("AB") == ("AB", "AC")
    assert prefix_range("A9") == ("A9", "AA")
    assert prefix_range("AZ") == ("AZ", "B")
    assert prefix_range("ZZ") == ("ZZ", None)


def test_keyset_pagination_walks_every_case_once_without_offset(make_app, make_user):
    app = make_app(DASHBOARD_PAGE_SIZE=3)
    boss = make_user("supervisor")
    expected = [make_case(app, created_at=minutes_ago(60 - i),
                          urgency=("high" if i % 3 == 0 else "normal"))["reference"]
                for i in range(8)]
    client = app.test_client()
    login_as(client, boss)
    statements: list[tuple[str, object]] = []
    with app.app_context():
        engine = db.engine

    def capture(conn, cursor, statement, parameters, *args):
        statements.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", capture)
    seen: list[str] = []
    url = "/dashboard/?language=ru"
    try:
        while url:
            html = client.get(url).get_data(as_text=True)
            seen += _refs(html)
            nxt = re.search(r'rel="next" href="([^"]+)"', html)
            url = nxt.group(1).replace("&amp;", "&") if nxt else None
            if url:
                assert "language=ru" in url
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    high = [r for i, r in enumerate(expected) if i % 3 == 0]
    assert seen == high + [r for r in expected if r not in high]
    # SQLite's dialect always writes "OFFSET ?"; the offset itself must stay 0.
    offsets = [params[-1] for sql, params in statements if "OFFSET" in sql.upper()]
    assert set(offsets) <= {0}
    assert any("> (" in sql for sql, _ in statements)  # the keyset condition was used
    assert PAGE_SIZE >= 25


def test_bad_filter_or_cursor_is_a_400(app, client, staff):
    login_as(client, staff)
    for query in ("status=lost", "channel=pigeon", "cursor=!!notours", "assignee=bob",
                  "cursor=WzEsMl0"):
        assert client.get(f"/dashboard/?{query}").status_code == 400, query


def test_ids_beyond_a_database_integer_are_a_400_not_a_500(app, client, staff):
    login_as(client, staff)
    too_big = str(MAX_ID + 1)
    cursor = base64.urlsafe_b64encode(
        json.dumps([0, "2026-01-01T00:00:00+00:00", MAX_ID + 1]).encode()).decode()
    for path in (f"/dashboard/?assignee={too_big}", f"/dashboard/?cursor={cursor}",
                 f"/dashboard/queue/poll?since={too_big}", "/dashboard/queue/poll?since=²"):
        assert client.get(path).status_code == 400, path
    assert client.get(f"/dashboard/queue/poll?since={MAX_ID}").status_code == 200
    assert client.get(f"/dashboard/?assignee={MAX_ID}").status_code == 200
    case = make_case(app)
    voicemail = f"/dashboard/cases/{case['reference']}/voicemail/{too_big}"
    assert client.get(voicemail).status_code == 404


def test_callback_view_lists_open_callbacks_oldest_first(app, client, staff):
    young = make_case(app, callback_needed=True, created_at=minutes_ago(5), urgency="immediate")
    old = make_case(app, callback_needed=True, status="in_progress", created_at=minutes_ago(50))
    make_case(app, callback_needed=False, created_at=minutes_ago(60))
    make_case(app, callback_needed=True, status="closed", created_at=minutes_ago(70))
    login_as(client, staff)
    html = client.get("/dashboard/?view=callbacks").get_data(as_text=True)
    assert _refs(html) == [old["reference"], young["reference"]]
    assert "Callback queue" in html


def test_poll_counts_new_cases_and_arrivals(app, client, make_user, staff):
    first = make_case(app)
    make_case(app, status="triaged")
    make_case(app, assigned_to=make_user("staff"))  # not visible to this staff member
    login_as(client, staff)
    html = client.get("/dashboard/").get_data(as_text=True)
    latest = int(re.search(r'data-latest-id="(\d+)"', html).group(1))
    # As queue.js asks: since the newest case and timeline entry when the page was drawn.
    message = int(re.search(r'data-latest-message="(\d+)"', html).group(1))
    since = f"since={latest}&since_message={message}"
    data = client.get(f"/dashboard/queue/poll?{since}").get_json()
    texts = data.pop("texts")
    assert data == {"new": 1, "arrived": 0, "latest_id": latest, "mine_messages": 0,
                    "latest_message_id": message, "fresh_cases": 0, "fresh_messages": 0,
                    "team_messages": 0, "fresh_team_messages": 0}
    # The words queue.js shows: nothing arrived, so no notice and no alert.
    assert texts == {"waiting": "1 new case waiting", "notice": "", "alert": ""}
    arrived = make_case(app)
    data = client.get(f"/dashboard/queue/poll?{since}").get_json()
    assert data["new"] == 2 and data["arrived"] == 1 and data["latest_id"] == arrived["id"]
    assert data["texts"]["notice"] == "1 new case: show them"
    assert data["texts"]["waiting"] == "2 new cases waiting"
    assert client.get("/dashboard/queue/poll?since=x").status_code == 400
    assert first["id"] < arrived["id"]


def test_queue_page_uses_only_first_party_script_and_works_without_it(app, client, staff):
    login_as(client, staff)
    response = client.get("/dashboard/")
    html = response.get_data(as_text=True)
    assert re.findall(r"<script[^>]*>", html) == [
        '<script src="/static/queue.js" defer>', '<script src="/static/staff.js" defer>']
    assert ">Refresh</a>" in html
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["Cache-Control"] == "no-store"
    script = client.get("/static/queue.js").get_data(as_text=True)
    assert "/queue/poll" not in script and "data-poll-url" in script


# The open queue is served by either queue index (0016 added the covering open one).
QUEUE_INDEX_NAMES = ("ix_cases_queue", "ix_cases_open_queue")


# A hotline's table on PostgreSQL: most cases closed, a few open, some waiting for a callback.
_REALISTIC_CASES = """
INSERT INTO cases (reference, caller_id, channel, status, urgency, version, callback_needed,
                   created_at, updated_at)
SELECT 'P' || lpad(g::text, 7, '0'), :caller, 'sms',
       CASE WHEN g % 25 = 0 THEN 'new' WHEN g % 25 = 1 THEN 'in_progress' ELSE 'closed' END,
       CASE WHEN g % 7 = 0 THEN 'high' ELSE 'normal' END, 1, g % 30 = 1,
       now() - g * interval '1 minute', now()
FROM generate_series(1, 2000) AS g
"""


def _postgres_plan(sql: str) -> str:
    """EXPLAIN of ``sql`` against planner statistics of a realistic table.

    The statistics come from rows this transaction adds and ANALYZEs (both undone by the
    rollback): left to itself the planner would use whatever an earlier test's ANALYZE
    (the demo seed) left behind for a table it has since emptied, and choose at random
    between indexes on a few dozen rows.
    """
    caller = db.session.execute(text(
        "INSERT INTO callers (address_index, address_kind, opted_out, first_seen, last_seen)"
        " VALUES ('plan-test', 'web', false, now(), now()) RETURNING id")).scalar_one()
    db.session.execute(text(_REALISTIC_CASES), {"caller": caller})
    db.session.execute(text("ANALYZE cases"))
    # Which index serves, not whether a scan of 2000 rows would do as well; and where two
    # indexes cost about the same, the one that gives the queue order (a Sort still
    # appears when none does).
    db.session.execute(text("SET LOCAL enable_seqscan = off"))
    db.session.execute(text("SET LOCAL enable_bitmapscan = off"))
    db.session.execute(text("SET LOCAL enable_sort = off"))
    try:
        return " ".join(row[0] for row in db.session.execute(text("EXPLAIN " + sql)))
    finally:
        db.session.rollback()


def _queue_sql(conditions: list) -> str:
    """The open queue's first page as the shared filter set builds it, as SQL."""
    stmt = (select(Case.id).where(*conditions)
            .order_by(Case.queue_rank, Case.created_at, Case.id).limit(PAGE_SIZE + 1))
    return str(stmt.compile(db.engine, compile_kwargs={"literal_binds": True}))


def test_queue_reads_through_the_queue_index(app_ctx):
    query = ("SELECT id FROM cases WHERE queue_rank < 6 "
             "AND (queue_rank, created_at, id) > (0, '2020-01-01', 1) "
             "ORDER BY queue_rank, created_at, id LIMIT 51")
    if db.engine.dialect.name == "sqlite":
        plan = db.session.execute(text("EXPLAIN QUERY PLAN " + query)).all()
        detail = " ".join(str(row[-1]) for row in plan)
        assert any(name in detail for name in QUEUE_INDEX_NAMES)
        assert "TEMP B-TREE" not in detail
        return
    # The next page (keyset), then the first page of "open" and of one status exactly as
    # CaseFilter.conditions writes them (the dashboard and the API share them).
    for sql in (query, _queue_sql(CaseFilter(status="open").conditions(None)),
                _queue_sql(CaseFilter(status="in_progress").conditions(None))):
        detail = _postgres_plan(sql)
        assert any(name in detail for name in QUEUE_INDEX_NAMES), detail
        assert "Sort" not in detail, detail
