"""Admin forms (Flask-WTF: every POST carries a CSRF token)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
)
from wtforms.validators import DataRequired, Length, Optional, Regexp
from wtforms.widgets import CheckboxInput, ListWidget

from hotline.api.tokens import TOKEN_ROLES
from hotline.cases.labels import ROLE_LABELS
from hotline.cases.vocabularies import LANGUAGE_NAMES, LANGUAGES, ROLES

# A plausibility check only: the address is a login name, nothing is sent to it.
EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
ROLE_CHOICES = [SelectChoice(role, ROLE_LABELS[role]) for role in ROLES]
LANGUAGE_CHOICES = [SelectChoice(code, f"{LANGUAGE_NAMES[code]} ({code})") for code in LANGUAGES]


class CheckboxesField(SelectMultipleField):
    """A multiple choice shown as a list of labelled checkboxes."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class CreateUserForm(FlaskForm):
    """A new account; its one-time password is generated and shown once."""

    email = EmailField(_l("Email address"),
                       validators=[DataRequired(), Length(max=254),
                                   Regexp(EMAIL_PATTERN, message=_l("Enter an email address."))])
    display_name = StringField(_l("Display name"),
                               validators=[DataRequired(), Length(max=120)])
    role = SelectField(_l("Role"), choices=ROLE_CHOICES, default="staff")
    submit = SubmitField(_l("Create account"))


class RoleForm(FlaskForm):
    """Change a user's role."""

    role = SelectField(_l("Role"), choices=ROLE_CHOICES)
    submit = SubmitField(_l("Change role"))


class ConfirmForm(FlaskForm):
    """A one-button action (deactivate, reset 2FA, …): only the CSRF token."""


class RosterForm(FlaskForm):
    """The voice line's routing data for one user."""

    phone = StringField(_l("Phone number"), validators=[Optional(), Length(max=32)],
                        description=_l("International form, e.g. +44 20 7946 0958."),
                        render_kw={"autocomplete": "off", "inputmode": "tel"})
    languages = CheckboxesField(_l("Languages spoken"), choices=LANGUAGE_CHOICES,
                                validate_choice=True)
    on_duty = BooleanField(_l("On duty"))
    submit = SubmitField(_l("Save"))


class TokenForm(FlaskForm):
    """A new API token; the token is shown once."""

    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)],
                       description=_l("Who or what uses it, e.g. “weekly statistics export”."))
    role = SelectField(_l("Role"),
                       choices=[SelectChoice(role, ROLE_LABELS[role]) for role in TOKEN_ROLES],
                       default="stats",
                       description=_l("statistics: counts and case metadata only; staff and "
                                      "above may read message text."))
    submit = SubmitField(_l("Create token"))
