"""The outbox's senders: one per channel it sends on, behind one small interface.

The outbox (``messaging.outbox``) owns the flow every channel shares: claim the message,
refuse callers who must not be written to, record the attempt, call the channel's sender,
record what it answered. A sender only talks to its provider and says what happened as an
``Outcome``:

- ``sent``: the provider has it (``external_id`` and the first ``delivery_status``);
- ``retry``: nothing was delivered and trying again is safe (after ``retry_after``
  seconds when the provider said so, else the outbox's backoff);
- ``failed``: the provider refused it for good (``detail`` says why; ``opted_out`` when
  it says the caller blocked us, so nothing is sent to them again);
- ``unknown``: the request may have reached the provider, so sending again could send it
  twice; the message is marked, looked up with ``find_sent`` where the provider's API
  lists messages, and never sent again by itself.

``detail`` is shown to staff and kept in ``last_error``: provider codes and descriptions,
never a recipient's number or chat id. Adding a channel: a sender module and one line in
``SENDERS`` (and its address kind in ``REPLY_CHANNELS``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from hotline.models import Interaction

SENT, RETRY, FAILED, UNKNOWN = "sent", "retry", "failed", "unknown"


@dataclass(frozen=True)
class Outcome:
    """What one send attempt came to (see the module docstring)."""

    result: str
    external_id: str | None = None
    delivery_status: str = "sent"
    detail: str | None = None
    retry_after: float | None = None
    opted_out: bool = False


@dataclass(frozen=True)
class Lookup:
    """What asking the provider about a message whose send timed out came to:
    ``outcome`` when it has it; else ``checked`` says whether it could be asked."""

    checked: bool
    outcome: Outcome | None = None


CANNOT_TELL = Lookup(checked=False)


class Sender(Protocol):
    """Sends one outbound message on its channel."""

    def refusal(self, message: Interaction) -> str | None:
        """Why nothing can be sent on this channel now (not configured …), or None."""

    def send(self, message: Interaction) -> Outcome:
        """Send ``message`` once; never raises for a provider's or network's failure."""

    def find_sent(self, message: Interaction) -> Lookup:
        """Whether the provider has ``message`` after all (a send that timed out)."""


def _registry() -> dict[str, Sender]:
    from hotline.channels.telegram.sender import TelegramSender
    from hotline.channels.twilio.sender import TwilioSender

    twilio = TwilioSender()
    return {"sms": twilio, "whatsapp": twilio, "telegram": TelegramSender()}


# The channel a reply goes out on, by the caller's address kind (web cases publish instead).
REPLY_CHANNELS = {"phone": "sms", "whatsapp": "whatsapp", "telegram": "telegram"}
_SENDERS: dict[str, Sender] = {}


def sender_for(channel: str | None) -> Sender | None:
    """The sender of ``channel``, or None when the outbox cannot send on it."""
    if not _SENDERS:
        _SENDERS.update(_registry())
    return _SENDERS.get(channel or "")


def reply_channel(address_kind: str) -> str | None:
    """The channel a reply to a caller with this address kind is sent on."""
    return REPLY_CHANNELS.get(address_kind)
