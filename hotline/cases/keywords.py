"""Keyword rules: words in a caller's message that raise the case's urgency at intake.

One table (``DEFAULT_RULES``): per language, rules of ``(name, urgency, stems)``. A stem
matches at the start of a word, in any letter case, so one stem covers the inflections
of Russian and Ukrainian ("сдаться", "сдаюсь", "сдамся") and the particles Korean adds
("항복하고"). The ``KEYWORD_RULES`` setting replaces the table (same shape, as a mapping
of language to a list of ``[name, urgency, [stems…]]``).

Every language's rules are applied to every message: at intake a case's language is
often unknown or not the one the caller writes in, and a missed "surrender" costs far
more than a normal case sorted a little higher. A match only ever *raises* urgency
(``raised_urgency``); the intake records it on the timeline as the system's
classification change, naming the rule, never the words the caller wrote.

What it costs: per inbound body one search of a single expression holding every stem
(most messages match nothing and stop there), then, on a hit, one per rule to name the
most urgent; the expressions are compiled once per rule table (cached by identity, the
table comes from the configuration). No database work unless a rule matches and raises.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

# Lower is more urgent; the order of the urgency vocabulary.
URGENCY_ORDER = {"immediate": 0, "high": 1, "normal": 2}

RuleTable = Mapping[str, Sequence[tuple[str, str, Sequence[str]]]]

DEFAULT_RULES: RuleTable = {
    "en": (
        ("surrender", "immediate", ("surrender", "give myself up", "give up", "defect")),
        ("danger", "immediate", ("danger", "threat", "they will kill", "going to kill")),
        ("wounded", "immediate", ("wounded", "injured", "bleeding", "hurt")),
        ("now", "high", ("now", "urgent", "asap", "immediately")),
    ),
    "ru": (
        ("surrender", "immediate", ("сдать", "сдаю", "сдам", "сдач", "плен", "перейти")),
        ("danger", "immediate", ("опасн", "угрож", "убьют")),
        ("wounded", "immediate", ("ранен", "ранил", "кров")),
        ("now", "high", ("сейчас", "срочн", "немедленн")),
    ),
    "uk": (
        ("surrender", "immediate", ("здат", "здаю", "здам", "здач", "полон")),
        ("danger", "immediate", ("небезпе", "загроз", "вб'ють", "вбʼють", "уб'ють")),
        ("wounded", "immediate", ("поранен", "ранен", "кров")),
        ("now", "high", ("зараз", "терміново", "негайно")),
    ),
    "ko": (
        ("surrender", "immediate", ("항복", "투항", "귀순")),
        ("danger", "immediate", ("위험", "위협")),
        ("wounded", "immediate", ("부상", "다쳤", "피가")),
        ("now", "high", ("지금", "긴급", "급해")),
    ),
}


@dataclass(frozen=True)
class Match:
    """The most urgent rule a message matched."""

    rule: str
    urgency: str
    language: str


def _freeze(rules: RuleTable) -> tuple[tuple[str, str, str, tuple[str, ...]], ...]:
    """The table as hashable rows ``(language, name, urgency, stems)``, validated."""
    rows = []
    for language, entries in rules.items():
        for entry in entries:
            name, urgency, stems = entry
            if urgency not in URGENCY_ORDER:
                raise ValueError(f"keyword rule {name!r}: unknown urgency {urgency!r}")
            rows.append((str(language), str(name), urgency,
                         tuple(str(s).casefold() for s in stems if str(s).strip())))
    # Most urgent first, so the first match is the one to apply.
    return tuple(sorted(rows, key=lambda row: URGENCY_ORDER[row[2]]))


def _pattern(stems: Sequence[str]) -> re.Pattern[str]:
    return re.compile(r"(?<!\w)(?:" + "|".join(re.escape(s) for s in stems) + ")")


@lru_cache(maxsize=8)
def _compiled(rows: tuple[tuple[str, str, str, tuple[str, ...]], ...]
              ) -> tuple[re.Pattern[str] | None, list[tuple[Match, re.Pattern[str]]]]:
    """(one expression for any stem, or None; per rule, most urgent first)."""
    compiled = [(Match(name, urgency, language), _pattern(stems))
                for language, name, urgency, stems in rows if stems]
    every = [stem for *_, stems in rows for stem in stems]
    return (_pattern(every) if every else None), compiled


# The last rule tables seen, by identity: freezing a table costs more than matching, and
# the configured table is one object for the life of the app.
_PREPARED: dict[int, tuple[RuleTable, tuple[re.Pattern[str] | None,
                                            list[tuple[Match, re.Pattern[str]]]]]] = {}


def _prepared(rules: RuleTable) -> tuple[re.Pattern[str] | None,
                                         list[tuple[Match, re.Pattern[str]]]]:
    cached = _PREPARED.get(id(rules))
    if cached is not None and cached[0] is rules:
        return cached[1]
    prepared = _compiled(_freeze(rules))
    if len(_PREPARED) >= 8:
        _PREPARED.clear()
    _PREPARED[id(rules)] = (rules, prepared)
    return prepared


def rules_in_force(config: Mapping[str, Any]) -> RuleTable:
    """The configured ``KEYWORD_RULES``, or the defaults."""
    return config.get("KEYWORD_RULES") or DEFAULT_RULES


def match(body: str | None, rules: RuleTable = DEFAULT_RULES) -> Match | None:
    """The most urgent rule ``body`` matches, or None."""
    if not body:
        return None
    text = body.casefold()
    every, compiled = _prepared(rules)
    if every is None or not every.search(text):
        return None
    for found, pattern in compiled:
        if pattern.search(text):
            return found
    return None


def raised_urgency(current: str | None, body: str | None,
                   rules: RuleTable = DEFAULT_RULES) -> Match | None:
    """The match when it makes the case more urgent than ``current``; never lowers."""
    found = match(body, rules)
    if found is None:
        return None
    if URGENCY_ORDER[found.urgency] < URGENCY_ORDER.get(current or "normal", 2):
        return found
    return None
