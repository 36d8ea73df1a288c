"""Twilio's message error codes in the words staff read on a failed reply.

Twilio reports why a message did not go out as a number (in the REST answer's ``code``
and the status callback's ``ErrorCode``); staff need to know what to do next, so the
common ones are said in words. Unknown codes keep the number for the operator.
"""

from __future__ import annotations

MESSAGE_ERRORS = {
    21211: "the number is not a valid phone number",
    21408: "messages to this country are not enabled on the account",
    21610: "the caller opted out at Twilio (replied STOP)",
    21612: "Twilio cannot send from the line's number to this number",
    21614: "the number cannot receive text messages",
    30003: "the caller's phone is unreachable (off or out of coverage)",
    30004: "the message was blocked by the caller or their carrier",
    30005: "the number is unknown to the carrier (it may no longer exist)",
    30006: "the number is a landline or cannot receive texts",
    30007: "the carrier filtered the message as spam",
    30008: "the carrier could not deliver it (unknown error)",
    63016: "outside the WhatsApp 24-hour window: only an approved template can be sent",
    63024: "the WhatsApp recipient is not valid",
}
# The codes that mean the caller does not want our messages: nothing is sent again.
OPTED_OUT_CODES = frozenset({21610, 30004})


def words(code: int | str | None) -> str:
    """What Twilio's error ``code`` means, in words, with the code for reference."""
    try:
        number = int(code) if code not in (None, "") else None
    except (TypeError, ValueError):
        number = None
    if number is None:
        return "Twilio did not say why"
    meaning = MESSAGE_ERRORS.get(number)
    return f"{meaning} (Twilio error {number})" if meaning else f"Twilio error {number}"
