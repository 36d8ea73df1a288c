"""What every case-page form shares (Flask-WTF: each carries a CSRF token and the version).

The action forms themselves live with their action in ``dashboard.actions``.
"""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField, IntegerField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, Optional
from wtforms.widgets import HiddenInput

from hotline.cases.labels import label as label  # re-exported: the action forms' options


def options(pairs: list[tuple[str, str]]) -> list[SelectChoice]:
    """Select options from ``(value, label)`` pairs."""
    return [SelectChoice(value, text) for value, text in pairs]


class VersionedForm(FlaskForm):
    """Every action form carries the case version the page was rendered with, and
    ``seen``: the piece of the case the action changes, as the page showed it
    (``cases.actions.state_seen``), so only a change to that piece makes it stale."""

    version = IntegerField(widget=HiddenInput(), validators=[InputRequired()])
    seen = HiddenField(validators=[Optional(), Length(max=64)])


class EndShiftForm(FlaskForm):
    """End my shift: hand my open cases back to the team queue and go off duty."""


class RevealForm(FlaskForm):
    """Reveal the caller's number and contact details (audited)."""
