"""Sign-in and password forms (Flask-WTF, so every POST carries a CSRF token)."""

from __future__ import annotations

from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, HiddenField, PasswordField, SelectField, StringField, SubmitField
from wtforms.validators import DataRequired, EqualTo, Length

from hotline.auth.passwords import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH
from hotline.languages import LANGUAGES, NAMES


class LoginForm(FlaskForm):
    """Email and password."""

    email = EmailField(_l("Email address"), validators=[DataRequired(), Length(max=254)],
                       render_kw={"autocomplete": "username", "autofocus": True})
    password = PasswordField(_l("Password"), validators=[DataRequired()],
                             render_kw={"autocomplete": "current-password"})
    next = HiddenField()
    submit = SubmitField(_l("Sign in"))


class CodeForm(FlaskForm):
    """A six-digit code from the authenticator app."""

    code = StringField(_l("Six-digit code"), validators=[DataRequired(), Length(min=6, max=8)],
                       render_kw={"autocomplete": "one-time-code", "inputmode": "numeric",
                                  "pattern": "[0-9 ]*", "autofocus": True})
    submit = SubmitField(_l("Verify"))


class NewPasswordForm(FlaskForm):
    """Choosing a new password (twice)."""

    password = PasswordField(
        _l("New password"),
        validators=[DataRequired(), Length(
            min=MIN_PASSWORD_LENGTH, max=MAX_PASSWORD_LENGTH,
            message=_l("The password must have at least %(least)s and at most %(most)s "
                       "characters.", least=MIN_PASSWORD_LENGTH, most=MAX_PASSWORD_LENGTH))],
        description=_l("At least %(count)s characters; a few unrelated words work well.",
                       count=MIN_PASSWORD_LENGTH),
        render_kw={"autocomplete": "new-password"})
    confirm = PasswordField(_l("New password again"),
                            validators=[DataRequired(), EqualTo("password",
                                                                _l("The two passwords differ."))],
                            render_kw={"autocomplete": "new-password"})
    submit = SubmitField(_l("Save the new password"))


class ChangePasswordForm(NewPasswordForm):
    """A signed-in user's password change: the current password first."""

    current = PasswordField(_l("Current password"), validators=[DataRequired()],
                            render_kw={"autocomplete": "current-password", "autofocus": True})


def language_choices(default_code: str) -> list[tuple[str, str]]:
    """The language select's options: the deployment default, then each language in its
    own name (a person who cannot read the current language still finds theirs)."""
    default = gettext("Default of this hotline (%(language)s)", language=NAMES[default_code])
    return [("", default), *((language.code, language.name) for language in LANGUAGES)]


class LanguageForm(FlaskForm):
    """The language of a person's pages (their account page, or the admin user page)."""

    ui_language = SelectField(_l("Language of the staff pages"), choices=[],
                              validate_choice=True)
    submit = SubmitField(_l("Save language"))

    def __init__(self, default_code: str, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.ui_language.choices = language_choices(default_code)
