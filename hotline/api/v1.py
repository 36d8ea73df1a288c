"""The read-only JSON API, version 1, for bearer tokens made with ``flask tokens create``."""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime, time, timedelta
from typing import Any

from flask import Blueprint, Response, abort, g, jsonify, request
from sqlalchemy import false, func, select

from hotline import audit
from hotline.api.tokens import authenticate
from hotline.cases.references import format_reference, parse_reference
from hotline.cases.vocabularies import role_at_least
from hotline.database import MAX_ROW_ID
from hotline.extensions import db
from hotline.models import Case, Interaction, User
from hotline.reports.queries import StatsFilter, case_stats, default_range

bp = Blueprint("api_v1", __name__, url_prefix="/api/v1")

DEFAULT_LIMIT = 50
OUT_OF_RANGE = "A value in the request is out of range."
MAX_LIMIT = 200


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


def _encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(f"v1:{last_id}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        prefix, _, value = raw.partition(":")
        if prefix != "v1" or not value.isdigit():
            raise ValueError
        if int(value) > MAX_ROW_ID:
            abort(400, description=OUT_OF_RANGE)
        return int(value)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        abort(400, description="invalid cursor")


def _limit() -> int:
    raw = request.args.get("limit", str(DEFAULT_LIMIT))
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
        abort(400, description=f"limit must be between 1 and {MAX_LIMIT}")
    return int(raw)


def _assigned_condition(value: str):  # noqa: ANN202
    if value == "none":
        return Case.assigned_to_id.is_(None)
    if value == "any":
        return Case.assigned_to_id.is_not(None)
    if value.isdigit():
        if int(value) > MAX_ROW_ID:
            abort(400, description=OUT_OF_RANGE)
        return Case.assigned_to_id == int(value)
    user_id = db.session.execute(select(User.id).where(User.email == value)).scalar()
    return Case.assigned_to_id == (user_id or -1)


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
def list_cases():
    """Cases, newest first, with filters and an opaque cursor for the next page."""
    limit = _limit()
    count = (select(func.count(Interaction.id)).where(Interaction.case_id == Case.id)
             .correlate(Case).scalar_subquery())
    stmt = select(Case, count).order_by(Case.id.desc()).limit(limit + 1)
    for name in ("status", "category", "channel", "language"):
        value = request.args.get(name)
        if value:
            stmt = stmt.where(getattr(Case, name) == value)
    if request.args.get("assigned"):
        stmt = stmt.where(_assigned_condition(request.args["assigned"]))
    query = request.args.get("q", "").strip()
    if query:
        reference = parse_reference(query)
        if reference is not None:
            stmt = stmt.where(Case.reference == reference)
        else:  # a partial reference: match its beginning
            prefix = "".join(ch for ch in query.upper() if ch.isalnum())[:8]
            stmt = stmt.where(Case.reference.startswith(prefix) if prefix else false())
    if request.args.get("cursor"):
        stmt = stmt.where(Case.id < _decode_cursor(request.args["cursor"]))
    rows = db.session.execute(stmt).all()
    page, more = rows[:limit], len(rows) > limit
    items = [case_summary(case, n) for case, n in page]
    audit.record("api.case_list", actor_label=_token_label(),
                 detail={"references": [item["reference"] for item in items]})
    return jsonify({"items": items,
                    "next_cursor": _encode_cursor(page[-1][0].id) if more else None})


# Channels whose external ids are keyed hashes of a visitor's form (not Twilio Sids):
# they mean nothing to an API client and are never returned (security review, finding 1).
PRIVATE_EXTERNAL_ID_CHANNELS = frozenset({"web"})


def public_external_id(item: Interaction) -> str | None:
    """The interaction's external id as the API shows it (None for web submissions)."""
    if item.channel in PRIVATE_EXTERNAL_ID_CHANNELS:
        return None
    return item.external_id


@bp.get("/cases/<reference>")
def case_detail(reference: str):
    """One case with its interactions; bodies decrypted for staff-level tokens."""
    stored = parse_reference(reference)
    case = db.session.execute(select(Case).where(Case.reference == stored)
                              ).scalar_one_or_none() if stored else None
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
    data["interactions"] = [
        {
            "kind": item.kind,
            "channel": item.channel,
            "external_id": public_external_id(item),
            "created_at": _iso(item.created_at),
            "body": item.body if may_read else None,
            "meta": item.meta or {},
        }
        for item in interactions
    ]
    audit.record("api.case_read", actor_label=_token_label(), case=case,
                 detail={"bodies": may_read})
    return jsonify(data)


def _day_bound(name: str, default: datetime, *, end: bool) -> datetime:
    raw = request.args.get(name)
    if not raw:
        return default
    try:
        day = datetime.fromisoformat(raw)
    except ValueError:
        abort(400, description=f"{name} must be a date (YYYY-MM-DD) or an ISO timestamp")
    if len(raw) == 10:  # a bare date: whole days, ``until`` inclusive
        day = datetime.combine(day.date(), time.min)
        if end:
            day += timedelta(days=1)
    return day if day.tzinfo else day.replace(tzinfo=UTC)


@bp.get("/stats")
def stats():
    """Headline figures for a date range (default: the last 30 days)."""
    since_default, until_default = default_range()
    since = _day_bound("since", since_default, end=False)
    until = _day_bound("until", until_default, end=True)
    if until <= since:
        abort(400, description="until must be after since")
    if until - since > timedelta(days=3660):
        abort(400, description="the range may span at most ten years")
    flt = StatsFilter(since=since, until=until, channel=request.args.get("channel"),
                      language=request.args.get("language"),
                      category=request.args.get("category"))
    return jsonify(case_stats(flt).as_api())


def _token_label() -> str:
    token = g.api_token
    return f"api_token:{token.id}:{token.name}"
