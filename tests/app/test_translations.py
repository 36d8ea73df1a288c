"""The message catalogues: complete, in step with the source, compiled and used."""

from __future__ import annotations

import os
import re
import shutil

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg

from hotline.catalogues import (
    TRANSLATIONS_DIR,
    catalogue_paths,
    compile_catalogues,
    is_stale,
    load,
    untranslated,
)
from tests.conftest import ROOT

TRANSLATED_LANGUAGES = ("ko", "ru", "uk")  # English is the source language
FORMAT_ARGUMENT = re.compile(r"%\(\w+\)[sd]")
# gettext's own names, the lazy ones and the marker for constants translated where shown.
KEYWORDS = {**DEFAULT_KEYWORDS, "_l": None, "lazy_gettext": None, "N_": None}


def _source_messages() -> set[str]:
    """Every translatable string (public and staff), extracted as babel.cfg says."""
    with (ROOT / "babel.cfg").open() as handle:
        method_map, options_map = parse_mapping_cfg(handle, "babel.cfg")
    return {message for _, _, message, _, _ in extract_from_dir(
        str(ROOT), method_map, options_map, keywords=KEYWORDS)}


def test_every_public_language_has_a_catalogue():
    assert [p.parent.parent.name for p in catalogue_paths()] == sorted(TRANSLATED_LANGUAGES)


@pytest.mark.parametrize("lang", TRANSLATED_LANGUAGES)
def test_catalogue_translates_every_public_string(lang):
    catalogue = load(TRANSLATIONS_DIR / lang / "LC_MESSAGES" / "messages.po")
    missing = _source_messages() - {m.id for m in catalogue if m.id}
    assert not missing, (f"{lang}: strings in the source but not in the catalogue (run the "
                         f"two pybabel commands of the README, then translate): {missing}")
    assert not untranslated(catalogue), f"{lang}: untranslated strings"


@pytest.mark.parametrize("lang", TRANSLATED_LANGUAGES)
def test_translations_keep_their_placeholders(lang):
    for message in load(TRANSLATIONS_DIR / lang / "LC_MESSAGES" / "messages.po"):
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        wanted = sorted(set(FORMAT_ARGUMENT.findall(ids[-1])))
        for string in strings:
            assert sorted(set(FORMAT_ARGUMENT.findall(string))) == wanted, message.id


@pytest.mark.parametrize("lang", TRANSLATED_LANGUAGES)
def test_plural_entries_have_every_form_of_the_language(lang):
    catalogue = load(TRANSLATIONS_DIR / lang / "LC_MESSAGES" / "messages.po")
    plurals = [m for m in catalogue if isinstance(m.id, tuple)]
    assert plurals, "the staff pages use ngettext"
    for message in plurals:
        assert len(message.string) == catalogue.num_plurals and all(message.string), message.id


def test_the_source_holds_public_and_staff_strings():
    messages = _source_messages()
    assert len(messages) > 300
    assert {"Leave this field empty", "Sign in", "Open backlog by age", "in progress"} <= messages


def test_untranslated_and_fuzzy_entries_are_found(tmp_path):
    po = tmp_path / "xx" / "LC_MESSAGES" / "messages.po"
    po.parent.mkdir(parents=True)
    po.write_text('msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=utf-8\\n"\n\n'
                  'msgid "Send"\nmsgstr ""\n\n#, fuzzy\nmsgid "Open"\nmsgstr "Open?"\n\n'
                  'msgid "Done"\nmsgstr "Fertig"\n', encoding="utf-8")
    assert sorted(untranslated(load(po))) == ["Open", "Send"]


def test_compile_writes_missing_and_stale_catalogues_only(tmp_path):
    shutil.copytree(TRANSLATIONS_DIR, tmp_path / "translations")
    directory = tmp_path / "translations"
    for mo in directory.glob("*/LC_MESSAGES/*.mo"):
        mo.unlink()
    written = compile_catalogues(directory)
    assert sorted((p.parent.parent.name, p.stem) for p in written) == sorted(
        (lang, domain) for lang in TRANSLATED_LANGUAGES for domain in ("callers", "messages"))
    assert compile_catalogues(directory) == []
    ru = directory / "ru" / "LC_MESSAGES" / "messages.po"
    later = ru.with_suffix(".mo").stat().st_mtime + 10
    os.utime(ru, (later, later))
    assert is_stale(ru)
    assert [p.parent.parent.name for p in compile_catalogues(directory)] == ["ru"]
    assert not list(directory.glob("*/LC_MESSAGES/.messages-*"))


def test_the_app_uses_the_compiled_catalogues(client):
    assert "Оставьте это поле пустым" in client.get("/ru/").get_data(as_text=True)
