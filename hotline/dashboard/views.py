"""Dashboard routes: thin views over ``dashboard.queue`` and ``cases.actions``.

A case the user may not see answers 404 exactly like a reference that does not
exist. Every case page shown is audited as ``case.view``.
"""

from __future__ import annotations

from datetime import UTC
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from hotline import audit
from hotline.auth.guards import staff_required
from hotline.cases import actions
from hotline.cases.access import can_assign_others, can_reveal, can_view, visible_condition
from hotline.cases.references import format_reference, parse_reference
from hotline.cases.vocabularies import CHANNELS, CLASSIFICATIONS, LANGUAGE_NAMES, LANGUAGES
from hotline.cases.workflow import STATUSES
from hotline.crypto import mask_number
from hotline.dashboard import queue as queue_mod
from hotline.dashboard.forms import FORM_CLASSES, RevealForm, build_form, label
from hotline.extensions import db
from hotline.messaging.recordings import open_recording
from hotline.models import Case, Interaction, User, utcnow

bp = Blueprint("dashboard", __name__, url_prefix="/dashboard")

# How often queue.js asks for the count of new cases, in seconds.
POLL_INTERVAL_SECONDS = 25
EARLIER_CASES_SHOWN = 20
SUCCESS_MESSAGES = {
    "claim": "You took the case.", "assign": "Assignment changed.",
    "status": "Status changed.", "classify": "Classification saved.",
    "note": "Note added.", "reply": "Reply queued for sending.",
    "callback": "Callback attempt logged.", "flag": "Caller flag saved.",
}


@bp.app_template_filter("label")
def _label_filter(value: str | None) -> str:
    return label(value) if value else "—"


@bp.app_template_filter("ref")
def _ref_filter(stored: str) -> str:
    return format_reference(stored)


@bp.app_template_filter("when")
def _when_filter(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "—"


@bp.app_template_filter("age")
def _age_filter(value: Any) -> str:
    if value is None:
        return "—"
    seconds = max(int((utcnow() - value).total_seconds()), 0)
    if seconds < 3600:
        return f"{seconds // 60} min"
    if seconds < 86400:
        return f"{seconds // 3600} h {seconds % 3600 // 60} min"
    return f"{seconds // 86400} d"


@bp.get("/")
@staff_required("staff")
def queue() -> Any:
    """The queue (or the callback queue with ``?view=callbacks``)."""
    try:
        query = queue_mod.parse_query(request.args)
    except queue_mod.QueueRequestError as exc:
        abort(400, description=str(exc))
    not_found = None
    if query.search and not request.args.get("cursor"):
        exact = queue_mod.find_exact(query.search, current_user)
        if exact is not None:
            return redirect(url_for(".case_page", reference=exact.display_reference))
        if parse_reference(query.search) is not None:
            not_found = query.search
    page_size = current_app.config["DASHBOARD_PAGE_SIZE"] or queue_mod.PAGE_SIZE
    cases, next_cursor = queue_mod.queue_page(query, current_user, page_size)
    return render_template(
        "dashboard/queue.html", cases=cases, query=query, next_cursor=next_cursor,
        new_count=queue_mod.new_count(current_user), latest_id=queue_mod.latest_case_id(),
        not_found=not_found, poll_seconds=POLL_INTERVAL_SECONDS,
        assignee_choices=queue_mod.assignee_choices(current_user),
        statuses=queue_mod.STATUS_FILTERS, categories=CLASSIFICATIONS["category"],
        channels=CHANNELS, languages=LANGUAGES, language_names=LANGUAGE_NAMES,
        urgencies=CLASSIFICATIONS["urgency"],
    )


@bp.get("/queue/poll")
@staff_required("staff")
def poll() -> Response:
    """Small JSON for queue.js: new-case count, and cases arrived after ``since``."""
    since = request.args.get("since", "0")
    if not queue_mod.valid_id(since):
        abort(400, description="since must be a case id")
    arrived, latest = queue_mod.arrived_since(current_user, int(since))
    return jsonify({"new": queue_mod.new_count(current_user), "arrived": arrived,
                    "latest_id": latest})


def load_case(reference: str) -> Case:
    """The case for a typed reference, or 404 when absent or not visible to the user."""
    stored = parse_reference(reference)
    case = None
    if stored is not None:
        case = db.session.execute(
            select(Case).where(Case.reference == stored)
        ).scalar_one_or_none()
    if case is None or not can_view(current_user, case):
        abort(404, description="No case with that reference.")
    return case


def _caller_view(case: Case, revealed: bool) -> dict[str, Any]:
    caller = case.caller
    if caller.address_kind == "web":
        shown = "web form"
    elif caller.address is None:
        shown = "removed"
    elif caller.address_kind == "telegram":
        # A chat id means nothing to staff and is never shown: replies go through the bot.
        return {"kind": "telegram", "shown": "Telegram chat", "flag": caller.flag,
                "opted_out": caller.opted_out, "name": None, "revealable": False}
    elif revealed:
        shown = caller.address
    else:
        shown = mask_number(caller.address)
    return {"kind": caller.address_kind, "shown": shown, "flag": caller.flag,
            "opted_out": caller.opted_out, "name": caller.name if revealed else None,
            "revealable": caller.address_kind != "web" and caller.address is not None}


def _assignable() -> list[tuple[str, str]]:
    if can_assign_others(current_user):
        users = db.session.execute(
            select(User).where(User.active.is_(True)).order_by(User.display_name)
        ).scalars()
        return [(str(u.id), u.display_name) for u in users]
    return [(str(current_user.id), current_user.display_name)]


def render_case(case: Case, *, posted: str | None = None, error: str | None = None,
                status: int = 200, revealed: bool = False) -> tuple[str, int]:
    """The case page; a refused action is shown with its message and the typed input kept.

    Drawing it only reads: the view is audited and committed by ``case_view`` first.
    """
    timeline = db.session.execute(
        select(Interaction).where(Interaction.case_id == case.id)
        .options(joinedload(Interaction.author)).order_by(Interaction.id)
    ).scalars().all()
    others = db.session.execute(
        select(Case).where(Case.caller_id == case.caller_id, Case.id != case.id,
                           visible_condition(current_user))
        .order_by(Case.created_at.desc()).limit(EARLIER_CASES_SHOWN)
    ).scalars().all()
    assignable = _assignable()
    forms = {}
    for name in FORM_CLASSES:
        form = build_form(name, case, assignable,
                          formdata=request.form if name == posted else None)
        # Always the current version: a refused stale edit can be retried deliberately.
        form.version.data, form.version.raw_data = case.version, None
        forms[name] = form
    html = render_template(
        "dashboard/case.html", case=case, timeline=timeline, others=others, forms=forms,
        caller=_caller_view(case, revealed), revealed=revealed, error=error,
        may_reveal=can_reveal(current_user),
        reveal_form=RevealForm(formdata=None), statuses=STATUSES,
        language_names=LANGUAGE_NAMES, may_assign_others=can_assign_others(current_user),
    )
    return html, status


def case_view(case: Case, **page: Any) -> tuple[str, int]:
    """Audit that the current user sees ``case`` and commit (the request's boundary), then
    draw the page (``render_case``, which writes nothing)."""
    audit.record("case.view", actor=current_user, case=case)
    db.session.commit()
    return render_case(case, **page)


@bp.get("/cases/<reference>")
@staff_required("staff")
def case_page(reference: str) -> Any:
    """One case with its whole timeline and the action forms."""
    return case_view(load_case(reference))


@bp.post("/cases/<reference>/reveal")
@staff_required("staff")
def reveal(reference: str) -> Any:
    """Show the caller's full number and name once, for roles allowed to (audited)."""
    case = load_case(reference)
    if not can_reveal(current_user):
        abort(403, description="your role does not allow revealing caller numbers")
    audit.record("case.reveal", actor=current_user, case=case,
                 detail={"caller_id": case.caller_id})
    return case_view(case, revealed=True)


def _run_action(name: str, case: Case, form: Any) -> None:
    version = form.version.data
    if name == "claim":
        actions.claim(case, current_user, version)
    elif name == "assign":
        target = form.assignee.data
        actions.assign(case, current_user, version, int(target) if target else None)
    elif name == "status":
        actions.change_status(case, current_user, version, form.status.data,
                              form.resolution.data or None)
    elif name == "classify":
        fields = actions.classification_vocabularies()
        actions.classify(case, current_user, version,
                         {f: getattr(form, f).data or None for f in fields})
    elif name == "note":
        actions.add_note(case, current_user, version, form.body.data)
    elif name == "reply":
        actions.reply(case, current_user, version, form.body.data)
    elif name == "callback":
        at = form.at.data
        if at is not None:
            at = at.replace(tzinfo=UTC)
        actions.log_callback(case, current_user, version, form.outcome.data, at,
                             form.note.data)
    elif name == "flag":
        actions.flag_caller(case, current_user, version, form.flag.data or None)


def _form_error(form: Any) -> str:
    for field in form:
        if field.errors:
            return f"{field.label.text}: {field.errors[0]}"
    return "The form was incomplete."


@bp.post("/cases/<reference>/<action>")
@staff_required("staff")
def case_action(reference: str, action: str) -> Any:
    """Run one action from the case page; refusals re-render the page with the reason."""
    if action not in FORM_CLASSES:
        abort(404)
    case = load_case(reference)
    form = build_form(action, case, _assignable(), formdata=request.form)
    if not form.validate():
        if form.version.data is not None and form.version.data != case.version:
            stale = actions.StaleCase(actions.describe_change(case))
            return case_view(case, posted=action, error=stale.message, status=409)
        return case_view(case, posted=action, error=_form_error(form), status=400)
    try:
        _run_action(action, case, form)
    except actions.ActionError as exc:
        db.session.expire_all()
        case = load_case(reference)
        return case_view(case, posted=action, error=exc.message, status=exc.status_code)
    flash(SUCCESS_MESSAGES[action], "success")
    return redirect(url_for(".case_page", reference=case.display_reference), code=303)


@bp.get("/cases/<reference>/voicemail/<int:interaction_id>")
@staff_required("staff")
def voicemail(reference: str, interaction_id: int) -> Any:
    """Stream a voicemail recording through the server (never a link to Twilio)."""
    case = load_case(reference)
    interaction = (db.session.get(Interaction, interaction_id)
                   if interaction_id <= queue_mod.MAX_ID else None)
    if interaction is None or interaction.case_id != case.id or interaction.kind != "voicemail":
        abort(404, description="No such recording.")
    try:
        chunks, content_type = open_recording(interaction)
    except (LookupError, FileNotFoundError):
        abort(404, description="This recording is no longer available.")
    except Exception as exc:  # noqa: BLE001 - any fetch failure must not become a 500
        current_app.logger.warning("recording fetch failed: %s", type(exc).__name__)
        abort(502, description="The recording could not be fetched.")
    audit.record("case.voicemail_play", actor=current_user, case=case,
                 detail={"interaction_id": interaction.id})
    db.session.commit()
    response = Response(stream_with_context(iter(chunks)), content_type=content_type)
    response.headers["Content-Disposition"] = "inline"
    return response
