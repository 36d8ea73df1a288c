"""The case page's action forms (Flask-WTF: each carries a CSRF token and the version).

Each form has its own prefix so several can share one page with unique field ids.
"""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import IntegerField, SelectField, TextAreaField
from wtforms.fields import DateTimeLocalField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, Optional
from wtforms.widgets import HiddenInput

from hotline.cases.actions import (
    CALLBACK_OUTCOMES,
    MAX_NOTE_LENGTH,
    MAX_REPLY_LENGTH,
    classification_vocabularies,
)
from hotline.cases.vocabularies import CALLER_FLAGS, LANGUAGE_NAMES
from hotline.cases.workflow import RESOLUTIONS, TRANSITIONS
from hotline.models import Case


def label(value: str) -> str:
    """A vocabulary value as people read it: ``in_progress`` → ``in progress``."""
    return value.replace("_", " ")


def options(pairs: list[tuple[str, str]]) -> list[SelectChoice]:
    """Select options from ``(value, label)`` pairs."""
    return [SelectChoice(value, text) for value, text in pairs]


class VersionedForm(FlaskForm):
    """Every action form carries the case version the page was rendered with."""

    version = IntegerField(widget=HiddenInput(), validators=[InputRequired()])


class ClaimForm(VersionedForm):
    """Take the case."""


class AssignForm(VersionedForm):
    assignee = SelectField("Assign to", validators=[Optional()])


class StatusForm(VersionedForm):
    # The workflow table judges the target (with a clear message), not the choice list.
    status = SelectField("New status", validators=[InputRequired()], validate_choice=False)
    resolution = SelectField("Resolution (required to close)", validators=[Optional()],
                             choices=options([("", "—")] + [(r, label(r)) for r in RESOLUTIONS]))


class ClassifyForm(VersionedForm):
    category = SelectField("Category", validators=[Optional()])
    caller_type = SelectField("Caller type", validators=[Optional()])
    affiliation = SelectField("Affiliation", validators=[Optional()])
    urgency = SelectField("Urgency", validators=[InputRequired()])
    language = SelectField("Language", validators=[Optional()])


class NoteForm(VersionedForm):
    body = TextAreaField("Internal note (never sent to the caller)",
                         validators=[InputRequired(), Length(max=MAX_NOTE_LENGTH)])


class ReplyForm(VersionedForm):
    body = TextAreaField("Reply to the caller",
                         validators=[InputRequired(), Length(max=MAX_REPLY_LENGTH)])


class CallbackForm(VersionedForm):
    outcome = SelectField("Outcome", validators=[InputRequired()],
                          choices=options([("", "—")] + [(o, label(o)) for o in CALLBACK_OUTCOMES]))
    at = DateTimeLocalField("When (UTC; empty = now)", format="%Y-%m-%dT%H:%M",
                            validators=[Optional()])
    note = TextAreaField("What happened (optional)",
                         validators=[Optional(), Length(max=MAX_NOTE_LENGTH)])


class FlagForm(VersionedForm):
    flag = SelectField("Caller flag", validators=[Optional()],
                       choices=options([("", "no flag")] + [(f, f) for f in CALLER_FLAGS]))


class RevealForm(FlaskForm):
    """Reveal the caller's number (audited)."""


FORM_CLASSES: dict[str, type[VersionedForm]] = {
    "claim": ClaimForm, "assign": AssignForm, "status": StatusForm, "classify": ClassifyForm,
    "note": NoteForm, "reply": ReplyForm, "callback": CallbackForm, "flag": FlagForm,
}


def build_form(name: str, case: Case, assignable: list[tuple[str, str]],
               formdata: object = None) -> VersionedForm:
    """One action form with its choices for ``case``; reads ``formdata`` when given."""
    kwargs = {"formdata": formdata} if formdata is not None else {"formdata": None}
    form = FORM_CLASSES[name](prefix=name, **kwargs)
    if name == "assign":
        form.assignee.choices = options([("", "nobody")] + assignable)
        if formdata is None:
            form.assignee.data = str(case.assigned_to_id or "")
    elif name == "status":
        targets = sorted(TRANSITIONS.get(case.status, ()))
        form.status.choices = options([(s, label(s)) for s in targets])
    elif name == "classify":
        vocabularies = classification_vocabularies()
        for field_name, values in vocabularies.items():
            names = LANGUAGE_NAMES if field_name == "language" else {}
            pairs = [(v, names.get(v, label(v))) for v in values]
            if field_name != "urgency":
                pairs.insert(0, ("", "—"))
            getattr(form, field_name).choices = options(pairs)
            if formdata is None:
                getattr(form, field_name).data = getattr(case, field_name) or ""
    elif name == "flag" and formdata is None:
        form.flag.data = case.caller.flag or ""
    if formdata is None or form.version.data is None:
        form.version.data = case.version
    return form
