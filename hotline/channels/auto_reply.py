"""When a caller's message gets the automatic reply: one rule for every messaging channel,
and the opt-out (STOP, /stop) it obeys.

SMS, WhatsApp and Telegram all follow it (the texts are in ``channels.replies``): a message
gets one short, discreet reply in the case's language with the reference of the case it
joined when **no auto-reply went to its address in the last** ``AUTO_REPLY_INTERVAL_HOURS``,
unless the message is an opt-out/opt-in keyword, auto-replies are switched off
(``AUTO_REPLY_ENABLED``), the caller opted out, or the caller is blocked. Every condition
is about the sender; **none is about its cases** (security review, finding 10): whoever
holds a phone and writes to the line sees the same whether the address has an open case,
a closed one or none. (Before, only a message that opened or reopened a case was answered,
so silence told a seized phone's new holder that a case was open.)

A channel passes ``auto_reply_every=auto_reply_interval(keyword)`` to ``receive``: the
caller upsert then stamps ``Caller.last_auto_reply_at`` in the same statement when a reply
is due (not opted out, not blocked, none within the interval) and sets
``IntakeResult.auto_reply_due``; ``auto_reply_for`` turns that into the text.
"""

from __future__ import annotations

from datetime import timedelta

from flask import current_app

from hotline.channels.replies import auto_reply
from hotline.intake.service import IntakeResult
from hotline.models import Caller, utcnow


def apply_opt(caller: Caller, direction: str, keyword: str) -> None:
    """Record an opt-out (``out``) or opt-in (``in``) and its keyword on the caller."""
    caller.opt_out_keyword = keyword
    if direction == "out":
        caller.opted_out = True
        caller.opted_out_at = utcnow()
    else:
        caller.opted_out = False
        caller.opted_out_at = None


def may_auto_reply(result: IntakeResult) -> bool:
    """Whether anything may be sent to this caller automatically at all."""
    return bool(current_app.config["AUTO_REPLY_ENABLED"] and not result.caller_opted_out
                and result.caller_flag != "blocked")


def auto_reply_interval(keyword: bool = False) -> timedelta | None:
    """What a channel passes to ``receive(auto_reply_every=…)``: the rule's interval, or
    None when no auto-reply may go out (switched off, or ``keyword``: the message is an
    opt-out / opt-in word, or otherwise never answered)."""
    if keyword or not current_app.config["AUTO_REPLY_ENABLED"]:
        return None
    return timedelta(hours=current_app.config["AUTO_REPLY_INTERVAL_HOURS"])


def auto_reply_for(result: IntakeResult, *, keyword: bool) -> str | None:
    """The auto-reply this new delivery gets, or None (see the module docstring).

    ``keyword``: the message is an opt-out or opt-in keyword (STOP, START, /stop). The
    delivery must have been taken in with ``auto_reply_every=auto_reply_interval(…)``.
    """
    if not result.auto_reply_due or keyword or not may_auto_reply(result):
        return None
    return auto_reply(result.language, result.reference or "")
