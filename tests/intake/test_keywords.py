"""Keyword rules at intake: a matching caller message raises urgency, never lowers it."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from hotline.cases import keywords
from hotline.extensions import db
from hotline.intake.service import receive
from hotline.models import Case, Interaction

NUMBER = "+79161234567"


@pytest.mark.parametrize(("body", "rule", "urgency"), [
    ("I want to surrender now", "surrender", "immediate"),
    ("хочу сдаться в плен", "surrender", "immediate"),
    ("Хочу здатися", "surrender", "immediate"),
    ("항복하고 싶습니다", "surrender", "immediate"),
    ("Urgent! I'm in danger now", "danger", "immediate"),
    ("мой друг ранен", "wounded", "immediate"),
    ("please answer now", "now", "high"),
    ("Зараз можете?", "now", "high"),
])
def test_default_rules_match_each_language(body, rule, urgency):
    found = keywords.match(body)
    assert found is not None and (found.rule, found.urgency) == (rule, urgency)


def test_words_inside_other_words_do_not_match():
    # "know" contains "now", "endangered" contains "danger": stems match at a word start.
    assert keywords.match("I know nothing about endangered birds") is None
    assert keywords.match("") is None and keywords.match(None) is None


def test_raised_urgency_never_lowers():
    assert keywords.raised_urgency("immediate", "answer now") is None
    assert keywords.raised_urgency("high", "answer now") is None
    assert keywords.raised_urgency("high", "I surrender").urgency == "immediate"


def test_a_surrender_sms_is_immediate_with_a_system_entry(app_ctx):
    result = receive(channel="sms", address=NUMBER, body="I want to surrender now",
                     external_id="SM1")
    case = db.session.get(Case, result.case_id)
    assert case.urgency == "immediate" and result.urgency == "immediate"
    entries = db.session.execute(select(Interaction).where(Interaction.case_id == case.id)
                                 .order_by(Interaction.id)).scalars().all()
    assert [e.kind for e in entries] == ["message_in", "classification_change"]
    raised = entries[1]
    assert raised.author_id is None and raised.body is None
    assert raised.meta == {"changes": {"urgency": ["normal", "immediate"]},
                           "reason": "keyword", "rule": "surrender"}


def test_a_later_message_raises_an_open_case_once_and_never_lowers(app_ctx):
    receive(channel="sms", address=NUMBER, body="hello", external_id="SM1")
    receive(channel="sms", address=NUMBER, body="answer now please", external_id="SM2")
    receive(channel="sms", address=NUMBER, body="now!", external_id="SM3")
    receive(channel="sms", address=NUMBER, body="hello again", external_id="SM4")
    case = db.session.execute(select(Case)).scalar_one()
    assert case.urgency == "high"
    kinds = db.session.execute(select(Interaction.kind).order_by(Interaction.id)).scalars()
    assert list(kinds).count("classification_change") == 1


def test_a_retried_delivery_adds_no_second_entry(app_ctx):
    receive(channel="sms", address=NUMBER, body="I surrender", external_id="SM1")
    receive(channel="sms", address=NUMBER, body="I surrender", external_id="SM1")
    assert len(db.session.execute(select(Interaction)).scalars().all()) == 2


def test_configured_rules_replace_the_defaults(make_app):
    app = make_app(KEYWORD_RULES={"en": [["pineapple", "high", ["pineapple"]]]})
    with app.app_context():
        result = receive(channel="sms", address=NUMBER, body="I surrender", external_id="SM1")
        assert result.urgency == "normal"
        result = receive(channel="sms", address=NUMBER, body="Pineapple!", external_id="SM2")
        assert db.session.get(Case, result.case_id).urgency == "high"
