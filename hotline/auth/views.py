"""The sign-in pages: password, second factor (enrolment or code), forced new password,
sign-out and the signed-in user's password change.

The steps: ``/login`` (password) → ``/login/two-factor`` (enrol with a QR code the first
time, else a code) → ``/login/new-password`` when the account must choose one → the
``next`` page or the dashboard. Only the last step signs the user in (``start_session``).
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user

from hotline import audit
from hotline.auth import steps, totp
from hotline.auth.accounts import (
    AccountError,
    change_password,
    end_all_sessions,
    set_ui_language,
)
from hotline.auth.forms import (
    ChangePasswordForm,
    CodeForm,
    LanguageForm,
    LoginForm,
    NewPasswordForm,
)
from hotline.auth.guards import fully_authenticated, staff_required
from hotline.auth.lifetime import (
    PENDING_MFA_KEY,
    end_session,
    pending_user,
    start_pending,
    start_session,
)
from hotline.auth.login import (
    GENERIC_FAILURE,
    SignInFailed,
    address_limit,
    check_code,
    check_password,
    is_locked,
    register_failure,
    signed_in,
)
from hotline.auth.passwords import verify_password
from hotline.auth.redirects import landing, safe_next
from hotline.extensions import db, limiter
from hotline.i18n import N_, staff_default
from hotline.models import User

bp = Blueprint("auth", __name__)
bp.add_app_template_global(steps.step_texts, "first_sign_in_steps")

LOCKED_CHANGE_MESSAGE = N_("Too many wrong passwords: the account is locked for a while and "
                         "this session was signed out.")
RESTART_MESSAGE = N_("Your sign-in took too long or was interrupted. Please start again.")


def _finish(user: User):
    """Both factors passed and no password to choose: sign in and leave the login pages."""
    signed_in(user)
    next_url = start_session(user)
    db.session.commit()
    return redirect(landing(next_url))


def _restart():
    end_session()
    flash(_(RESTART_MESSAGE), "error")
    return redirect(url_for("auth.login"))


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(address_limit, methods=["POST"])
def login():
    """Step one: email and password."""
    if fully_authenticated():
        return redirect(landing(request.args.get("next")))
    form = LoginForm()
    if request.method == "GET":
        form.next.data = safe_next(request.args.get("next")) or ""
    if form.validate_on_submit():
        try:
            user = check_password(form.email.data, form.password.data)
        except SignInFailed as exc:
            db.session.commit()
            flash(str(exc), "error")
            return render_template("auth/login.html", form=form), 401
        db.session.commit()
        start_pending(user, safe_next(form.next.data))
        return redirect(url_for("auth.two_factor"))
    if request.method == "POST":
        flash(_(GENERIC_FAILURE), "error")
        return render_template("auth/login.html", form=form), 400
    return render_template("auth/login.html", form=form)


@bp.route("/login/two-factor", methods=["GET", "POST"])
@limiter.limit(address_limit, methods=["POST"])
def two_factor():
    """Step two: enrol an authenticator app (first sign-in) or enter its current code."""
    user = pending_user()
    if user is None:
        return _restart()
    if session.get(PENDING_MFA_KEY):
        return redirect(url_for("auth.new_password"))
    enrolling = not user.totp_confirmed
    if enrolling and not user.totp_secret:
        user.totp_secret = totp.new_secret()
        db.session.commit()
    form = CodeForm()
    if form.validate_on_submit():
        try:
            check_code(user, form.code.data)
        except SignInFailed as exc:
            db.session.commit()
            flash(str(exc), "error")
        else:
            if enrolling:
                user.totp_confirmed = True
                audit.record("auth.totp_enrolled", actor=user)
            if user.must_change_password:
                db.session.commit()
                session[PENDING_MFA_KEY] = True
                return redirect(url_for("auth.new_password"))
            return _finish(user)
    elif request.method == "POST":
        flash(form.code.errors[0] if form.code.errors else _("Enter the six-digit code."), "error")
    status = 400 if request.method == "POST" else 200
    if enrolling:
        uri = totp.provisioning_uri(user, user.totp_secret)
        return render_template("auth/enrol.html", form=form, qr_svg=totp.qr_svg(uri),
                               secret=totp.grouped(user.totp_secret), user=user), status
    return render_template("auth/two_factor.html", form=form), status


@bp.route("/login/new-password", methods=["GET", "POST"])
def new_password():
    """Step three, for accounts with a one-time password: choose a new one."""
    user = pending_user()
    if user is None or not session.get(PENDING_MFA_KEY):
        return _restart()
    if not user.must_change_password:
        return _finish(user)
    form = NewPasswordForm()
    if form.validate_on_submit():
        try:
            change_password(user, form.password.data, actor=user, forced=True)
        except AccountError as exc:
            form.password.errors = [*form.password.errors, str(exc)]
        else:
            return _finish(user)
    status = 400 if request.method == "POST" else 200
    return render_template("auth/new_password.html", form=form), status


@bp.post("/logout")
def logout():
    """Sign out of this browser (CSRF-checked like every POST)."""
    if current_user.is_authenticated:
        audit.record("auth.logout", actor=current_user._get_current_object())
        db.session.commit()
    end_session()
    flash(_("You are signed out."), "success")
    return redirect(url_for("auth.login"))


@bp.post("/logout/everywhere")
@staff_required()
def logout_everywhere():
    """Sign out of every browser and device of this user, this one included."""
    user = current_user._get_current_object()
    end_all_sessions(user)
    audit.record("auth.logout_everywhere", actor=user)
    db.session.commit()
    end_session()
    flash(_("You are signed out on every browser and device."), "success")
    return redirect(url_for("auth.login"))


@bp.route("/account/password", methods=["GET", "POST"])
@staff_required()
@limiter.limit(address_limit, methods=["POST"])
def account_password():
    """A signed-in user changes their password; every other session of theirs ends."""
    user = current_user._get_current_object()
    form = ChangePasswordForm()
    if form.validate_on_submit():
        if is_locked(user):
            form.current.errors = [*form.current.errors, _(LOCKED_CHANGE_MESSAGE)]
        elif not verify_password(user.password_hash, form.current.data):
            # Counts towards the sign-in lockout and is audited (register_failure), so a
            # borrowed session cannot guess the password behind it without limit.
            locked = register_failure(user, "password_change")
            db.session.commit()
            if locked:
                end_session()
                flash(_(LOCKED_CHANGE_MESSAGE), "error")
                return redirect(url_for("auth.login"))
            form.current.errors = [*form.current.errors, _("The current password is wrong.")]
        else:
            try:
                change_password(user, form.password.data, actor=user)
            except AccountError as exc:
                form.password.errors = [*form.password.errors, str(exc)]
            else:
                db.session.commit()
                # This browser keeps working: a fresh session under the new token.
                start_session(user)
                db.session.commit()
                flash(_("Your password is changed; every other session was signed out."),
                      "success")
                return redirect(url_for("auth.account_password"))
    status = 400 if request.method == "POST" else 200
    return _account_page(form=form, status=status)


def _account_page(*, form: ChangePasswordForm | None = None,
                  language_form: LanguageForm | None = None, status: int = 200):
    user = current_user._get_current_object()
    form = form or ChangePasswordForm(formdata=None)
    language_form = language_form or LanguageForm(staff_default(), formdata=None,
                                                  ui_language=user.ui_language or "")
    return render_template("auth/change_password.html", form=form,
                           language_form=language_form), status


@bp.post("/account/language")
@staff_required()
def account_language():
    """A signed-in user chooses the language of their pages (audited)."""
    user = current_user._get_current_object()
    form = LanguageForm(staff_default())
    if not form.validate_on_submit():
        return _account_page(language_form=form, status=400)
    set_ui_language(user, form.ui_language.data, actor=user)
    db.session.commit()
    flash(_("The language of your pages is saved."), "success")
    return redirect(url_for("auth.account_password"))
