"""The ``callers`` catalogue domain: what the channels send or say to a caller.

Complete in every language, in step with the source (``babel-callers.cfg``, the ``C_``
marker), placeholders kept, compiled, and rendered in the caller's language whatever the
staff's or the request's language is (see ``hotline/channels/replies.py``).
"""

from __future__ import annotations

import re
import shutil

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.support import Translations
from flask_babel import get_locale
from sqlalchemy import select

from hotline import languages
from hotline.catalogues import (
    CALLERS_DOMAIN,
    TRANSLATIONS_DIR,
    catalogue_paths,
    compile_catalogues,
    load,
    untranslated,
)
from hotline.channels import replies
from hotline.extensions import db
from hotline.models import Case, Interaction
from tests.conftest import ROOT
from tests.twilio_fakes import parse_twiml

TRANSLATED_LANGUAGES = tuple(code for code in languages.CODES if code != languages.DEFAULT)
FORMAT_ARGUMENT = re.compile(r"%\(\w+\)[sd]")
SAMPLE = {"reference": "K7M2-Q9X4", "digit": 3}


def _po(lang: str):
    return load(TRANSLATIONS_DIR / lang / "LC_MESSAGES" / f"{CALLERS_DOMAIN}.po")


def _source_caller_texts() -> set[str]:
    """Every ``C_(…)`` text, extracted as ``babel-callers.cfg`` and the README say."""
    with (ROOT / "babel-callers.cfg").open() as handle:
        method_map, options_map = parse_mapping_cfg(handle, "babel-callers.cfg")
    return {message for _, _, message, _, _ in extract_from_dir(
        str(ROOT), method_map, options_map, keywords={"C_": None})}


def test_every_translated_language_has_a_callers_catalogue():
    assert [p.parent.parent.name for p in catalogue_paths(domain=CALLERS_DOMAIN)] == sorted(
        TRANSLATED_LANGUAGES)


def test_the_channels_send_exactly_the_marked_texts():
    assert set(replies.CALLER_TEXTS) == _source_caller_texts()
    assert len(replies.CALLER_TEXTS) == 6


@pytest.mark.parametrize("lang", TRANSLATED_LANGUAGES)
def test_callers_catalogue_is_complete_and_in_step(lang):
    catalogue = _po(lang)
    ids = {m.id for m in catalogue if m.id}
    assert ids == _source_caller_texts(), (
        f"{lang}: run the callers pybabel commands of the README, then translate")
    assert not untranslated(catalogue), f"{lang}: untranslated or fuzzy caller texts"


@pytest.mark.parametrize("lang", TRANSLATED_LANGUAGES)
def test_caller_translations_keep_their_placeholders(lang):
    for message in _po(lang):
        if message.id:
            assert sorted(FORMAT_ARGUMENT.findall(message.string)) == sorted(
                FORMAT_ARGUMENT.findall(message.id)), message.id


def test_every_caller_text_is_said_in_every_language():
    for message in replies.CALLER_TEXTS:
        english = replies.text("en", message, **SAMPLE)
        assert english == message % SAMPLE
        for lang in TRANSLATED_LANGUAGES:
            said = replies.text(lang, message, **SAMPLE)
            assert said != english, (lang, message)
            assert "%(" not in said and "{" not in said
            if "%(reference)s" in message:
                assert "K7M2-Q9X4" in said


def test_the_texts_are_written_in_their_own_script():
    for message in replies.CALLER_TEXTS:
        assert languages.script_language(replies.text("ko", message, **SAMPLE)) == "ko"
        assert languages.script_language(replies.text("uk", message, **SAMPLE)) in {"uk", "ru"}
        assert languages.script_language(replies.text("ru", message, **SAMPLE)) == "ru"


def test_an_unknown_language_gets_english():
    assert replies.auto_reply("xx", "K7M2-Q9X4") == replies.auto_reply(None, "K7M2-Q9X4") == (
        "Message received. Ref: K7M2-Q9X4. We will reply soon.")


def test_compile_writes_the_callers_catalogues(tmp_path):
    directory = tmp_path / "translations"
    shutil.copytree(TRANSLATIONS_DIR, directory)
    for mo in directory.glob("*/LC_MESSAGES/*.mo"):
        mo.unlink()
    written = compile_catalogues(directory, domains=(CALLERS_DOMAIN,))
    assert sorted(str(p.relative_to(directory)) for p in written) == [
        f"{lang}/LC_MESSAGES/callers.mo" for lang in sorted(TRANSLATED_LANGUAGES)]
    korean = Translations.load(str(directory), ["ko"], CALLERS_DOMAIN)
    assert korean.ugettext(replies.APOLOGY) == "죄송합니다. 기술적인 문제가 발생했습니다."


def test_the_caller_language_wins_over_the_request_and_staff_locale(make_app):
    app = make_app(STAFF_DEFAULT_LANGUAGE="uk")
    korean = "메시지를 받았습니다. 번호: K7M2-Q9X4. 곧 답장드리겠습니다."
    assert replies.auto_reply("ko", "K7M2-Q9X4") == korean  # no application at all
    with app.app_context():  # a CLI command or the outbox worker
        assert replies.auto_reply("ko", "K7M2-Q9X4") == korean
    with app.test_request_context("/dashboard/", headers={"Accept-Language": "ru"}):
        assert str(get_locale()) == "ru"
        assert replies.auto_reply("ko", "K7M2-Q9X4") == korean
        assert str(get_locale()) == "ru"  # the request's own locale is left alone


@pytest.fixture
def app(make_app):
    """A Ukrainian deployment: staff pages default to Ukrainian."""
    return make_app(STAFF_DEFAULT_LANGUAGE="uk")


def test_a_korean_sms_gets_the_korean_auto_reply_on_a_ukrainian_line(app, twilio_post):
    answer = twilio_post("/twilio/sms", {
        "MessageSid": "SM" + "c" * 32, "From": "+821012345678", "To": "+15005550006",
        "Body": "안녕하세요, 도움이 필요합니다", "NumMedia": "0"},
        headers={"Accept-Language": "uk"})
    assert answer.status_code == 200
    with app.app_context():
        case = db.session.execute(select(Case)).scalar_one()
        assert case.language == "ko"
        reply = replies.auto_reply("ko", case.display_reference)
        inbound = db.session.execute(select(Interaction)).scalar_one()
        assert inbound.meta["auto_reply"] is True
    said = parse_twiml(answer.text).find("Message")
    assert said is not None and said.text == reply
    assert said.text.startswith("메시지를 받았습니다.")


def test_voicemail_is_prompted_in_the_callers_language_on_a_ukrainian_line(app, twilio_post):
    call = {"CallSid": "CA" + "d" * 32, "From": "+821012345678", "To": "+15005550006",
            "CallStatus": "in-progress"}
    twilio_post("/twilio/voice", {**call, "CallStatus": "ringing"})
    menu_key = str(replies_position("ko"))
    root = parse_twiml(
        twilio_post("/twilio/voice/language", {**call, "Digits": menu_key}).text)
    say = root.find("Say")
    assert say is not None and say.get("language") == "ko-KR"
    assert say.text == ("지금은 전화를 받을 수 없습니다. 삐 소리가 나면 메시지를 남겨 주세요. "
                        "다시 연락드리겠습니다.")


def replies_position(code: str) -> int:
    """The menu key of ``code`` in the default IVR order."""
    return languages.IVR_ORDER.index(code) + 1


def test_a_missing_caller_catalogue_is_said_at_start_up(tmp_path, monkeypatch, caplog):
    assert replies.uncompiled_languages() == []
    monkeypatch.setattr(replies, "TRANSLATIONS_DIR", tmp_path)  # no .mo there
    replies.translations.cache_clear()
    try:
        with caplog.at_level("WARNING", logger="hotline.channels.replies"):
            replies.warn_if_uncompiled()
        assert [r.getMessage() for r in caplog.records] == ["callers.catalogue_missing"]
        assert caplog.records[0].fields == {"languages": list(TRANSLATED_LANGUAGES)}
        assert replies.auto_reply("ko", "K7M2-Q9X4").startswith("Message received.")
    finally:
        monkeypatch.undo()
        replies.translations.cache_clear()
    assert replies.auto_reply("ko", "K7M2-Q9X4").startswith("메시지를 받았습니다.")
