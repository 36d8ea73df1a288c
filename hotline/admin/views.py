"""Admin pages: accounts, the on-duty roster, API tokens.

Every route needs the admin role; every change is a CSRF-checked POST, written to the
audit log in the same transaction. One-time passwords and new tokens are rendered in
the POST's own response (never flashed: the session cookie is signed, not encrypted).
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from hotline import audit
from hotline.admin.forms import ConfirmForm, CreateUserForm, RoleForm, RosterForm, TokenForm
from hotline.api.tokens import create_token
from hotline.auth import accounts
from hotline.auth.accounts import AccountError
from hotline.auth.forms import LanguageForm
from hotline.auth.guards import staff_required
from hotline.auth.login import is_locked
from hotline.cases.labels import label
from hotline.extensions import db
from hotline.i18n import staff_default
from hotline.models import ApiToken, User, utcnow

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.before_request
@staff_required("admin")
def _admins_only() -> None:
    """Every admin page: signed in with two factors, admin role."""


def _me() -> User:
    return current_user._get_current_object()


def _user_or_404(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        abort(404, description=_("no such user"))
    return user


def _all_users() -> list[User]:
    return list(db.session.execute(
        select(User).order_by(User.active.desc(), User.display_name)
    ).scalars())


@bp.get("/")
def index():
    """The admin area starts at the user list."""
    return redirect(url_for("admin.users"))


@bp.route("/users", methods=["GET", "POST"])
def users():
    """All accounts, and the form that creates one."""
    form = CreateUserForm()
    if form.validate_on_submit():
        try:
            user, password = accounts.create_account(
                form.email.data, form.display_name.data, form.role.data, actor=_me())
        except AccountError as exc:
            form.email.errors = [*form.email.errors, str(exc)]
        else:
            db.session.commit()
            return render_template("admin/one_time_password.html", user=user,
                                   password=password, created=True)
    status = 400 if form.errors else 200
    return render_template("admin/users.html", users=_all_users(), form=form,
                           locked=is_locked), status


@bp.get("/users/<int:user_id>")
def user_detail(user_id: int):
    """One account: role, status, second factor, password, roster entry."""
    user = _user_or_404(user_id)
    return _render_user(user)


def _render_user(user: User, *, role_form: RoleForm | None = None,
                 roster_form: RosterForm | None = None,
                 language_form: LanguageForm | None = None, status: int = 200):
    # formdata=None: on a refused POST, the other forms show stored values, not the post.
    role_form = role_form or RoleForm(formdata=None, role=user.role)
    roster_form = roster_form or RosterForm(formdata=None, prefix=f"u{user.id}",
                                            phone=user.phone or "",
                                            languages=user.language_list,
                                            on_duty=user.on_duty)
    language_form = language_form or LanguageForm(staff_default(), formdata=None,
                                                  ui_language=user.ui_language or "")
    return render_template("admin/user.html", user=user, role_form=role_form,
                           roster_form=roster_form, language_form=language_form,
                           confirm=ConfirmForm()), status


@bp.post("/users/<int:user_id>/language")
def user_language(user_id: int):
    """Set the language of a user's pages (audited)."""
    user = _user_or_404(user_id)
    form = LanguageForm(staff_default())
    if not form.validate_on_submit():
        return _render_user(user, language_form=form, status=400)
    accounts.set_ui_language(user, form.ui_language.data, actor=_me())
    db.session.commit()
    flash(_("The language of the pages of %(name)s is saved.", name=user.display_name),
          "success")
    return redirect(url_for("admin.user_detail", user_id=user.id))


def _refuse_self(user: User, refusal: str) -> None:
    if user.id == _me().id:
        abort(400, description=refusal)


@bp.post("/users/<int:user_id>/role")
def user_role(user_id: int):
    """Change a user's role (signs them out everywhere)."""
    user = _user_or_404(user_id)
    form = RoleForm()
    if not form.validate_on_submit():
        return _render_user(user, role_form=form, status=400)
    _refuse_self(user, _("You cannot change the role of your own account."))
    try:
        accounts.set_role(user, form.role.data, actor=_me())
    except AccountError as exc:
        flash(str(exc), "error")
        return _render_user(user, role_form=form, status=409)
    db.session.commit()
    flash(_("%(name)s is now %(role)s.", name=user.display_name, role=label(user.role)),
          "success")
    return redirect(url_for("admin.user_detail", user_id=user.id))


def _confirmed() -> None:
    if not ConfirmForm().validate_on_submit():
        abort(400, description=_("The form was incomplete; reload the page and try again."))


@bp.post("/users/<int:user_id>/deactivate")
def user_deactivate(user_id: int):
    """Deactivate an account: it cannot sign in and all its sessions end."""
    user = _user_or_404(user_id)
    _confirmed()
    _refuse_self(user, _("You cannot deactivate your own account."))
    try:
        accounts.set_active(user, False, actor=_me())
    except AccountError as exc:
        flash(str(exc), "error")
        return _render_user(user, status=409)
    db.session.commit()
    flash(_("%(name)s is deactivated and signed out everywhere.", name=user.display_name),
          "success")
    return redirect(url_for("admin.user_detail", user_id=user.id))


@bp.post("/users/<int:user_id>/reactivate")
def user_reactivate(user_id: int):
    """Let a deactivated account sign in again."""
    user = _user_or_404(user_id)
    _confirmed()
    accounts.set_active(user, True, actor=_me())
    db.session.commit()
    flash(_("%(name)s can sign in again.", name=user.display_name), "success")
    return redirect(url_for("admin.user_detail", user_id=user.id))


@bp.post("/users/<int:user_id>/reset-2fa")
def user_reset_2fa(user_id: int):
    """Forget the user's authenticator: they enrol again at the next sign-in."""
    user = _user_or_404(user_id)
    _confirmed()
    accounts.reset_two_factor(user, actor=_me())
    db.session.commit()
    flash(_("Two-factor sign-in of %(name)s is reset; they set it up again at their next "
            "sign-in.", name=user.display_name), "success")
    return redirect(url_for("admin.user_detail", user_id=user.id))


@bp.post("/users/<int:user_id>/reset-password")
def user_reset_password(user_id: int):
    """A new one-time password (shown once); the user must choose their own at sign-in."""
    user = _user_or_404(user_id)
    _confirmed()
    password = accounts.reset_password(user, actor=_me())
    db.session.commit()
    return render_template("admin/one_time_password.html", user=user, password=password,
                           created=False)


@bp.get("/roster")
def roster():
    """Who the voice line dials: phone, languages, on duty — one form per person."""
    people = [u for u in _all_users() if u.active]
    forms = {u.id: RosterForm(prefix=f"u{u.id}", phone=u.phone or "",
                              languages=u.language_list, on_duty=u.on_duty) for u in people}
    return render_template("admin/roster.html", people=people, forms=forms)


@bp.post("/users/<int:user_id>/roster")
def user_roster(user_id: int):
    """Save one person's roster entry (from the roster page or the user page)."""
    user = _user_or_404(user_id)
    form = RosterForm(prefix=f"u{user.id}")
    if not form.validate_on_submit():
        flash(_("The roster entry was not saved: check the fields."), "error")
        return _render_user(user, roster_form=form, status=400)
    try:
        accounts.update_roster(user, phone=form.phone.data or "",
                               languages=form.languages.data or [],
                               on_duty=bool(form.on_duty.data), actor=_me())
    except AccountError as exc:
        form.phone.errors = [*form.phone.errors, str(exc)]
        flash(_("The roster entry of %(name)s was not saved: %(reason)s", name=user.display_name,
                reason=str(exc)), "error")
        return _render_user(user, roster_form=form, status=400)
    db.session.commit()
    flash(_("Roster entry of %(name)s saved.", name=user.display_name), "success")
    return redirect(url_for("admin.roster"))


@bp.route("/tokens", methods=["GET", "POST"])
def tokens():
    """API tokens: list, create (shown once), revoke."""
    form = TokenForm()
    if form.validate_on_submit():
        row, clear = create_token(form.name.data.strip(), form.role.data)
        audit.record("admin.token_create", actor=_me(),
                     detail={"token_id": row.id, "role": row.role})
        db.session.commit()
        return render_template("admin/token_created.html", token=row, clear=clear)
    rows = db.session.execute(select(ApiToken).order_by(ApiToken.id.desc())).scalars().all()
    status = 400 if form.errors else 200
    return render_template("admin/tokens.html", tokens=rows, form=form,
                           confirm=ConfirmForm()), status


@bp.post("/tokens/<int:token_id>/revoke")
def token_revoke(token_id: int):
    """Revoke a token: the API refuses it from now on."""
    row = db.session.get(ApiToken, token_id)
    if row is None:
        abort(404, description=_("no such token"))
    _confirmed()
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        audit.record("admin.token_revoke", actor=_me(), detail={"token_id": row.id})
        db.session.commit()
    flash(_("Token “%(name)s” is revoked.", name=row.name), "success")
    return redirect(url_for("admin.tokens"))
