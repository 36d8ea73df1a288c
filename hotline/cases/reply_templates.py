"""Approved replies: named texts per language that staff send in two clicks.

Admins and supervisors keep them on ``/admin/replies`` (every change audited); the texts
are encrypted at rest like every other free text. The reply form offers the templates
that have a text in the case's language; sent with an empty text box, the chosen
template's text is the reply. A user marked *approved replies only* may send nothing else
(``cases.actions.reply`` refuses with 403, audited).

The starter set is written for this line: short, and discreet like the auto-replies (no
organisation, no topic; the phone may be read by someone else).
"""

from __future__ import annotations

from collections.abc import Mapping

from flask_babel import gettext as _
from sqlalchemy import func, select

from hotline import audit
from hotline.extensions import db
from hotline.models import Case, ReplyTemplate, User, utcnow

TEMPLATE_LANGUAGES = ("ko", "ru", "uk", "en")
MAX_NAME_CHARS = 80

STARTER: dict[str, dict[str, str]] = {
    "Received": {
        "ko": "메시지를 받았습니다. 가능한 한 빨리 여기로 답장드리겠습니다.",
        "ru": "Мы получили ваше сообщение. Ответим здесь, как только сможем.",
        "uk": "Ми отримали ваше повідомлення. Відповімо тут, щойно зможемо.",
        "en": "We received your message. We will answer here as soon as we can.",
    },
    "We will call you back": {
        "ko": "다시 전화드리겠습니다. 지금이 곤란하시면 편한 시간을 답장으로 알려 주세요.",
        "ru": "Мы вам перезвоним. Если сейчас неудобно, напишите, когда удобно.",
        "uk": "Ми вам передзвонимо. Якщо зараз незручно, напишіть, коли зручно.",
        "en": "We will call you back. If now is not a good time, reply with a better time.",
    },
    "Staying safe while writing": {
        "ko": "혼자 있고 안전할 때만 글을 쓰세요. 누군가 휴대폰을 볼 수 있다면 읽은 뒤 "
              "메시지를 지워 주세요.",
        "ru": "Пишите, только когда вы одни и это безопасно. Если телефон могут проверить, "
              "удаляйте наши сообщения после прочтения.",
        "uk": "Пишіть, лише коли ви самі й це безпечно. Якщо телефон можуть перевірити, "
              "видаляйте наші повідомлення після прочитання.",
        "en": "Write only when you are alone and it is safe. If someone may check your "
              "phone, delete our messages after reading.",
    },
    "Reaching us by web form": {
        "ko": "웹사이트의 문의 양식으로도 연락하실 수 있습니다. 전화번호는 필요 없습니다.",
        "ru": "Вы также можете написать нам через форму на нашем сайте. Номер телефона "
              "не нужен.",
        "uk": "Ви також можете написати нам через форму на нашому сайті. Номер телефону "
              "не потрібен.",
        "en": "You can also write to us through the form on our website. It does not "
              "need your phone number.",
    },
}


class TemplateError(ValueError):
    """A template cannot be saved as given; the message is safe to show."""


def language_of(case: Case) -> str:
    """The language a case's templates are offered in (English when it has none)."""
    return case.language if case.language in TEMPLATE_LANGUAGES else "en"


def all_templates() -> list[ReplyTemplate]:
    """Every template, by name."""
    return list(db.session.execute(
        select(ReplyTemplate).order_by(ReplyTemplate.name)).scalars())


def for_language(language: str | None) -> list[tuple[ReplyTemplate, str]]:
    """The templates with a text in ``language`` (English when unset), with that text."""
    lang = language if language in TEMPLATE_LANGUAGES else "en"
    pairs = [(template, template.text(lang)) for template in all_templates()]
    return [(template, text) for template, text in pairs if text]


def template_text(template_id: int, language: str) -> str | None:
    """The text of template ``template_id`` in ``language``, or None."""
    template = db.session.get(ReplyTemplate, template_id)
    return template.text(language) if template is not None else None


def is_approved(text: str, language: str | None) -> bool:
    """True when ``text`` is exactly a template's text in ``language``."""
    return any(candidate.strip() == text.strip() for _, candidate in for_language(language))


def save(template: ReplyTemplate | None, name: str, texts: Mapping[str, str | None],
         actor: User) -> ReplyTemplate:
    """Create (``template`` None) or change a template; audited; no commit."""
    name = (name or "").strip()
    if not name or len(name) > MAX_NAME_CHARS:
        raise TemplateError(_("A name of 1 to %(limit)d characters is needed.",
                              limit=MAX_NAME_CHARS))
    clean = {lang: (texts.get(lang) or "").strip() or None for lang in TEMPLATE_LANGUAGES}
    if not any(clean.values()):
        raise TemplateError(_("Write the text in at least one language."))
    taken = db.session.execute(select(ReplyTemplate.id).where(
        func.lower(ReplyTemplate.name) == name.lower())).scalar_one_or_none()
    if taken is not None and (template is None or taken != template.id):
        raise TemplateError(_("Another template has that name."))
    created = template is None
    template = template or ReplyTemplate()
    template.name = name
    for lang, text in clean.items():
        setattr(template, f"text_{lang}", text)
    template.updated_at, template.updated_by_id = utcnow(), actor.id
    db.session.add(template)
    db.session.flush()
    audit.record("reply_template.create" if created else "reply_template.update",
                 actor=actor, detail={"template_id": template.id,
                                      "languages": [k for k, v in clean.items() if v]})
    return template


def delete(template: ReplyTemplate, actor: User) -> None:
    """Remove a template; audited; no commit."""
    audit.record("reply_template.delete", actor=actor, detail={"template_id": template.id})
    db.session.delete(template)
    db.session.flush()


def add_starter_set(actor: User | None = None) -> int:
    """Add the starter templates whose names are not taken; returns how many (no commit)."""
    existing = {name.lower() for name in db.session.execute(
        select(ReplyTemplate.name)).scalars()}
    added = 0
    for name, texts in STARTER.items():
        if name.lower() in existing:
            continue
        db.session.add(ReplyTemplate(name=name, updated_at=utcnow(),
                                     updated_by_id=actor.id if actor else None,
                                     **{f"text_{lang}": text for lang, text in texts.items()}))
        added += 1
    db.session.flush()
    if added and actor is not None:
        audit.record("reply_template.starter", actor=actor, detail={"added": added})
    return added
