"""Language choice for public pages and caller-facing text."""

from __future__ import annotations

from flask import g, has_request_context, request

from hotline.languages import CODES as LANGUAGES
from hotline.languages import DEFAULT


def select_locale() -> str:
    """Locale for this request: an explicit choice, then ``?lang=``, then Accept-Language.

    Outside a request (a CLI command) it is the default language.
    """
    if not has_request_context():
        return DEFAULT
    chosen = getattr(g, "lang", None)
    if chosen in LANGUAGES:
        return chosen
    asked = request.args.get("lang", "")
    if asked in LANGUAGES:
        return asked
    best = request.accept_languages.best_match(LANGUAGES)
    return best or DEFAULT
