"""Forms of the public web channel: the contact form, the follow-up sign-in and reply.

Every label and error message is translated (lazy gettext: the text is chosen when the
page is drawn, in the visitor's language). CSRF is on for all of them (Flask-WTF).
"""

from __future__ import annotations

import re
import secrets

from flask import current_app
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, RadioField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from hotline.cases.vocabularies import LANGUAGE_NAMES, LANGUAGES

NAME_MAX_CHARS = 100
CONTACT_MAX_CHARS = 200
REGION_MAX_CHARS = 100
# The hidden submission id makes a double-submitted form idempotent (external_id).
SUBMISSION_ID_PATTERN = re.compile(r"^web-[A-Za-z0-9_-]{22,43}$")
CONTACT_OK_CHOICES = ("no", "yes")


def new_submission_id() -> str:
    """A fresh random id for one rendering of a form."""
    return "web-" + secrets.token_urlsafe(24)


def _strip(value: str | None) -> str | None:
    return value.strip() if isinstance(value, str) else value


class MaxChars:
    """Length limit whose maximum comes from the app config (``MESSAGE_MAX_CHARS``)."""

    def __call__(self, form: FlaskForm, field) -> None:
        limit = current_app.config["MESSAGE_MAX_CHARS"]
        if field.data and len(field.data) > limit:
            raise ValidationError(
                _l("Your message is too long: at most %(max)d characters.", max=limit))


def _too_long(limit: int) -> Length:
    return Length(max=limit, message=_l("This is too long: at most %(max)d characters.",
                                        max=limit))


class SubmissionIdMixin:
    """A hidden per-rendering id; a missing or forged one is replaced, never an error."""

    submission_id = HiddenField()

    def ensure_submission_id(self) -> str:
        """The submitted id when well formed, else a fresh one (stored back in the form)."""
        value = self.submission_id.data or ""
        if not SUBMISSION_ID_PATTERN.match(value):
            value = new_submission_id()
            self.submission_id.data = value
        return value


class ContactForm(SubmissionIdMixin, FlaskForm):
    """The public contact form."""

    message = TextAreaField(
        _l("Your message"), filters=[_strip],
        validators=[DataRequired(message=_l("Please write your message.")), MaxChars()])
    name = StringField(_l("Name or alias (optional)"), filters=[_strip],
                       validators=[Optional(), _too_long(NAME_MAX_CHARS)])
    contact = StringField(_l("Phone number or messenger contact (optional)"), filters=[_strip],
                          validators=[Optional(), _too_long(CONTACT_MAX_CHARS)])
    language = SelectField(
        _l("Language for our answer"),
        choices=[SelectChoice(code, LANGUAGE_NAMES[code], render_kw={"lang": code})
                 for code in LANGUAGES],
        validate_choice=False)  # validate_language gives a translated message instead
    region = StringField(_l("Region or area (optional)"), filters=[_strip],
                         validators=[Optional(), _too_long(REGION_MAX_CHARS)])
    contact_ok = RadioField(
        _l("Is it safe for us to contact you?"),
        choices=[SelectChoice("no", _l("No. I will come back to this site to read your answer.")),
                 SelectChoice("yes", _l("Yes, you may contact me with the details above."))],
        default="no", validate_choice=False,
        validators=[DataRequired(message=_l("Choose one of the options."))])
    # The honeypot: hidden from people by the stylesheet, filled in by naive bots.
    website = StringField(_l("Leave this field empty"))

    def validate(self, extra_validators=None) -> bool:
        """The field checks, then: asking to be contacted needs a way to contact."""
        valid = super().validate(extra_validators)
        if self.contact_ok.data == "yes" and not self.contact.data:
            self.contact.errors = [*self.contact.errors,
                                   _l("Tell us how to reach you, or choose “No”.")]
            valid = False
        return valid

    def validate_language(self, field) -> None:
        """Only the four hotline languages."""
        if field.data not in LANGUAGES:
            raise ValidationError(_l("Choose one of the options."))

    def validate_contact_ok(self, field) -> None:
        """Yes or no, nothing else."""
        if field.data not in CONTACT_OK_CHOICES:
            raise ValidationError(_l("Choose one of the options."))

    @property
    def is_bot(self) -> bool:
        """True when the honeypot was filled in."""
        return bool((self.website.data or "").strip())


class FollowupLoginForm(FlaskForm):
    """Reference and receipt, to come back to a web case."""

    reference = StringField(_l("Case number"), filters=[_strip],
                            validators=[DataRequired(message=_l("Enter the case number.")),
                                        Length(max=32)])
    receipt = StringField(_l("Secret receipt"), filters=[_strip],
                          validators=[DataRequired(message=_l("Enter the secret receipt.")),
                                      Length(max=64)])


class FollowupMessageForm(SubmissionIdMixin, FlaskForm):
    """One more message from the caller, on the follow-up page."""

    message = TextAreaField(
        _l("Your message"), filters=[_strip],
        validators=[DataRequired(message=_l("Please write your message.")), MaxChars()])
