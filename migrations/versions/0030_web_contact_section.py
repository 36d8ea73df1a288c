"""Web cases from before the timeline: the contact section leaves the message text.

Until migration 0027 the web form appended what the visitor typed under "how can we reach
you" to their message, as ``<message>\\n\\n[Contact details given on the web form: <contact>]``,
so the contact stood unmasked inside the body (issue 12). The form now stores it in
``cases.contact_details``, masked on the case page behind an audited reveal. This
migration moves each such section of a web message out of the (encrypted) body into its
case's ``contact_details``, both encrypted with the app's cipher as the models do.

Nothing the caller wrote is lost: the body keeps everything before the section; the
section's text is the contact, added after any contact details the case already holds
(unless it holds exactly that text already). A body is changed only when it ends with
the section, so a second run finds nothing to do. Purged cases (bodies gone) are skipped.
No schema change; downgrade leaves the data where it is, where the code of 0027 on reads it.

Revision ID: 0030_web_contact_section
Revises: 0029_user_language
"""

import sqlalchemy as sa
from alembic import op
from flask import current_app

from hotline.crypto import EXTENSION_KEY, DecryptionError

revision = "0030_web_contact_section"
down_revision = "0029_user_language"
branch_labels = None
depends_on = None

BATCH = 500
# The section exactly as the old form wrote it (hotline/intake/web_intake.py, compose_body).
SECTION_START = "\n\n[Contact details given on the web form: "
SECTION_END = "]"

INTERACTIONS = sa.table("interactions", sa.column("id", sa.Integer),
                        sa.column("case_id", sa.Integer), sa.column("kind", sa.String),
                        sa.column("channel", sa.String), sa.column("body", sa.Text))
CASES = sa.table("cases", sa.column("id", sa.Integer), sa.column("contact_details", sa.Text))


def split_section(body: str) -> tuple[str, str] | None:
    """``(message, contact)`` when ``body`` ends with the old contact section, else None.

    The last section start is taken: the form's contact field is one stripped line, so
    the contact holds no blank line; the message and the contact together keep every
    character of the body but the section's own label and brackets.
    """
    start = body.rfind(SECTION_START)
    if start < 0 or not body.endswith(SECTION_END):
        return None
    contact = body[start + len(SECTION_START):-len(SECTION_END)].strip()
    if not contact:
        return None
    return body[:start], contact


def merged(existing: str | None, contact: str) -> str:
    """The case's contact details with ``contact`` added (once) after what it held."""
    if not existing or not existing.strip():
        return contact
    if contact in existing.splitlines():
        return existing
    return f"{existing}\n{contact}"


def upgrade():
    fields = current_app.extensions[EXTENSION_KEY]  # the app's FieldCipher (MultiFernet)
    conn = op.get_bind()
    last = 0
    while True:
        rows = conn.execute(
            sa.select(INTERACTIONS.c.id, INTERACTIONS.c.case_id, INTERACTIONS.c.body)
            .where(INTERACTIONS.c.channel == "web", INTERACTIONS.c.kind == "message_in",
                   INTERACTIONS.c.body.is_not(None), INTERACTIONS.c.id > last)
            .order_by(INTERACTIONS.c.id).limit(BATCH)
        ).all()
        if not rows:
            break
        for row in rows:
            try:
                parts = split_section(fields.decrypt(row.body))
            except DecryptionError as exc:
                raise SystemExit(f"hotline: interaction {row.id}: HOTLINE_ENCRYPTION_KEYS "
                                 "cannot decrypt its body; fix the keys before upgrading"
                                 ) from exc
            if parts is None:
                continue
            message, contact = parts
            stored = conn.execute(sa.select(CASES.c.contact_details)
                                  .where(CASES.c.id == row.case_id)).scalar()
            existing = fields.decrypt(stored) if stored else None
            conn.execute(CASES.update().where(CASES.c.id == row.case_id).values(
                contact_details=fields.encrypt(merged(existing, contact))))
            conn.execute(INTERACTIONS.update().where(INTERACTIONS.c.id == row.id)
                         .values(body=fields.encrypt(message)))
        last = rows[-1].id


def downgrade():
    pass
