"""The read-only JSON API v1: tokens, listing with filters and cursors, detail, stats, audit."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from hotline.api.tokens import create_token
from hotline.extensions import db
from hotline.intake.service import receive
from hotline.models import ApiToken, AuditEvent, Case, utcnow


@pytest.fixture
def token(app) -> str:
    with app.app_context():
        clear = create_token("tests", "staff")[1]
        db.session.commit()
        return clear


def auth(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def seed(app, n: int = 3) -> list[str]:
    refs = []
    with app.app_context():
        for i in range(n):
            case = receive(channel="sms" if i % 2 == 0 else "whatsapp",
                           address=f"+7916123456{i}", body=f"сообщение {i}",
                           external_id=f"SM{i:032d}", language="ru").case
            refs.append(case.display_reference)
    return refs


@pytest.mark.parametrize("header", [None, "Bearer", "Bearer wrong", "Basic abc",
                                    "Bearer " + "x" * 500])
def test_requests_without_a_valid_token_get_401(client, header):
    headers = {"Authorization": header} if header else {}
    for path in ("/api/v1/cases", "/api/v1/cases/ABCD-EFGH", "/api/v1/stats"):
        response = client.get(path, headers=headers)
        assert response.status_code == 401
        assert response.is_json and "token" in response.json["error"]


def test_tokens_are_stored_hashed(app, token):
    with app.app_context():
        row = db.session.execute(select(ApiToken)).scalar_one()
        assert token not in row.token_hash and len(row.token_hash) == 64


def test_revoked_token_is_refused(app, client, token):
    with app.app_context():
        db.session.execute(select(ApiToken)).scalar_one().revoked_at = utcnow()
        db.session.commit()
    assert client.get("/api/v1/cases", headers=auth(token)).status_code == 401


def test_list_returns_the_contract_fields(app, client, token):
    refs = seed(app)
    data = client.get("/api/v1/cases", headers=auth(token)).json
    assert [item["reference"] for item in data["items"]] == list(reversed(refs))
    assert set(data["items"][0]) == {
        "reference", "status", "channel", "category", "urgency", "language", "created_at",
        "updated_at", "assigned_to", "callback_needed", "interaction_count"}
    assert data["items"][0]["interaction_count"] == 1
    assert data["next_cursor"] is None


def test_cursor_pagination_walks_every_case_once(app, client, token):
    refs = seed(app, 5)
    seen, cursor = [], None
    while True:
        url = "/api/v1/cases?limit=2" + (f"&cursor={cursor}" if cursor else "")
        data = client.get(url, headers=auth(token)).json
        seen += [item["reference"] for item in data["items"]]
        cursor = data["next_cursor"]
        if not cursor:
            break
    assert sorted(seen) == sorted(refs) and len(seen) == 5


def test_filters(app, client, token):
    seed(app, 4)
    data = client.get("/api/v1/cases?channel=whatsapp", headers=auth(token)).json
    assert {item["channel"] for item in data["items"]} == {"whatsapp"}
    assert len(data["items"]) == 2
    assert client.get("/api/v1/cases?status=closed", headers=auth(token)).json["items"] == []
    assert len(client.get("/api/v1/cases?assigned=none", headers=auth(token)).json["items"]) == 4


def test_search_by_reference_in_any_form(app, client, token):
    ref = seed(app, 3)[1]
    for query in (ref, ref.replace("-", ""), ref.lower()):
        items = client.get(f"/api/v1/cases?q={query}", headers=auth(token)).json["items"]
        assert [item["reference"] for item in items] == [ref]


@pytest.mark.parametrize("query", ["limit=0", "limit=999", "limit=abc", "limit=%C2%B9",
                                   "cursor=!!!", "cursor=djE6YWJj"])
def test_bad_parameters_are_400(client, token, query):
    response = client.get(f"/api/v1/cases?{query}", headers=auth(token))
    assert response.status_code == 400 and response.is_json


def test_detail_decrypts_interactions_and_is_audited(app, client, token):
    ref = seed(app, 1)[0]
    data = client.get(f"/api/v1/cases/{ref.replace('-', '').lower()}", headers=auth(token)).json
    assert data["reference"] == ref
    assert data["interactions"][0]["body"] == "сообщение 0"
    assert data["interactions"][0]["kind"] == "message_in"
    assert data["interactions"][0]["external_id"] == f"SM{0:032d}"
    with app.app_context():
        event = db.session.execute(
            select(AuditEvent).where(AuditEvent.action == "api.case_read")).scalar_one()
        assert event.case_id is not None and event.actor_label.startswith("api_token:")


def test_list_reads_are_audited_with_the_references(app, client, token):
    refs = seed(app, 2)
    client.get("/api/v1/cases", headers=auth(token))
    with app.app_context():
        event = db.session.execute(
            select(AuditEvent).where(AuditEvent.action == "api.case_list")).scalar_one()
        assert sorted(event.detail["references"]) == sorted(refs)


def test_stats_tokens_see_no_message_text(app, client):
    ref = seed(app, 1)[0]
    with app.app_context():
        stats_token = create_token("dashboard-tv", "stats")[1]
        db.session.commit()
    data = client.get(f"/api/v1/cases/{ref}", headers=auth(stats_token)).json
    assert data["interactions"][0]["body"] is None


def test_unknown_reference_is_404(client, token):
    assert client.get("/api/v1/cases/ZZZZ-ZZZZ", headers=auth(token)).status_code == 404
    assert client.get("/api/v1/cases/not-a-ref", headers=auth(token)).status_code == 404


def test_stats_counts(app, client, token):
    seed(app, 3)
    with app.app_context():
        case = db.session.execute(select(Case).order_by(Case.id)).scalars().first()
        case.first_response_at = case.created_at + timedelta(seconds=90)
        case.status = "in_progress"
        db.session.commit()
    data = client.get("/api/v1/stats", headers=auth(token)).json
    assert data["total"] == 3
    assert data["by_channel"] == {"sms": 2, "whatsapp": 1}
    assert data["by_status"] == {"new": 2, "in_progress": 1}
    assert data["by_language"] == {"ru": 3}
    assert data["median_first_response_seconds"] == 90
    assert sum(day["count"] for day in data["by_day"]) == 3
    assert len(data["by_day"]) == 30
    assert set(data) == {"total", "by_status", "by_category", "by_channel", "by_language",
                         "by_day", "callback_needed", "median_first_response_seconds",
                         "first_response_within_target"}


def test_stats_range_and_bad_dates(app, client, token):
    seed(app, 2)
    today = utcnow().date()
    data = client.get(f"/api/v1/stats?since={today}&until={today}", headers=auth(token)).json
    assert data["total"] == 2 and data["by_day"] == [{"date": today.isoformat(), "count": 2}]
    past = today - timedelta(days=10)
    data = client.get(f"/api/v1/stats?since={past}&until={past}", headers=auth(token)).json
    assert data["total"] == 0
    assert client.get("/api/v1/stats?since=yesterday", headers=auth(token)).status_code == 400
    assert client.get(f"/api/v1/stats?since={today}&until={past}",
                      headers=auth(token)).status_code == 400


def test_the_token_check_commits_nothing_by_itself(app, client, token, monkeypatch):
    """The read's audit row and the token's last use are committed once, by the request."""
    commits = []
    monkeypatch.setattr(db.session, "commit", lambda: commits.append(1))
    assert client.get("/api/v1/cases", headers=auth(token)).status_code == 200
    assert commits == [1]
    assert client.get("/api/v1/cases", headers={"Authorization": "Bearer no"}
                      ).status_code == 401
    assert commits == [1]


def test_last_use_of_a_token_is_stored(app, client, token):
    assert client.get("/api/v1/stats", headers=auth(token)).status_code == 200
    with app.app_context():
        assert db.session.execute(select(ApiToken)).scalar_one().last_used_at is not None
