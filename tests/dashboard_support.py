"""Helpers for the dashboard and case-action tests: cases, CSRF tokens, form posts."""

from __future__ import annotations

import itertools
import re
from datetime import datetime, timedelta
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from hotline.cases.references import format_reference, new_reference
from hotline.crypto import address_index
from hotline.extensions import db
from hotline.models import Caller, Case, Interaction, utcnow
from tests.conftest import csrf_token

_numbers = itertools.count(1000)


def make_case(app: Flask, *, address: str | None = None, kind: str = "phone",
              channel: str = "sms", status: str = "new", urgency: str = "normal",
              created_at: datetime | None = None, assigned_to: Any = None,
              callback_needed: bool = False, language: str | None = "ru",
              category: str | None = None, body: str | None = "Здравствуйте",
              caller_id: int | None = None) -> dict[str, Any]:
    """Insert a caller (unless ``caller_id``), a case and its first message; returns ids."""
    with app.app_context():
        if caller_id is None:
            if address is None:
                address = f"+7916555{next(_numbers):04d}" if kind != "web" else \
                    f"web-{next(_numbers)}"
            caller = Caller(address_index=address_index(kind, address), address=address,
                            address_kind=kind)
            db.session.add(caller)
            db.session.flush()
            caller_id = caller.id
        created = created_at or utcnow()
        case = Case(reference=new_reference(), caller_id=caller_id, channel=channel,
                    status=status, urgency=urgency, language=language, category=category,
                    created_at=created, updated_at=created, callback_needed=callback_needed,
                    assigned_to_id=assigned_to.id if assigned_to is not None else None,
                    closed_at=created if status == "closed" else None,
                    resolution="referred" if status == "closed" else None)
        db.session.add(case)
        db.session.flush()
        if body is not None:
            db.session.add(Interaction(case_id=case.id, kind="message_in", channel=channel,
                                       body=body, meta={}, created_at=created))
        db.session.commit()
        return {"id": case.id, "reference": format_reference(case.reference),
                "stored": case.reference, "caller_id": caller_id}


def minutes_ago(n: int) -> datetime:
    """A moment ``n`` minutes before now (UTC)."""
    return utcnow() - timedelta(minutes=n)


def form_version(html: str, form: str) -> int:
    """The case version a rendered action form carries."""
    match = re.search(rf'name="{form}-version" type="hidden" value="(\d+)"', html)
    assert match, f"no version in the {form} form"
    return int(match.group(1))


def case_url(reference: str, action: str | None = None) -> str:
    """The case page (or one of its action endpoints)."""
    return f"/dashboard/cases/{reference}" + (f"/{action}" if action else "")


def post_action(client: FlaskClient, reference: str, action: str, *,
                version: int | None = None, **fields: str):
    """Load the case page like a browser, then submit one action form with its token."""
    page = client.get(case_url(reference))
    assert page.status_code == 200, page.status_code
    html = page.get_data(as_text=True)
    data = {f"{action}-csrf_token": csrf_token(html),
            f"{action}-version": str(version if version is not None
                                     else form_version(html, action))}
    data.update({f"{action}-{name}": value for name, value in fields.items()})
    return client.post(case_url(reference, action), data=data)


def get_case(app: Flask, case_id: int) -> Case:
    """A fresh, detached copy of a case row."""
    with app.app_context():
        case = db.session.get(Case, case_id)
        db.session.expunge(case)
        return case


def timeline_kinds(app: Flask, case_id: int) -> list[str]:
    """The kinds of a case's interactions, in order."""
    with app.app_context():
        return [i.kind for i in db.session.query(Interaction)
                .filter_by(case_id=case_id).order_by(Interaction.id)]
