"""When a caller's message gets the automatic reply: one rule for every messaging channel,
and the opt-out (STOP, /stop) it obeys.

SMS, WhatsApp and Telegram all follow it (the texts are in ``channels.replies``): the
first message of a new or reopened case gets one short, discreet reply in the case's
language with the reference, unless the message is an opt-out/opt-in keyword, auto-replies
are switched off (``AUTO_REPLY_ENABLED``), the caller opted out, or the caller is blocked.
"""

from __future__ import annotations

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


def auto_reply_for(result: IntakeResult, *, keyword: bool) -> str | None:
    """The auto-reply this new delivery gets, or None (see the module docstring).

    ``keyword``: the message is an opt-out or opt-in keyword (STOP, START, /stop).
    """
    first_contact = result.case_opened or result.case_reopened
    if not first_contact or keyword or not may_auto_reply(result):
        return None
    return auto_reply(result.language, result.reference or "")
