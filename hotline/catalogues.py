"""The message catalogues: compiling them and checking them.

Two domains: ``messages`` (the public and staff pages, ``babel.cfg``) and ``callers``
(what the channels send or say to a caller, ``babel-callers.cfg``; see
``hotline/channels/replies.py``). The build compiles
``hotline/translations/*/LC_MESSAGES/<domain>.po`` into ``.mo`` files
(``make translations``); the ``.mo`` files are not in git. ``compile_catalogues`` does
the same from Python for any ``.mo`` that is missing or older than its ``.po``, so a
plain ``pytest`` run works too. Each file is written under a temporary name and moved
into place, so parallel test workers never read a half-written catalogue.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

TRANSLATIONS_DIR = Path(__file__).resolve().parent / "translations"
MESSAGES_DOMAIN = "messages"
CALLERS_DOMAIN = "callers"
DOMAINS = (MESSAGES_DOMAIN, CALLERS_DOMAIN)


def catalogue_paths(directory: Path = TRANSLATIONS_DIR,
                    domain: str = MESSAGES_DOMAIN) -> list[Path]:
    """Every ``<domain>.po`` under ``directory``, sorted by language."""
    return sorted(directory.glob(f"*/LC_MESSAGES/{domain}.po"))


def load(po_path: Path) -> Catalog:
    """Read one ``.po`` file."""
    with po_path.open("rb") as handle:
        return read_po(handle, locale=po_path.parent.parent.name)


def is_stale(po_path: Path) -> bool:
    """True when the ``.mo`` next to ``po_path`` is missing or older than it."""
    mo_path = po_path.with_suffix(".mo")
    return not mo_path.exists() or mo_path.stat().st_mtime < po_path.stat().st_mtime


def compile_catalogues(directory: Path = TRANSLATIONS_DIR, *, force: bool = False,
                       domains: tuple[str, ...] = DOMAINS) -> list[Path]:
    """Compile every missing or stale catalogue of ``domains``; returns the ``.mo`` files
    written."""
    written = []
    for po_path in [path for domain in domains for path in catalogue_paths(directory, domain)]:
        if not (force or is_stale(po_path)):
            continue
        mo_path = po_path.with_suffix(".mo")
        fd, tmp_name = tempfile.mkstemp(dir=mo_path.parent, prefix=f".{po_path.stem}-",
                                        suffix=".mo")
        try:
            with os.fdopen(fd, "wb") as handle:
                write_mo(handle, load(po_path))
            os.replace(tmp_name, mo_path)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise
        written.append(mo_path)
    return written


def untranslated(catalogue: Catalog) -> list[object]:
    """Message ids with no translation, or only a fuzzy (unchecked) one."""
    return [message.id for message in catalogue
            if message.id and (not message.string or message.fuzzy)]
