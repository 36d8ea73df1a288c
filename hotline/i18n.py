"""Language choice for every page: the public pages, the sign-in pages, the staff pages.

- Public pages (the ``public`` blueprint): the language in the URL (``/ko/``), then
  ``?lang=``, then the browser's Accept-Language, then English.
- Staff pages (everything else a browser sees): the signed-in person's own choice (their
  account page, or an admin on the user page), else ``STAFF_DEFAULT_LANGUAGE``. Before the
  person is known (the password step), the browser's Accept-Language, else the same
  default; from the second-factor step on, the person who passed the password step.

``<html lang>`` on every page is ``html_lang`` (the locale chosen here), so a screen
reader and the browser's spell check agree with the text.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, current_app, g, has_request_context, request
from flask_babel import get_locale

from hotline.languages import CODES as LANGUAGES
from hotline.languages import DEFAULT

PUBLIC_BLUEPRINTS = frozenset({"public"})


def N_(message: str) -> str:  # noqa: N802 (gettext's conventional name)
    """Mark a constant for the catalogues; it is translated where it is shown (``_(…)``)."""
    return message


def staff_default() -> str:
    """The deployment's default staff language (``STAFF_DEFAULT_LANGUAGE``)."""
    chosen = current_app.config.get("STAFF_DEFAULT_LANGUAGE") or DEFAULT
    return chosen if chosen in LANGUAGES else DEFAULT


def user_language(user: Any) -> str:
    """The language of ``user``'s pages: their own choice, else the deployment default."""
    chosen = getattr(user, "ui_language", None)
    return chosen if chosen in LANGUAGES else staff_default()


def _known_person() -> Any:
    """The signed-in person, or the one who passed the password step, or None."""
    from flask_login import current_user

    from hotline.auth.lifetime import pending_user

    if current_user.is_authenticated:
        return current_user
    return pending_user()


def select_locale() -> str:
    """Locale for this request (see the module docstring for the order).

    Outside a request (a CLI command) it is the default language.
    """
    if not has_request_context():
        return DEFAULT
    if request.blueprint in PUBLIC_BLUEPRINTS:
        chosen = getattr(g, "lang", None)
        if chosen in LANGUAGES:
            return chosen
        asked = request.args.get("lang", "")
        if asked in LANGUAGES:
            return asked
        return request.accept_languages.best_match(LANGUAGES) or DEFAULT
    person = _known_person()
    if person is not None:
        return user_language(person)
    return request.accept_languages.best_match(LANGUAGES) or staff_default()


def register(app: Flask) -> None:
    """Give every template ``html_lang``, the language code for ``<html lang>``."""

    @app.context_processor
    def _html_lang() -> dict[str, Any]:
        return {"html_lang": str(get_locale()) if has_request_context() else DEFAULT}
