"""The registry of case actions: one ``ActionSpec`` per thing staff do on the case page.

A spec names the action's form, the lowest role allowed to use it, the function that runs
it (a thin call into ``cases.actions``, where the rule lives), the message shown after it
worked, and how its form gets its choices. The route (``dashboard.views.case_action``),
the case page and the negative-test sweeps read only ``ACTIONS``; the page renders each
action with the fragment ``dashboard/actions/<name>.html``, in registry order.

Adding an action: its rule in ``cases/actions.py``, one form class and one spec here, and
its template fragment.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask_babel import LazyString
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from wtforms import BooleanField, SelectField, StringField, TextAreaField
from wtforms.fields import DateTimeLocalField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, Optional
from wtforms.widgets import HiddenInput

from hotline import staff_time
from hotline.cases import actions, reply_policy, reply_templates
from hotline.cases.queries import valid_id
from hotline.cases.timeline import CALLBACK_OUTCOMES
from hotline.cases.vocabularies import CALLER_FLAGS, LANGUAGE_NAMES
from hotline.cases.workflow import RESOLUTIONS, next_statuses
from hotline.channels.twilio import calls, whatsapp
from hotline.dashboard.forms import VersionedForm, label, options
from hotline.models import Case, User


@dataclass(frozen=True)
class FormContext:
    """What building a form may need beyond the case: who may be assigned."""

    assignable: list[tuple[str, str]] = field(default_factory=list)


Run = Callable[[Case, User, Any], object]  # what it returns is not used
Setup = Callable[[Any, Case, FormContext, bool], None]


def _no_setup(form: Any, case: Case, context: FormContext, fresh: bool) -> None:
    """Forms without choices to fill in."""


@dataclass(frozen=True)
class ActionSpec:
    """One case action (see the module docstring)."""

    name: str
    form: type[VersionedForm]
    run: Run
    success: Any  # a lazy string
    min_role: str = "staff"
    # Fills the form's choices; ``fresh`` (no posted data) also pre-selects current values.
    setup: Setup = _no_setup
    # The audited action whose piece of the case this changes (``actions.STATE_OF_ACTION``);
    # "" for one that changes none and so is never stale.
    changes: str = ""

    @property
    def fragment(self) -> str:
        return f"dashboard/actions/{self.name}.html"


# ---- claim / assign ---------------------------------------------------------------------

class ClaimForm(VersionedForm):
    """Take the case."""


class AssignForm(VersionedForm):
    assignee = SelectField(_l("Assign to"), validators=[Optional()])


def _setup_assign(form: AssignForm, case: Case, context: FormContext, fresh: bool) -> None:
    form.assignee.choices = options([("", str(_l("nobody")))] + context.assignable)
    if fresh:
        form.assignee.data = str(case.assigned_to_id or "")


def _assign(case: Case, actor: User, form: AssignForm) -> None:
    target = form.assignee.data
    actions.assign(case, actor, form.version.data, int(target) if target else None,
                   seen=form.seen.data or None)


# ---- status ---------------------------------------------------------------------------------

class StatusForm(VersionedForm):
    # The workflow table judges the target (with a clear message), not the choice list.
    status = SelectField(_l("New status"), validators=[InputRequired()], validate_choice=False)
    resolution = SelectField(_l("Resolution (required to close)"), validators=[Optional()])


def _setup_status(form: StatusForm, case: Case, context: FormContext, fresh: bool) -> None:
    targets = next_statuses(case.status)
    form.status.choices = options([(s, label(s)) for s in targets])
    # Named here, in the reader's language (a class attribute would be English).
    form.resolution.choices = options([("", "—")] + [(r, label(r)) for r in RESOLUTIONS])


def _status(case: Case, actor: User, form: StatusForm) -> None:
    actions.change_status(case, actor, form.version.data, form.status.data,
                          form.resolution.data or None, seen=form.seen.data or None)


# ---- classify -------------------------------------------------------------------------------

class ClassifyForm(VersionedForm):
    category = SelectField(_l("Category"), validators=[Optional()])
    caller_type = SelectField(_l("Caller type"), validators=[Optional()])
    affiliation = SelectField(_l("Affiliation"), validators=[Optional()])
    urgency = SelectField(_l("Urgency"), validators=[InputRequired()])
    language = SelectField(_l("Language"), validators=[Optional()])


def _setup_classify(form: ClassifyForm, case: Case, context: FormContext, fresh: bool) -> None:
    for field_name, values in actions.classification_vocabularies().items():
        names = LANGUAGE_NAMES if field_name == "language" else {}
        pairs = [(v, names.get(v, label(v))) for v in values]
        if field_name != "urgency":
            pairs.insert(0, ("", "—"))
        getattr(form, field_name).choices = options(pairs)
        if fresh:
            getattr(form, field_name).data = getattr(case, field_name) or ""


def _classify(case: Case, actor: User, form: ClassifyForm) -> None:
    fields = actions.classification_vocabularies()
    actions.classify(case, actor, form.version.data,
                     {f: getattr(form, f).data or None for f in fields},
                     seen=form.seen.data or None)


# ---- note, reply ------------------------------------------------------------------------------

class NoteForm(VersionedForm):
    body = TextAreaField(_l("Internal note (never sent to the caller)"),
                         validators=[InputRequired(), Length(max=actions.MAX_NOTE_LENGTH)])


class ReplyForm(VersionedForm):
    # An approved reply in the case's language; sent as it is when the box is left empty
    # (no JavaScript needed), or filled into the box for editing (reply_templates.js).
    template = SelectField(_l("Approved reply"), validators=[Optional()],
                           validate_choice=False)
    body = TextAreaField(_l("Reply to the caller"),
                         validators=[Optional(), Length(max=reply_policy.MAX_REPLY_CHARS)])
    # WhatsApp cases: until when free text may go (set by the setup; None otherwise).
    window_until: datetime | None = None


WHATSAPP_PREFIX = "wa:"


def _setup_reply(form: ReplyForm, case: Case, context: FormContext, fresh: bool) -> None:
    language = reply_templates.language_of(case)
    pairs = reply_templates.for_language(language)
    form.template.choices = [SelectChoice("", str(_l("— write your own —")))] + [
        SelectChoice(str(template.id), template.name, render_kw={"data-text": text})
        for template, text in pairs]
    if reply_policy.is_whatsapp(case):
        form.template.choices += [
            SelectChoice(WHATSAPP_PREFIX + name, str(_l("WhatsApp template: %(name)s",
                                                        name=name)))
            for name in whatsapp.names_for(language)]
    form.window_until = reply_policy.whatsapp_window(case)


def _reply(case: Case, actor: User, form: ReplyForm) -> None:
    value = form.template.data or ""
    if value.startswith(WHATSAPP_PREFIX):
        actions.reply(case, actor, form.version.data, None,
                      whatsapp_template=value.removeprefix(WHATSAPP_PREFIX))
        return
    actions.reply(case, actor, form.version.data, form.body.data,
                  template_id=int(value) if valid_id(value) else None)


class RetryReplyForm(VersionedForm):
    """The Retry button of a reply that did not leave (the case page's alert)."""

    message = StringField(widget=HiddenInput(), validators=[InputRequired()])


def _retry_reply(case: Case, actor: User, form: RetryReplyForm) -> None:
    value = form.message.data or ""
    actions.retry_reply(case, actor, int(value) if valid_id(value) else None)


# ---- callback -----------------------------------------------------------------------------------

class CallbackForm(VersionedForm):
    outcome = SelectField(_l("Outcome"), validators=[InputRequired()])
    at = DateTimeLocalField(LazyString(staff_time.typed_time_label, _l("When")),
                            format="%Y-%m-%dT%H:%M", validators=[Optional()])
    note = TextAreaField(_l("What happened (optional)"),
                         validators=[Optional(), Length(max=actions.MAX_NOTE_LENGTH)])
    confirm_unsafe = BooleanField(
        _l("I confirm: the caller said it is not safe to contact them, and this call was "
           "necessary anyway (logged)"))


def _setup_callback(form: CallbackForm, case: Case, context: FormContext, fresh: bool
                    ) -> None:
    form.outcome.choices = options([("", "—")] + [(o, label(o)) for o in CALLBACK_OUTCOMES])


def _callback(case: Case, actor: User, form: CallbackForm) -> None:
    # Typed in the user's own time zone; stored in UTC.
    at = staff_time.from_local(form.at.data) if form.at.data is not None else None
    actions.log_callback(case, actor, form.version.data, form.outcome.data, at,
                         form.note.data, confirm_unsafe=bool(form.confirm_unsafe.data))


# ---- call back through the line, interpreter ------------------------------------------------

class CallBackForm(VersionedForm):
    confirm_unsafe = BooleanField(
        _l("I confirm: the caller said it is not safe to contact them, and this call is "
           "necessary anyway (logged)"))
    # Set by the setup: why the button is off, and who is on a call with the caller now.
    refusal: str | None = None
    on_call: list[str] = []


def _setup_call_back(form: CallBackForm, case: Case, context: FormContext, fresh: bool
                     ) -> None:
    form.refusal = calls.call_back_refusal(case, current_user)
    form.on_call = calls.on_call_with([case.id]).get(case.id, [])


def _call_back(case: Case, actor: User, form: CallBackForm) -> None:
    actions.call_back(case, actor, form.version.data,
                      confirm_unsafe=bool(form.confirm_unsafe.data))


class InterpreterForm(VersionedForm):
    # The rule (``calls.add_interpreter``) judges who may join, with a clear message.
    interpreter = SelectField(_l("Interpreter (speaks the case's language)"),
                              validators=[InputRequired()], validate_choice=False)
    live: bool = False  # a call staff are on is under way (set by the setup)


def _setup_interpreter(form: InterpreterForm, case: Case, context: FormContext, fresh: bool
                       ) -> None:
    form.live = calls.live_call_entry(case) is not None
    people = calls.interpreter_choices(case, current_user) if form.live else []
    form.interpreter.choices = options(
        [(str(user.id), user.display_name + (" · " + str(_l("on duty")) if user.on_duty else ""))
         for user in people])


def _interpreter(case: Case, actor: User, form: InterpreterForm) -> None:
    value = form.interpreter.data
    actions.add_interpreter(case, actor, int(value) if valid_id(value) else None)


# ---- caller flag --------------------------------------------------------------------------------

class FlagForm(VersionedForm):
    flag = SelectField(_l("Caller flag"), validators=[Optional()])


def _setup_flag(form: FlagForm, case: Case, context: FormContext, fresh: bool) -> None:
    form.flag.choices = options([("", str(_l("no flag")))]
                                + [(f, label(f)) for f in CALLER_FLAGS])
    if fresh:
        form.flag.data = case.caller.flag or ""


ACTIONS: dict[str, ActionSpec] = {spec.name: spec for spec in (
    ActionSpec("reply", ReplyForm, _reply,
        _l("Reply queued. It counts as answered once it has left: its status is on the "
           "timeline, and the case says so if it fails."), setup=_setup_reply),
    ActionSpec("retry-reply", RetryReplyForm, _retry_reply,
               _l("The reply is being sent once more (or was found to have left already).")),
    ActionSpec("call-back", CallBackForm, _call_back,
               _l("The line is ringing your phone. Answer and press 1: the line then calls "
                  "the caller. Neither of you sees the other's number."),
               setup=_setup_call_back),
    ActionSpec("interpreter", InterpreterForm, _interpreter,
               _l("The line is ringing the interpreter; they join the call when they "
                  "answer."), setup=_setup_interpreter),
    ActionSpec("claim", ClaimForm, lambda case, actor, form: actions.claim(
        case, actor, form.version.data, seen=form.seen.data or None),
        _l("You took the case."), changes="case.claim"),
    ActionSpec("assign", AssignForm, _assign, _l("Assignment changed."), setup=_setup_assign,
               changes="case.assign"),
    ActionSpec("status", StatusForm, _status, _l("Status changed."), setup=_setup_status,
               changes="case.status"),
    ActionSpec("classify", ClassifyForm, _classify, _l("Classification saved."),
               setup=_setup_classify, changes="case.classify"),
    ActionSpec("note", NoteForm, lambda case, actor, form: actions.add_note(
        case, actor, form.version.data, form.body.data), _l("Note added.")),
    ActionSpec("callback", CallbackForm, _callback, _l("Callback attempt logged."),
               setup=_setup_callback),
    ActionSpec("flag", FlagForm, lambda case, actor, form: actions.flag_caller(
        case, actor, form.version.data, form.flag.data or None, seen=form.seen.data or None),
        _l("Caller flag saved."), setup=_setup_flag, changes="caller.flag"),
)}


def build_form(name: str, case: Case, context: FormContext,
               formdata: object = None) -> VersionedForm:
    """One action form with its choices for ``case``; reads ``formdata`` when given."""
    spec = ACTIONS[name]
    form = spec.form(prefix=name, formdata=formdata)
    spec.setup(form, case, context, formdata is None)
    if formdata is None or form.version.data is None:
        form.version.data = case.version
    if formdata is None:
        form.seen.data = actions.state_seen(spec.changes, case)
    return form


def mark_current(form: VersionedForm, name: str, case: Case) -> None:
    """Make a (refused) form carry the case as it is now, so a deliberate retry works."""
    form.version.data, form.version.raw_data = case.version, None
    form.seen.data, form.seen.raw_data = actions.state_seen(ACTIONS[name].changes, case), None
