"""Helpers for the public web tests: read hidden fields, fill in and send the forms."""

from __future__ import annotations

import html
import re

from flask.testing import FlaskClient

_HIDDEN = re.compile(r'<input[^>]*\bname="([a-z_]+)"[^>]*\btype="hidden"[^>]*\bvalue="([^"]*)"'
                     r'|<input[^>]*\btype="hidden"[^>]*\bname="([a-z_]+)"[^>]*\bvalue="([^"]*)"')
REFERENCE = re.compile(r'id="reference">([0-9A-Z]{4}-[0-9A-Z]{4})<')
RECEIPT = re.compile(r'id="receipt">((?:<span class="group">\d{4} \d{4}</span> ?){2})</dd>')
MAIN = re.compile(r"<main[^>]*>(.*)</main>", re.S)
TAG = re.compile(r"<[^>]+>")


def hidden_fields(page: str) -> dict[str, str]:
    """The hidden inputs of a page (the first of each name)."""
    fields: dict[str, str] = {}
    for match in _HIDDEN.finditer(page):
        name = match.group(1) or match.group(3)
        value = match.group(2) if match.group(1) else match.group(4)
        fields.setdefault(name, html.unescape(value))
    return fields


def main_text(page: str) -> str:
    """The visible text of ``<main>``, tags removed."""
    found = MAIN.search(page)
    return html.unescape(TAG.sub(" ", found.group(1) if found else page))


def contact_form(client: FlaskClient, lang: str = "en") -> dict[str, str]:
    """Load the contact form in ``lang`` and return its hidden fields."""
    response = client.get(f"/{lang}/")
    assert response.status_code == 200
    return hidden_fields(response.get_data(as_text=True))


def form_data(hidden: dict[str, str], **fields: str) -> dict[str, str]:
    """A complete contact form: the hidden fields plus defaults, overridden by ``fields``."""
    data = {"message": "I need help, please answer.", "name": "", "contact": "",
            "language": "en", "region": "", "contact_ok": "no", "website": ""}
    data.update(hidden)
    data.update(fields)
    return data


def send_contact(client: FlaskClient, lang: str = "en", follow: bool = True,
                 **fields: str):
    """Load the form in ``lang``, fill it in and POST it; returns the response (the
    receipt page the 303 leads to, unless ``follow`` is False)."""
    hidden = contact_form(client, lang)
    return client.post(f"/{lang}/", data=form_data(hidden, **fields), follow_redirects=follow)


def reference_and_receipt(page: str) -> tuple[str, str]:
    """The case reference and receipt (``1234 5678 9012 3456``) shown on the receipt page."""
    return REFERENCE.search(page).group(1), TAG.sub("", RECEIPT.search(page).group(1))


def followup_login(client: FlaskClient, reference: str, receipt: str, lang: str = "en",
                   **environ: str):
    """Load the follow-up sign-in form and send reference and receipt."""
    page = client.get(f"/followup?lang={lang}", environ_base=dict(environ))
    hidden = hidden_fields(page.get_data(as_text=True))
    return client.post(f"/followup?lang={lang}", environ_base=dict(environ),
                       data={**hidden, "reference": reference, "receipt": receipt})
