"""The read-only JSON API, version 1, for bearer tokens made with ``flask tokens create``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Blueprint, Response, abort, g, jsonify, request
from sqlalchemy import func, select

from hotline import audit
from hotline.api.tokens import authenticate
from hotline.cases import queries, timeline
from hotline.cases.references import format_reference
from hotline.cases.timeline import PRIVATE_EXTERNAL_ID_CHANNELS, public_external_id
from hotline.cases.vocabularies import role_at_least
from hotline.extensions import db
from hotline.models import Case, Interaction, User
from hotline.reports.queries import StatsFilter, case_stats

__all__ = ["PRIVATE_EXTERNAL_ID_CHANNELS", "bp", "public_external_id"]

bp = Blueprint("api_v1", __name__, url_prefix="/api/v1")

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
CURSOR_LAYOUT = (int,)  # the id of the last case of a page (newest first)


@bp.before_request
def _require_token() -> None:
    token = authenticate(request.headers.get("Authorization", ""))
    if token is None:
        response = jsonify({"error": "a valid bearer token is required"})
        response.status_code = 401
        response.headers["WWW-Authenticate"] = 'Bearer realm="hotline"'
        abort(response)
    g.api_token = token


@bp.after_request
def _commit(response: Response) -> Response:
    """The API's request boundary: one commit for what the request recorded (the read's
    audit row, the token's last use). Views and the token check only add to the session."""
    if response.status_code < 400:
        db.session.commit()
    return response


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _limit() -> int:
    raw = request.args.get("limit", str(DEFAULT_LIMIT))
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= MAX_LIMIT:
        abort(400, description=f"limit must be between 1 and {MAX_LIMIT}")
    return int(raw)


def _filter() -> queries.CaseFilter:
    """The dashboard's filter set, read from the API's parameters.

    ``assigned`` is ``none``, ``any``, a user id or an e-mail address (for scripts).
    """
    args = request.args.to_dict()
    assigned = (args.pop("assigned", "") or "").strip()
    if assigned == "none":
        args["assigned"] = "unassigned"
    elif "@" in assigned:
        user_id = db.session.execute(select(User.id).where(User.email == assigned)).scalar()
        args["assigned"] = str(user_id) if user_id is not None else "0"
    elif assigned:
        args["assigned"] = assigned
    try:
        flt = queries.parse_filter(args, default_status="all", assignee_param="assigned")
    except queries.QueryError as exc:
        abort(400, description=str(exc))
    if flt.assignee == "mine":
        abort(400, description="unknown assigned")
    return flt


def case_summary(case: Case, interaction_count: int) -> dict[str, Any]:
    """The list-item JSON for one case."""
    return {
        "reference": format_reference(case.reference),
        "status": case.status,
        "channel": case.channel,
        "category": case.category,
        "urgency": case.urgency,
        "language": case.language,
        "created_at": _iso(case.created_at),
        "updated_at": _iso(case.updated_at),
        "assigned_to": case.assigned_to.email if case.assigned_to else None,
        "callback_needed": case.callback_needed,
        "interaction_count": interaction_count,
    }


@bp.get("/cases")
def list_cases() -> Any:
    """Cases, newest first, with the dashboard's filters and search, and a cursor."""
    limit = _limit()
    flt = _filter()
    count = (select(func.count(Interaction.id)).where(Interaction.case_id == Case.id)
             .correlate(Case).scalar_subquery())
    stmt = select(Case, count).where(*flt.conditions(None)).order_by(Case.id.desc())
    if request.args.get("cursor"):
        try:
            (last_id,) = queries.decode_cursor(request.args["cursor"], CURSOR_LAYOUT)
        except queries.QueryError as exc:
            abort(400, description=str(exc))
        stmt = stmt.where(Case.id < last_id)
    rows = db.session.execute(stmt.limit(limit + 1)).all()
    page, more = rows[:limit], len(rows) > limit
    items = [case_summary(case, n) for case, n in page]
    audit.record("api.case_list", actor_label=_token_label(),
                 detail={"references": [item["reference"] for item in items]})
    return jsonify({"items": items, "next_cursor": queries.encode_cursor([page[-1][0].id])
                    if more else None})


@bp.get("/cases/<reference>")
def case_detail(reference: str) -> Any:
    """One case with its interactions; bodies and what the caller told us for staff tokens."""
    case = queries.find_case(reference)
    if case is None:
        abort(404, description="no such case")
    interactions = db.session.execute(
        select(Interaction).where(Interaction.case_id == case.id).order_by(Interaction.id)
    ).scalars().all()
    may_read = role_at_least(g.api_token.role, "staff")
    data = case_summary(case, len(interactions))
    data["resolution"] = case.resolution
    data["caller_type"] = case.caller_type
    data["affiliation"] = case.affiliation
    if may_read:
        data["contact_ok"] = case.contact_ok
    data["interactions"] = [timeline.api_item(item, with_body=may_read)
                            for item in interactions]
    audit.record("api.case_read", actor_label=_token_label(), case=case,
                 detail={"bodies": may_read})
    return jsonify(data)


@bp.get("/stats")
def stats() -> Any:
    """Headline figures for a date range (default: the last 30 days)."""
    try:
        span = queries.parse_date_range(request.args)
        flt = queries.parse_filter(request.args)  # the same vocabularies as the dashboard
    except queries.QueryError as exc:
        abort(400, description=str(exc))
    scope = StatsFilter(since=span.since, until=span.until, channel=flt.channel,
                        language=flt.language, category=flt.category)
    return jsonify(case_stats(scope).as_api())


def _token_label() -> str:
    token = g.api_token
    return f"api_token:{token.id}:{token.name}"
