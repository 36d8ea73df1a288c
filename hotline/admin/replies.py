"""``/admin/replies``: approved reply templates, and who may send only them.

Admins and supervisors (not staff) keep the list; every change is a CSRF-checked POST,
audited in the same transaction (``cases.reply_templates``). The page never shows or
logs anything of a caller.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import BooleanField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from hotline import audit
from hotline.auth.guards import staff_required
from hotline.cases import reply_policy, reply_templates
from hotline.database import MAX_ROW_ID
from hotline.extensions import db
from hotline.models import ReplyTemplate, User

bp = Blueprint("replies_admin", __name__, url_prefix="/admin/replies")
LANGUAGE_LABELS = {"ko": _l("Korean (ko)"), "ru": _l("Russian (ru)"), "uk": _l("Ukrainian (uk)"),
                   "en": _l("English (en)")}


class TemplateForm(FlaskForm):
    """One template: a short name and its text per language."""

    name = StringField(_l("Name (staff see it in the reply form)"),
                       validators=[DataRequired(),
                                   Length(max=reply_templates.MAX_NAME_CHARS)])
    text_ko = TextAreaField(LANGUAGE_LABELS["ko"], validators=[
        Optional(), Length(max=reply_policy.MAX_REPLY_CHARS)])
    text_ru = TextAreaField(LANGUAGE_LABELS["ru"], validators=[
        Optional(), Length(max=reply_policy.MAX_REPLY_CHARS)])
    text_uk = TextAreaField(LANGUAGE_LABELS["uk"], validators=[
        Optional(), Length(max=reply_policy.MAX_REPLY_CHARS)])
    text_en = TextAreaField(LANGUAGE_LABELS["en"], validators=[
        Optional(), Length(max=reply_policy.MAX_REPLY_CHARS)])


class PlainForm(FlaskForm):
    """A button with its CSRF token (delete, starter set)."""


class ApprovedOnlyForm(FlaskForm):
    """Whether one user may send only approved replies."""

    approved_only = BooleanField(_l("Approved replies only"))


@bp.before_request
@staff_required("supervisor")
def _supervisors_and_admins() -> None:
    """Every page here: signed in with two factors, supervisor role or higher."""


def _me() -> User:
    return current_user._get_current_object()


def _template_or_404(template_id: int) -> ReplyTemplate:
    template = (db.session.get(ReplyTemplate, template_id)
                if 0 < template_id <= MAX_ROW_ID else None)
    if template is None:
        abort(404, description=_("no such template"))
    return template


def _texts(form: TemplateForm) -> dict[str, str | None]:
    return {lang: getattr(form, f"text_{lang}").data
            for lang in reply_templates.TEMPLATE_LANGUAGES}


def _page(form: TemplateForm | None = None, error: str | None = None,
          status: int = 200) -> tuple[str, int]:
    users = db.session.execute(
        select(User).where(User.active.is_(True)).order_by(User.display_name)).scalars().all()
    return render_template(
        "admin/replies.html", templates=reply_templates.all_templates(),
        form=form or TemplateForm(formdata=None), plain=PlainForm(formdata=None),
        users=users, only_form=ApprovedOnlyForm, error=error,
        starter_missing=_starter_missing(), languages=reply_templates.TEMPLATE_LANGUAGES,
    ), status


def _starter_missing() -> bool:
    names = {t.name.lower() for t in reply_templates.all_templates()}
    return any(name.lower() not in names for name in reply_templates.STARTER)


@bp.get("/")
def index() -> Any:
    """The templates, a form for a new one, and who may send only templates."""
    return _page()


@bp.post("/")
def create() -> Any:
    """Add a template (audited)."""
    form = TemplateForm()
    if not form.validate():
        return _page(form, _("Check the name and the texts."), 400)
    try:
        reply_templates.save(None, form.name.data or "", _texts(form), _me())
    except reply_templates.TemplateError as exc:
        db.session.rollback()
        return _page(form, str(exc), 400)
    db.session.commit()
    flash(_("Template added."), "success")
    return redirect(url_for(".index"), code=303)


@bp.get("/<int:template_id>")
def edit(template_id: int) -> Any:
    """One template's form."""
    template = _template_or_404(template_id)
    return render_template("admin/reply_template.html", template=template,
                           form=TemplateForm(formdata=None, obj=template),
                           plain=PlainForm(formdata=None), error=None)


@bp.post("/<int:template_id>")
def update(template_id: int) -> Any:
    """Change a template (audited)."""
    template = _template_or_404(template_id)
    form = TemplateForm()
    error = None if form.validate() else _("Check the name and the texts.")
    if error is None:
        try:
            reply_templates.save(template, form.name.data or "", _texts(form), _me())
        except reply_templates.TemplateError as exc:
            db.session.rollback()
            error = str(exc)
    if error is not None:
        return render_template("admin/reply_template.html", template=template, form=form,
                               plain=PlainForm(formdata=None), error=error), 400
    db.session.commit()
    flash(_("Template saved."), "success")
    return redirect(url_for(".index"), code=303)


@bp.post("/<int:template_id>/delete")
def remove(template_id: int) -> Any:
    """Delete a template (audited)."""
    template = _template_or_404(template_id)
    if not PlainForm().validate():
        abort(400, description=_("the form expired; try again"))
    reply_templates.delete(template, _me())
    db.session.commit()
    flash(_("Template deleted."), "success")
    return redirect(url_for(".index"), code=303)


@bp.post("/starter")
def starter() -> Any:
    """Add the starter set's templates that are missing (audited)."""
    if not PlainForm().validate():
        abort(400, description=_("the form expired; try again"))
    added = reply_templates.add_starter_set(_me())
    db.session.commit()
    flash(ngettext("%(num)d starter template added.", "%(num)d starter templates added.",
                   added), "success")
    return redirect(url_for(".index"), code=303)


@bp.post("/users/<int:user_id>")
def approved_only(user_id: int) -> Any:
    """Set whether a user may send only approved replies (audited)."""
    user = db.session.get(User, user_id) if 0 < user_id <= MAX_ROW_ID else None
    if user is None:
        abort(404, description=_("no such user"))
    form = ApprovedOnlyForm(prefix=f"u{user.id}")
    if not form.validate():
        abort(400, description=_("the form expired; try again"))
    value = bool(form.approved_only.data)
    if user.approved_replies_only != value:
        user.approved_replies_only = value
        audit.record("user.approved_replies_only", actor=_me(),
                     detail={"user_id": user.id, "approved_replies_only": value})
        db.session.commit()
    flash(_("%(name)s: approved replies only.", name=user.display_name) if value
          else _("%(name)s: may write their own replies.", name=user.display_name), "success")
    return redirect(url_for(".index"), code=303)
