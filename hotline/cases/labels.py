"""What each vocabulary value is called on the staff pages, in every staff language.

One table per vocabulary (``cases.workflow``, ``cases.vocabularies``, ``cases.timeline``
declare the values; this module only names them), read by ``label`` (the ``|label``
filter, the action forms' options, the reports' breakdowns). The stored values and CSV
columns stay the code words; only what people read is translated.
``tests/app/test_translations.py`` checks that every value of every vocabulary is named
here. A value an operator adds through ``CLASSIFICATION_VOCABULARIES`` has no entry and
is shown as written (``in_progress`` → ``in progress``).
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString

STATUS_LABELS: dict[str, LazyString] = {
    "new": _l("new"),
    "triaged": _l("triaged"),
    "in_progress": _l("in progress"),
    "waiting": _l("waiting"),
    "closed": _l("closed"),
}
RESOLUTION_LABELS: dict[str, LazyString] = {
    "handed_over": _l("handed over"),
    "information_provided": _l("information provided"),
    "referred": _l("referred"),
    "no_contact": _l("no contact"),
    "duplicate": _l("duplicate"),
    "hoax": _l("hoax"),
}
CHANNEL_LABELS: dict[str, LazyString] = {
    "web": _l("web form"),
    "sms": _l("SMS"),
    "whatsapp": _l("WhatsApp"),
    "telegram": _l("Telegram"),
    "voice": _l("voice call"),
}
CATEGORY_LABELS: dict[str, LazyString] = {
    "surrender": _l("surrender"),
    "conscription": _l("conscription"),
    "relative": _l("a relative"),
    "information": _l("information"),
    "hostile": _l("hostile"),
    "other": _l("other"),
}
CALLER_TYPE_LABELS: dict[str, LazyString] = {
    "serviceman": _l("serviceman"),
    "conscript_risk": _l("at risk of conscription"),
    "relative": _l("a relative"),
    "civilian": _l("civilian"),
    "unknown": _l("unknown"),
}
AFFILIATION_LABELS: dict[str, LazyString] = {
    "russia": _l("Russia"),
    "dprk": _l("DPRK"),
    "other": _l("other"),
    "unknown": _l("unknown"),
}
URGENCY_LABELS: dict[str, LazyString] = {
    "immediate": _l("immediate"),
    "high": _l("high"),
    "normal": _l("normal"),
}
ROLE_LABELS: dict[str, LazyString] = {
    "staff": _l("staff"),
    "supervisor": _l("supervisor"),
    "admin": _l("admin"),
    "stats": _l("statistics"),
}
FIELD_LABELS: dict[str, LazyString] = {
    "category": _l("category"),
    "caller_type": _l("caller type"),
    "affiliation": _l("affiliation"),
    "urgency": _l("urgency"),
    "language": _l("language"),
    # A caller flag change is a classification change entry too (``actions.flag_caller``).
    "caller_flag": _l("caller flag"),
}
CALLBACK_OUTCOME_LABELS: dict[str, LazyString] = {
    "reached": _l("reached"),
    "no_answer": _l("no answer"),
    "busy": _l("busy"),
    "voicemail_left": _l("voicemail left"),
    "wrong_number": _l("wrong number"),
    "failed": _l("failed"),
    "canceled": _l("cancelled"),
    "staff_missed": _l("staff member did not answer"),
    "not_placed": _l("not placed"),
}
DELIVERY_LABELS: dict[str, LazyString] = {
    "queued": _l("queued"),
    "sending": _l("sending"),
    "not_sent": _l("not sent"),
    "published": _l("published"),
    "unknown": _l("unknown"),
    "accepted": _l("accepted"),
    "sent": _l("sent"),
    "delivered": _l("delivered"),
    "read": _l("read"),
    "undelivered": _l("undelivered"),
    "failed": _l("failed"),
}
CALLER_FLAG_LABELS: dict[str, LazyString] = {
    "hostile": _l("hostile"),
    "blocked": _l("blocked"),
}
# The default keyword rules' names (``cases.keywords``; an operator's own rules are shown
# as written) and the Telegram contents Hotline records but does not show.
KEYWORD_RULE_LABELS: dict[str, LazyString] = {
    "surrender": _l("surrender"),
    "danger": _l("danger"),
    "wounded": _l("wounded"),
    "now": _l("urgent now"),
}
UNSHOWN_CONTENT_LABELS: dict[str, LazyString] = {
    "sticker": _l("sticker"),
    "poll": _l("poll"),
    "dice": _l("dice"),
    "game": _l("game"),
    "story": _l("story"),
    "paid_media": _l("paid media"),
    "giveaway": _l("giveaway"),
    "invoice": _l("invoice"),
    "checklist": _l("checklist"),
}

# Every table, for ``label`` and the completeness test; where two vocabularies share a
# code word (``other``, ``unknown``, ``failed``) they share the English text too.
TABLES: tuple[dict[str, LazyString], ...] = (
    STATUS_LABELS, RESOLUTION_LABELS, CHANNEL_LABELS, CATEGORY_LABELS, CALLER_TYPE_LABELS,
    AFFILIATION_LABELS, URGENCY_LABELS, ROLE_LABELS, FIELD_LABELS, CALLBACK_OUTCOME_LABELS,
    DELIVERY_LABELS, CALLER_FLAG_LABELS, KEYWORD_RULE_LABELS, UNSHOWN_CONTENT_LABELS,
)
_ALL: dict[str, LazyString] = {}
for _table in TABLES:
    for _value, _text in _table.items():
        _ALL.setdefault(_value, _text)


def label(value: str) -> str:
    """A vocabulary value as people read it, in the page's language.

    Unknown values (an operator's own classification) are shown as written, with spaces
    for underscores.
    """
    known = _ALL.get(value)
    return str(known) if known is not None else value.replace("_", " ")
