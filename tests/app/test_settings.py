"""The settings table: the one declaration every setting has, and what is generated from it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import settings
from config import ConfigError, load_config
from settings import BY_NAME, SETTINGS, Setting, readme_table, refusals, with_readme_table
from tests.conftest import ROOT

# DESIGN.md's environment table (the fixed external contract).
DESIGN_VARIABLES = [
    "SECRET_KEY", "DATABASE_URL", "HOTLINE_ENCRYPTION_KEYS", "HOTLINE_INDEX_KEY",
    "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_VALIDATE_SIGNATURES", "PUBLIC_BASE_URL",
    "TWILIO_MESSAGING_FROM", "REDIS_URL", "REOPEN_WINDOW_DAYS", "TELEGRAM_BOT_TOKEN",
    "TELEGRAM_WEBHOOK_SECRET", "TELEGRAM_API_BASE", "TWILIO_VOICE_FROM", "HOTLINE_TIMEZONE",
    "UNATTENDED_AFTER_MINUTES", "HOTLINE_AUDIT_KEY",
]
# ``config["X"]``, ``config.get("X")``, ``cfg["X"]`` … in the application's code.
CONFIG_READ = re.compile(r"""\b(?:config|cfg)(?:\.get\(\s*|\[)["']([A-Z][A-Z0-9_]+)["']""")
# Keys Flask or an extension defines itself (read by our code, not ours to declare).
FLASK_OWN = {"SERVER_NAME", "APPLICATION_ROOT", "PREFERRED_URL_SCHEME"}


def test_the_readme_table_is_the_generated_one():
    readme = (ROOT / "README.md").read_text()
    assert readme_table() in readme
    assert with_readme_table(readme) == readme, "run `python settings.py` to regenerate"


def test_the_generator_rewrites_only_between_the_markers(tmp_path: Path):
    readme = tmp_path / "README.md"
    readme.write_text(f"# x\n\n{settings.README_START}\nstale\n{settings.README_END}\n\nafter\n")
    assert settings.main(["settings.py", str(readme)]) == 0
    text = readme.read_text()
    assert "stale" not in text and "| `SECRET_KEY` |" in text and text.endswith("\nafter\n")
    with pytest.raises(ValueError, match="markers"):
        with_readme_table("no markers here")


def test_every_design_variable_is_declared():
    variables = {setting.variable for setting in SETTINGS}
    assert set(DESIGN_VARIABLES) <= variables


def test_every_setting_the_code_reads_is_declared():
    read: dict[str, str] = {}
    for path in (ROOT / "hotline").rglob("*.py"):
        for name in CONFIG_READ.findall(path.read_text()):
            read.setdefault(name, str(path.relative_to(ROOT)))
    undeclared = {name: where for name, where in read.items()
                  if name not in BY_NAME and name not in FLASK_OWN}
    assert not undeclared, f"declare these in settings.SETTINGS: {undeclared}"


def test_rows_are_well_formed():
    assert len(BY_NAME) == len(SETTINGS), "a setting is declared twice"
    for setting in SETTINGS:
        assert setting.meaning and setting.set_by in ("operator", "app", "tests")
        if setting.kind == "choice":
            assert setting.default_for(settings.Context(ROOT, False)) in setting.choices
        if setting.required_in_production or setting.production_checks:
            assert setting.set_by == "operator", f"{setting.name}: refused but not settable"


def test_only_operator_settings_are_read_from_the_environment(tmp_path: Path):
    environ = {"AUTH_CLOCK": "x", "DASHBOARD_PAGE_SIZE": "2", "MAX_CONTENT_LENGTH": "1",
               "REOPEN_WINDOW_DAYS": "9"}
    cfg = load_config(environ=environ, instance_path=tmp_path)
    assert cfg["AUTH_CLOCK"] is None and cfg["DASHBOARD_PAGE_SIZE"] is None
    assert cfg["MAX_CONTENT_LENGTH"] == 64 * 1024 and cfg["REOPEN_WINDOW_DAYS"] == 9
    # create_app overrides reach every setting.
    assert load_config({"DASHBOARD_PAGE_SIZE": 3}, environ={},
                       instance_path=tmp_path)["DASHBOARD_PAGE_SIZE"] == 3


def test_every_declared_setting_has_a_value(tmp_path: Path):
    cfg = load_config(environ={}, instance_path=tmp_path)
    assert set(BY_NAME) <= set(cfg)


@pytest.mark.parametrize(("raw", "expected"), [
    ("1", True), ("yes", True), ("0", False), ("false", False), ("off", False), ("no", False),
])
def test_flags_read_the_usual_spellings(raw: str, expected: bool, tmp_path: Path):
    cfg = load_config(environ={"AUTO_REPLY_ENABLED": raw}, instance_path=tmp_path)
    assert cfg["AUTO_REPLY_ENABLED"] is expected


def test_a_bad_choice_is_a_one_line_error(tmp_path: Path):
    with pytest.raises(ConfigError, match=r"^HOTLINE_ENV must be development or production"):
        load_config(environ={"HOTLINE_ENV": "prod"}, instance_path=tmp_path)


def test_a_refusal_is_a_property_of_its_row(tmp_path: Path, monkeypatch):
    """A new production refusal is one function on a row (how security checks are added)."""

    def at_least_ten(value: object, _settings: object) -> str | None:
        return None if value and len(str(value)) >= 10 else "SHORT is too short"

    row = Setting("SHORT", "str", None, "a test row", production_checks=(at_least_ten,))
    monkeypatch.setattr(settings, "SETTINGS", (*SETTINGS, row))
    values = {**load_config(environ={}, instance_path=tmp_path), "SHORT": "x"}
    assert refusals(values, production=True)[-1] == "SHORT is too short"
    assert "SHORT is too short" not in refusals(values, production=False)
    assert "SHORT is too short" not in refusals({**values, "SHORT": "long enough"},
                                                production=True)
