"""The language registry: one row per language, read by every table that needs one."""

from __future__ import annotations

from pathlib import Path

import pytest

from config import load_config
from hotline import languages
from hotline.cases import vocabularies
from hotline.channels import replies
from hotline.languages import script_language
from settings import BY_NAME


@pytest.mark.parametrize(("text", "expected"), [
    ("안녕하세요 도와주세요", "ko"),
    ("Допоможіть, будь ласка", "uk"),
    ("Привет, помогите", "ru"),
    ("Hello", None),
    ("", None),
    (None, None),
    ("Help 도와주세요", "ko"),  # any Hangul gives Korean away
])
def test_the_script_of_a_text_gives_its_language(text, expected):
    assert script_language(text) == expected


def test_every_language_has_every_caller_text():
    for message in replies.CALLER_TEXTS:
        said = [replies.text(code, message, reference="K7M2-Q9X4", digit=1)
                for code in languages.CODES]
        assert len(set(said)) == len(languages.CODES), message  # none falls back to English


def test_the_case_vocabulary_and_voice_read_the_registry():
    assert vocabularies.LANGUAGES == languages.CODES
    assert {row.code: row.name for row in languages.LANGUAGES} == vocabularies.LANGUAGE_NAMES
    assert [languages.say_language(code) for code in languages.CODES] == [
        "ko-KR", "ru-RU", "uk-UA", "en-US"]
    assert replies.screen_prompt("uk") == "Hotline call in Ukrainian. Press 1 to accept."
    assert replies.screen_prompt(None) == "Hotline call in English. Press 1 to accept."


def test_the_documented_ivr_default_is_the_registry_order():
    assert f"`{','.join(languages.IVR_ORDER)}`" in BY_NAME["IVR_LANGUAGES"].default_doc


def test_recorded_prompts_are_read_per_language(tmp_path: Path):
    cfg = load_config(environ={"IVR_PROMPT_URL_KO": "https://cdn.example/ko.mp3",
                               "IVR_PROMPT_URL_RU": ""}, instance_path=tmp_path)
    assert cfg["IVR_PROMPT_URLS"] == {"ko": "https://cdn.example/ko.mp3"}
