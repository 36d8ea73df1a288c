"""Dashboard routes: thin views over ``dashboard.queue`` and ``cases.actions``.

A case the user may not see answers 404 exactly like a reference that does not
exist (a styled page with the way back to the queue). Every case page shown is audited
as ``case.view``. ``POST /dashboard/shift/end`` ends the user's shift (``actions.end_shift``).
"""

from __future__ import annotations

import mimetypes
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from hotline import audit
from hotline.auth.guards import staff_required
from hotline.cases import actions, queries, reply_policy, timeline
from hotline.cases.access import (
    can_assign_others,
    can_reveal,
    can_view,
    only_as_unattended,
    sees_all,
    sees_unattended,
    visible_condition,
)
from hotline.cases.references import format_reference, parse_reference
from hotline.cases.vocabularies import CHANNELS, LANGUAGE_NAMES, LANGUAGES, role_at_least
from hotline.cases.workflow import STATUSES
from hotline.channels import attachments
from hotline.channels.twilio import calls
from hotline.crypto import mask_contact, mask_number
from hotline.dashboard import queue as queue_mod
from hotline.dashboard.actions import ACTIONS, FormContext, build_form, mark_current
from hotline.dashboard.forms import EndShiftForm, RevealForm, label
from hotline.database import MAX_ROW_ID
from hotline.extensions import db
from hotline.messaging import recordings
from hotline.models import Case, Interaction, User, utcnow

bp = Blueprint("dashboard", __name__, url_prefix="/dashboard")

# How often queue.js asks for the count of new cases, in seconds.
POLL_INTERVAL_SECONDS = 25
EARLIER_CASES_SHOWN = 20
# The contact-safety answer of the web form, as staff read it (id="contact-safety").
CONTACT_SAFETY = {False: "unsafe", True: "safe", None: "not_asked"}
# Callers whose stored address is no number to reveal (a web key, a Telegram chat id).
UNREVEALED_ADDRESS_KINDS = ("web", "telegram")
# Why a recording or an attachment could not be streamed: too large, gone, not fetched.
FETCH_REFUSALS = {
    "recording": (_l("The recording is larger than %(mb)d MB."),
                  _l("This recording is no longer available."),
                  _l("The recording could not be fetched.")),
    "attachment": (_l("The attachment is larger than %(mb)d MB."),
                   _l("This attachment is no longer available."),
                   _l("The attachment could not be fetched.")),
}


@bp.app_template_filter("label")
def _label_filter(value: str | None) -> str:
    return label(value) if value else "—"


@bp.app_template_filter("ref")
def _ref_filter(stored: str) -> str:
    return format_reference(stored)


@bp.get("/")
@staff_required("staff")
def queue() -> Any:
    """The queue (or the callback queue with ``?view=callbacks``)."""
    try:
        query = queue_mod.parse_query(request.args)
    except queries.QueryError as exc:
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
        triage=queue_mod.triage(cases, utcnow(), current_app.config),
        unattended=queue_mod.unattended_ids(cases),
        unattended_count=queue_mod.unattended_count(current_user),
        sees_unattended=sees_unattended(current_user) or sees_all(current_user),
        end_shift_form=EndShiftForm(formdata=None),
        on_call=calls.on_call_with(case.id for case in cases),
        call_back_off=calls.line_refusal() or calls.roster_refusal(current_user),
        new_count=queue_mod.new_count(current_user), latest_id=queue_mod.latest_case_id(),
        latest_message_id=queue_mod.latest_interaction_id(),
        not_found=not_found,
        poll_seconds=current_app.config.get("QUEUE_POLL_SECONDS") or POLL_INTERVAL_SECONDS,
        assignee_choices=queue_mod.assignee_choices(current_user),
        statuses=queue_mod.STATUS_FILTERS, categories=queries.categories(),
        channels=CHANNELS, languages=LANGUAGES, language_names=LANGUAGE_NAMES,
        urgencies=actions_vocabulary("urgency"),
    )


@bp.get("/queue/poll")
@staff_required("staff")
def poll() -> Response:
    """Small JSON for queue.js: counts and ids only, never anything a caller wrote.

    ``texts``: the words queue.js shows for those counts, in the reader's language
    (``queue.poll_texts``), so plural forms come from the catalogues.

    ``since`` / ``since_message``: the newest case and timeline entry when the page was
    drawn (``arrived``, ``mine_messages`` and ``team_messages`` -- caller contacts on
    unassigned cases already worked, such as those handed back at a shift's end -- count
    after them); ``seen`` /
    ``seen_message``: what the previous poll answered (``fresh_*`` count after them, so
    each arrival alerts once). Absent ``seen*`` means the ``since*`` values.
    """
    values: dict[str, int] = {}
    for name, fallback in (("since", None), ("since_message", None),
                           ("seen", "since"), ("seen_message", "since_message")):
        raw = request.args.get(name)
        if not raw:
            values[name] = values[fallback] if fallback else 0
            continue
        if not queue_mod.valid_id(raw):
            abort(400, description=_("%(name)s must be an id", name=name))
        values[name] = int(raw)
    arrived, latest = queue_mod.arrived_since(current_user, values["since"])
    fresh_cases, _latest = queue_mod.arrived_since(current_user, values["seen"])
    mine, latest_message = queue_mod.messages_on_own_cases(current_user,
                                                           values["since_message"])
    fresh_messages, _newest = queue_mod.messages_on_own_cases(current_user,
                                                              values["seen_message"])
    team, latest_team = queue_mod.messages_on_team_cases(values["since_message"])
    fresh_team, _newest = queue_mod.messages_on_team_cases(values["seen_message"])
    data = {"new": queue_mod.new_count(current_user), "arrived": arrived,
            "latest_id": latest, "mine_messages": mine,
            "latest_message_id": max(latest_message, latest_team),
            "fresh_cases": fresh_cases, "fresh_messages": fresh_messages,
            "team_messages": team, "fresh_team_messages": fresh_team}
    return jsonify({**data, "texts": queue_mod.poll_texts(data)})


def actions_vocabulary(name: str) -> tuple[str, ...]:
    """The values of one classification field in force (configured overrides apply)."""
    return actions.classification_vocabularies()[name]


def load_case(reference: str) -> Case:
    """The case for a typed reference, or 404 when absent or not visible to the user.

    Both answer the same styled page: it tells nothing of whether the case exists.
    """
    case = queries.find_case(reference)
    if case is None or not can_view(current_user, case):
        page = render_template("dashboard/not_found.html")
        abort(make_response(page, 404))
    return case


def caller_told_us(case: Case, revealed: bool) -> dict[str, Any]:
    """The "What the caller told us" box: contact safety, name, region, contact, language.

    The number and the contact details are masked unless ``revealed`` (audited).
    """
    caller = case.caller
    if caller.address_kind == "web":
        shown = _("web form")
    elif caller.address is None:
        shown = _("removed")
    elif caller.address_kind == "telegram":
        # A chat id means nothing to staff and is never shown: replies go through the bot.
        shown = _("Telegram chat")
    elif revealed:
        shown = caller.address
    else:
        shown = mask_number(caller.address)
    contact = case.contact_details
    return {
        "kind": caller.address_kind, "shown": shown, "flag": caller.flag,
        "opted_out": caller.opted_out, "name": caller.name, "region": case.region,
        "safety": CONTACT_SAFETY[case.contact_ok],
        "contact": (contact if revealed else mask_contact(contact)) if contact else None,
        "preferred_language": LANGUAGE_NAMES.get(caller.preferred_language or ""),
        "revealable": (caller.address_kind not in UNREVEALED_ADDRESS_KINDS
                       and caller.address is not None) or bool(contact),
    }


def _assignable() -> list[tuple[str, str]]:
    if can_assign_others(current_user):
        users = db.session.execute(
            select(User).where(User.active.is_(True)).order_by(User.display_name)
        ).scalars()
        return [(str(u.id), u.display_name) for u in users]
    return [(str(current_user.id), current_user.display_name)]


def case_timeline(case: Case) -> list[timeline.Entry]:
    """The case's entries, oldest first, with the staff names their meta refers to."""
    items = db.session.execute(
        select(Interaction).where(Interaction.case_id == case.id)
        .options(joinedload(Interaction.author)).order_by(Interaction.id)
    ).scalars().all()
    wanted = timeline.referenced_users(items)
    names: dict[int, str] = {row.id: row.display_name for row in db.session.execute(
        select(User.id, User.display_name).where(User.id.in_(wanted)))} if wanted else {}
    return timeline.present_timeline(items, names)


def failed_replies(entries: list[Any]) -> list[Any]:
    """The staff replies since the last one that left that did not leave themselves
    (the "reply failed" alert; ``reply_policy.has_problem`` is the same rule in SQL)."""
    failed: list[Any] = []
    for entry in reversed(entries):
        if entry.kind != "message_out" or entry.meta.get("auto_reply"):
            continue
        if entry.delivery_status in reply_policy.LEFT:
            break
        if entry.delivery_status in reply_policy.PROBLEMS:
            failed.insert(0, entry)
    return failed


def render_case(case: Case, *, posted: str | None = None, error: str | None = None,
                status: int = 200, revealed: bool = False) -> tuple[str, int]:
    """The case page; a refused action is shown with its message and the typed input kept.

    Drawing it only reads: the view is audited and committed by ``case_view`` first.
    """
    others = db.session.execute(
        select(Case).where(Case.caller_id == case.caller_id, Case.id != case.id,
                           visible_condition(current_user))
        .order_by(Case.created_at.desc()).limit(EARLIER_CASES_SHOWN)
    ).scalars().all()
    context = FormContext(assignable=_assignable())
    forms = {}
    for name in ACTIONS:
        form = build_form(name, case, context,
                          formdata=request.form if name == posted else None)
        # Always the case as it is now: a refused stale edit can be retried deliberately.
        mark_current(form, name, case)
        forms[name] = form
    unattended_only = only_as_unattended(current_user, case)
    entries = case_timeline(case)
    html = render_template(
        "dashboard/case.html", case=case, timeline=entries, others=others, forms=forms,
        actions=[spec for spec in ACTIONS.values()
                 if role_at_least(current_user.role, spec.min_role)
                 and (spec.name == "claim" or not unattended_only)],
        unattended_only=unattended_only,
        caller=caller_told_us(case, revealed), revealed=revealed, error=error,
        may_reveal=can_reveal(current_user),
        reveal_form=RevealForm(formdata=None), statuses=STATUSES,
        language_names=LANGUAGE_NAMES, may_assign_others=can_assign_others(current_user),
        failed_replies=failed_replies(entries) if case.reply_failed else [], now=utcnow(),
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
    """Show the caller's number, and contact details, once, for roles allowed to (audited)."""
    case = load_case(reference)
    if not can_reveal(current_user):
        abort(403, description=_("your role does not allow revealing caller numbers"))
    audit.record("case.reveal", actor=current_user, case=case,
                 detail={"caller_id": case.caller_id,
                         "contact_details": case.contact_details is not None})
    return case_view(case, revealed=True)


def _form_error(form: Any) -> str:
    for field in form:
        if field.errors:
            return f"{field.label.text}: {field.errors[0]}"
    return _("The form was incomplete.")


@bp.post("/cases/<reference>/<action>")
@staff_required("staff")
def case_action(reference: str, action: str) -> Any:
    """Run one action from the registry; refusals re-render the page with the reason."""
    spec = ACTIONS.get(action)
    if spec is None:
        abort(404)
    case = load_case(reference)
    if not role_at_least(current_user.role, spec.min_role):
        abort(403, description=_("your role does not allow this action"))
    form = build_form(action, case, FormContext(assignable=_assignable()),
                      formdata=request.form)
    if not form.validate():
        if spec.changes and form.version.data is not None and actions.is_stale(
                spec.changes, case, form.version.data, form.seen.data or None):
            stale = actions.StaleCase(actions.describe_change(case))
            return case_view(case, posted=action, error=stale.message, status=409)
        return case_view(case, posted=action, error=_form_error(form), status=400)
    try:
        spec.run(case, current_user, form)
    except actions.ActionError as exc:
        db.session.expire_all()
        case = load_case(reference)
        return case_view(case, posted=action, error=exc.message, status=exc.status_code)
    flash(str(spec.success), "success")
    flash(action, "sent")  # staff.js forgets this action's draft (no text, only its name)
    return redirect(url_for(".case_page", reference=case.display_reference), code=303)


@bp.post("/shift/end")
@staff_required("staff")
def end_shift() -> Any:
    """End my shift: my open cases go back to the team queue, I go off duty (audited)."""
    form = EndShiftForm()
    if not form.validate_on_submit():
        abort(400, description=_("The form was incomplete."))
    count = actions.end_shift(current_user)
    flash(ngettext("Shift ended: %(num)d of your cases went back to the team queue, with a "
                   "handover note. You are off duty.",
                   "Shift ended: %(num)d of your cases went back to the team queue, each with "
                   "a handover note. You are off duty.", count), "success")
    return redirect(url_for(".queue"), code=303)


def _entry_of(case: Case, interaction_id: int, kind: str) -> Interaction:
    interaction = (db.session.get(Interaction, interaction_id)
                   if interaction_id <= MAX_ROW_ID else None)
    if interaction is None or interaction.case_id != case.id or interaction.kind != kind:
        abort(404, description=_("No such recording.") if kind == "voicemail"
              else _("No such attachment."))
    return interaction


def _fetch_failed(exc: Exception, what: str) -> None:
    """Turn a failed fetch from Twilio into 404 / 413 / 502 (never a 500)."""
    too_large, gone, failed = FETCH_REFUSALS[what]
    if isinstance(exc, recordings.MediaTooLarge):
        abort(413, description=str(too_large) % {
            "mb": recordings.MAX_MEDIA_BYTES // (1024 * 1024)})
    if isinstance(exc, recordings.RecordingUnavailable | LookupError | FileNotFoundError):
        abort(404, description=str(gone))
    current_app.logger.warning("%s fetch failed: %s", what, type(exc).__name__)
    abort(502, description=str(failed))


@bp.get("/cases/<reference>/voicemail/<int:interaction_id>")
@staff_required("staff")
def voicemail(reference: str, interaction_id: int) -> Any:
    """Stream a voicemail recording through the server (never a link to Twilio)."""
    case = load_case(reference)
    interaction = _entry_of(case, interaction_id, "voicemail")
    try:
        chunks, content_type = recordings.open_recording(interaction)
    except Exception as exc:
        _fetch_failed(exc, "recording")
    audit.record("case.voicemail_play", actor=current_user, case=case,
                 detail={"interaction_id": interaction.id})
    db.session.commit()
    response = Response(stream_with_context(iter(chunks)), content_type=content_type)
    response.headers["Content-Disposition"] = "inline"
    return response


@bp.get("/cases/<reference>/media/<int:interaction_id>/<int:n>")
@staff_required("staff")
def media(reference: str, interaction_id: int, n: int) -> Any:
    """Stream attachment ``n`` of a caller's message through the server (audited).

    Images of the common raster types are shown inline, from this origin; everything
    else (SVG, documents, audio, video) is a download, never rendered by the browser.
    """
    case = load_case(reference)
    interaction = _entry_of(case, interaction_id, "message_in")
    try:
        fetched = attachments.open_attachment(interaction, n)
    except Exception as exc:
        _fetch_failed(exc, "attachment")
    audit.record("case.media_view", actor=current_user, case=case,
                 detail={"interaction_id": interaction.id, "n": n,
                         "content_type": fetched.content_type})
    db.session.commit()
    inline = fetched.content_type in timeline.INLINE_IMAGE_TYPES
    response = Response(stream_with_context(iter(fetched.chunks)),
                        content_type=fetched.content_type)
    extension = mimetypes.guess_extension(fetched.content_type) or ""
    response.headers["Content-Disposition"] = (
        "inline" if inline
        else f'attachment; filename="attachment-{interaction.id}-{n + 1}{extension}"')
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
