"""The public web channel: landing page with the contact form, and the follow-up pages.

Thin views over ``intake`` and ``receipts``. Every page is small, self-contained
(nothing from other hosts, no JavaScript) and in the visitor's language. Errors of any
kind (field errors, an expired form, a rate limit) redraw the form with everything the
visitor typed, except the secret receipt. Rate limits are keyed by a keyed hash of the
remote address, so neither the limiter's storage nor its log holds an address.
"""

from __future__ import annotations

import secrets
import time
from datetime import timedelta
from typing import Any

from flask import (
    Blueprint,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_limiter.errors import RateLimitExceeded
from flask_wtf.csrf import CSRFError
from werkzeug.datastructures import ImmutableMultiDict
from werkzeug.exceptions import HTTPException

from hotline.auth import server_sessions
from hotline.cases.references import format_reference, new_reference, parse_reference
from hotline.cases.vocabularies import LANGUAGE_NAMES, LANGUAGES
from hotline.channels.web import shown_receipt, throttle
from hotline.channels.web.forms import ContactForm, FollowupLoginForm, FollowupMessageForm
from hotline.channels.web.intake import (
    FollowupClosed,
    add_message,
    latest_case,
    record_opened,
    submit,
    thread,
)
from hotline.channels.web.receipts import ReceiptRefused, authenticate, format_receipt, new_receipt
from hotline.extensions import address_bucket, address_key, db, limiter
from hotline.models import Case, utcnow

bp = Blueprint("public", __name__)

# Rate limits (Flask-Limiter strings). Generous enough for many people behind one
# address (a Tor exit, a carrier NAT), tight enough to stop floods and guessing.
SUBMIT_LIMIT = "5 per minute;40 per hour"
# Follow-up sign-in attempts (``throttle``): per address, and per reference from one
# address; a success gives its slots back, so only refused attempts use them up.
FOLLOWUP_FAILURES_PER_ADDRESS = "10 per hour"
FOLLOWUP_FAILURES_PER_REFERENCE = "5 per 15 minutes"
FOLLOWUP_MESSAGE_LIMIT = "10 per minute;60 per hour"

# The follow-up session is short: it ends after this much inactivity, and in any case
# after the maximum, so a phone left open does not stay signed in.
FOLLOWUP_SESSION_KEY = "followup"
FOLLOWUP_IDLE_SECONDS = 15 * 60
FOLLOWUP_MAX_SECONDS = 60 * 60

LANG_PATH = "<any(" + ",".join(LANGUAGES) + "):lang>"


def _visitor_key() -> str:
    """Rate-limit key: a keyed hash of the remote address (the address itself never leaves)."""
    return "v:" + address_key()


def _too_many_attempts() -> str:
    return _("Too many attempts. Wait a while and try again.")


def _followup_buckets(typed_reference: str | None) -> list[throttle.Bucket]:
    """The throttle buckets of one sign-in attempt (see ``throttle``): per address, and
    per reference from that address; never per reference alone."""
    address = address_bucket()
    reference = parse_reference(typed_reference or "") or "malformed"
    return [throttle.bucket(f"followup-addr|{address}", FOLLOWUP_FAILURES_PER_ADDRESS),
            throttle.bucket(f"followup-ref|{reference}|{address}",
                            FOLLOWUP_FAILURES_PER_REFERENCE)]


@bp.url_value_preprocessor
def _take_language(endpoint: str | None, values: dict[str, Any] | None) -> None:
    if values and "lang" in values:
        g.lang = values.pop("lang")


@bp.context_processor
def _page_context() -> dict[str, Any]:
    current = str(get_locale())
    on_followup = (request.endpoint or "").startswith("public.followup")
    endpoint = "public.followup" if on_followup else "public.index"
    if request.endpoint == "public.received":  # the receipt, in another language
        endpoint = "public.received"
    links = [{"code": code, "name": LANGUAGE_NAMES[code], "current": code == current,
              "href": url_for(endpoint, lang=code)} for code in LANGUAGES]
    phone = current_app.config.get("HOTLINE_PHONE_DISPLAY")
    return {
        "current_lang": current,
        "language_links": links,
        "phone_display": phone,
        "phone_href": "tel:" + "".join(ch for ch in phone if ch.isdigit() or ch == "+")
        if phone else None,
        "whatsapp_display": current_app.config.get("HOTLINE_WHATSAPP_DISPLAY"),
    }


def _lang() -> str:
    return str(get_locale())


# --- the landing page and the contact form ------------------------------------------------

# The browser session's random key that scopes the contact form's submission ids.
FORM_SCOPE_KEY = "web_form_scope"


def _form_scope() -> str:
    """This browser session's form key (drawn once per session)."""
    scope = session.get(FORM_SCOPE_KEY)
    if not isinstance(scope, str) or not scope:
        scope = session[FORM_SCOPE_KEY] = secrets.token_urlsafe(18)
    return scope


def _form_page(form: ContactForm, status: int = 200, notice: str | None = None):
    form.ensure_submission_id()
    _form_scope()
    return render_template("public/index.html", form=form, notice=notice), status


def _show_receipt(reference: str, receipt: str):
    """Keep the receipt for reloads (``shown_receipt``) and send the browser to its page."""
    shown_receipt.remember(reference, receipt)
    return redirect(_received_url(), 303)


def _received_url() -> str:
    # Its own fragment: the form's "#error-summary" would otherwise carry over to it.
    return url_for("public.received", lang=_lang(), _anchor="main")


@bp.route("/", methods=["GET", "POST"])
@bp.route(f"/{LANG_PATH}/", methods=["GET", "POST"])
@limiter.limit(SUBMIT_LIMIT, key_func=_visitor_key, methods=["POST"])
def index():
    """The explanation of the hotline and the contact form; POST sends it."""
    form = ContactForm()
    if request.method == "GET":
        form.language.data = _lang()
        return _form_page(form)
    if form.is_bot:
        # Looks exactly like success to the bot; nothing is stored in the database.
        return _show_receipt(format_reference(new_reference()), format_receipt(new_receipt()))
    if not form.validate():
        return _form_page(form, 400, _("Please check the marked fields. Nothing was sent yet."))
    result = submit(
        message=form.message.data, name=form.name.data or None,
        contact=form.contact.data or None, language=form.language.data,
        region=form.region.data or None, contact_ok=form.contact_ok.data == "yes",
        submission_id=form.ensure_submission_id(), form_scope=_form_scope(),
    )
    db.session.commit()
    if result.receipt:
        return _show_receipt(result.case.display_reference, format_receipt(result.receipt))
    shown = shown_receipt.recall()
    if shown is not None and shown.reference == result.case.display_reference:
        return redirect(_received_url(), 303)  # sent twice
    return render_template("public/received.html", reference=result.case.display_reference,
                           receipt=None, duplicate=True)


@bp.get("/received")
@bp.get(f"/{LANG_PATH}/received")
def received():
    """The case number and receipt just issued; a reload shows them again for
    ``shown_receipt.RELOAD_SECONDS`` in the same browser, then the page has expired."""
    shown = shown_receipt.recall()
    if shown is None:
        page = render_template("public/received_expired.html",
                               minutes=shown_receipt.RELOAD_SECONDS // 60)
    else:
        page = render_template("public/received.html", reference=shown.reference,
                               receipt=shown.receipt, duplicate=False,
                               minutes=shown_receipt.RELOAD_SECONDS // 60)
    response = current_app.make_response(page)
    response.headers["Cache-Control"] = "no-store"  # never from a cache, never to disk
    return response


# --- coming back: reference + receipt ---------------------------------------------------

def _now() -> float:
    return time.time()


def _start_followup(case: Case) -> None:
    """A fresh session signed into ``case``, recorded on the server (the caller commits)."""
    session.clear()
    now = _now()
    token = server_sessions.open_session(server_sessions.FOLLOWUP, utcnow(), case_id=case.id)
    session[FOLLOWUP_SESSION_KEY] = {"case": case.id, "since": now, "seen": now, "sid": token}


def _end_followup() -> None:
    """End the follow-up session of this browser, on the server too (commits)."""
    data = session.get(FOLLOWUP_SESSION_KEY)
    if isinstance(data, dict):
        server_sessions.revoke(data.get("sid"))
        db.session.commit()
    session.pop(FOLLOWUP_SESSION_KEY, None)


def _followup_case() -> Case | None:
    """The case of a live follow-up session (sliding idle timeout, absolute maximum).

    Both the cookie's stamps and the server's record must be live; the record names the
    case, so the cookie can never point the session anywhere else.
    """
    data = session.get(FOLLOWUP_SESSION_KEY)
    if not isinstance(data, dict):
        return None
    now = _now()
    case = None
    try:
        fresh = (now - float(data["seen"]) <= FOLLOWUP_IDLE_SECONDS
                 and now - float(data["since"]) <= FOLLOWUP_MAX_SECONDS)
        record = server_sessions.check(
            data.get("sid"), server_sessions.FOLLOWUP, utcnow(),
            idle=timedelta(seconds=FOLLOWUP_IDLE_SECONDS),
            lifetime=timedelta(seconds=FOLLOWUP_MAX_SECONDS)) if fresh else None
        if record is not None and record.case_id == int(data["case"]):
            case = db.session.get(Case, record.case_id)
    except (KeyError, TypeError, ValueError):
        case = None
    db.session.commit()
    if case is None or case.purged_at is not None:
        _end_followup()
        g.followup_ended = True
        return None
    session[FOLLOWUP_SESSION_KEY] = {**data, "seen": now}
    return case


def _login_page(form: FollowupLoginForm, status: int = 200, notice: str | None = None):
    form.receipt.data = ""  # never echo the secret back into the page
    if notice is None and g.get("followup_ended"):
        notice = _("Your session ended. Please enter your numbers again.")
    return render_template("public/followup_login.html", form=form, notice=notice), status


def _thread_page(case: Case, form: FollowupMessageForm | None = None, status: int = 200,
                 notice: str | None = None):
    form = form or FollowupMessageForm(formdata=None)
    form.ensure_submission_id()
    entries, more = thread(case, request.args.get("before", type=int))
    return render_template(
        "public/followup.html", case=latest_case(case), entries=entries, more=more, form=form,
        notice=notice, idle_minutes=FOLLOWUP_IDLE_SECONDS // 60), status


@bp.route("/followup", methods=["GET", "POST"])
def followup():
    """GET: the conversation when signed in, else the sign-in form. POST: sign in."""
    if request.method == "GET":
        case = _followup_case()
        if case is not None:
            return _thread_page(case)
        return _login_page(FollowupLoginForm(formdata=None))
    form = FollowupLoginForm()
    if not form.validate():
        return _login_page(form, 400)
    buckets = _followup_buckets(form.reference.data)
    allowed = throttle.take(buckets)
    db.session.commit()  # the slot is taken before the receipt is checked: no race
    if not allowed:
        return _login_page(form, 429, _too_many_attempts())
    try:
        case = authenticate(form.reference.data, form.receipt.data)
    except ReceiptRefused:
        db.session.rollback()
        return _login_page(form, 400, _("These details do not match. Check both and try again."))
    throttle.give_back(buckets)
    _start_followup(case)
    record_opened(case)
    db.session.commit()
    return redirect(url_for("public.followup", lang=_lang()), 303)


@bp.post("/followup/message")
@limiter.limit(FOLLOWUP_MESSAGE_LIMIT, key_func=_visitor_key)
def followup_message():
    """Add the visitor's message to their case."""
    case = _followup_case()
    if case is None:
        return _login_page(FollowupLoginForm(formdata=None), 403)
    form = FollowupMessageForm()
    if not form.validate():
        return _thread_page(case, form, 400,
                            _("Please check the marked fields. Nothing was sent yet."))
    try:
        # The session stays on the case it signed into, whichever case takes the message
        # (after the reopen window, a new case of the same caller, on the same thread).
        add_message(case, form.message.data, form.ensure_submission_id())
        db.session.commit()
    except FollowupClosed:
        _end_followup()
        return _login_page(FollowupLoginForm(formdata=None), 410)
    flash(_("Your message has been added."))
    return redirect(url_for("public.followup", lang=_lang()), 303)


@bp.post("/followup/leave")
def followup_leave():
    """End the follow-up session now, on the server too: a copied cookie stops working."""
    _end_followup()
    session.clear()
    return redirect(url_for("public.index", lang=_lang()), 303)


# --- errors on public pages: redraw the form, keep what was typed -------------------------

def _redraw(status: int, contact_notice: str, followup_notice: str):
    # Explicit form data: Flask-WTF would otherwise parse a JSON body and fail on a bad one.
    try:
        formdata = request.form
    except HTTPException:  # a body too large or malformed to read: nothing to keep
        formdata = ImmutableMultiDict()
    endpoint = request.endpoint
    if endpoint == "public.index" and request.method == "POST":
        return _form_page(ContactForm(formdata=formdata), status, contact_notice)
    if endpoint == "public.followup" and request.method == "POST":
        return _login_page(FollowupLoginForm(formdata=formdata), status, followup_notice)
    if endpoint == "public.followup_message":
        case = _followup_case()
        if case is not None:
            return _thread_page(case, FollowupMessageForm(formdata=formdata), status,
                                contact_notice)
        return _login_page(FollowupLoginForm(formdata=None), status, followup_notice)
    return redirect(url_for("public.index", lang=_lang()), 303)


@bp.errorhandler(CSRFError)
def _csrf_error(error: CSRFError):
    expired = _("This form had expired, so it was not sent. Your text is still here: "
                "please press Send again.")
    return _redraw(400, expired, _("This form had expired. Please enter your numbers again."))


@bp.errorhandler(RateLimitExceeded)
def _rate_limited(error: RateLimitExceeded):
    return _redraw(
        429,
        _("Too many messages have been sent from your connection. Your text is still "
          "here: please wait a few minutes and press Send again."),
        _too_many_attempts(),
    )
