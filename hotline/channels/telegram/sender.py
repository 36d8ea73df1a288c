"""The outbox's sender for Telegram: ``sendMessage`` to the caller's private chat.

Plain text only (no ``parse_mode``: nothing a staff member types is read as markup) and
no link previews (a preview would fetch the linked page from Telegram's servers and show
a picture on a phone that may be watched). What Telegram answers becomes the delivery
status on the timeline:

- ``ok`` → ``sent`` (Telegram has no delivery receipts for bots);
- 429 → tried again after Telegram's ``retry_after``; 5xx or no connection → the
  outbox's backoff;
- 403 (``Forbidden: bot was blocked by the user``, or a deleted account) → ``failed``
  with Telegram's description, and the caller is marked opted out;
- any other refusal → ``failed`` with Telegram's description;
- a timeout or a connection lost after the request left → ``unknown``: Telegram may
  have delivered it, so it is never sent again by itself (see ``messaging.senders``).
"""

from __future__ import annotations

from typing import Any

from hotline.channels.telegram import api
from hotline.crypto import cipher
from hotline.messaging.senders import CANNOT_TELL, FAILED, RETRY, SENT, UNKNOWN, Lookup, Outcome
from hotline.models import Interaction

NOT_CONFIGURED = "not sent: Telegram is not configured (TELEGRAM_BOT_TOKEN)"
HTTP_FORBIDDEN = 403
HTTP_TOO_MANY = 429


def send_message_params(chat_id: int, text: str) -> dict[str, Any]:
    """The ``sendMessage`` parameters of one reply (plain text, no link preview)."""
    return {"chat_id": chat_id, "text": text, "link_preview_options": {"is_disabled": True}}


def sent_external_id(chat_id: int, message_id: int) -> str:
    """A sent message's ``external_id``: Telegram's message id (meaningless without the
    chat) and a keyed hash of the chat, so ids of different chats never collide."""
    keyed = cipher().blind_index(f"telegram-sent:{chat_id}:{message_id}")[:16]
    return f"tgm-{message_id}-{keyed}"


class TelegramSender:
    """Replies to Telegram callers through the Bot API."""

    def refusal(self, message: Interaction) -> str | None:
        """A bot token is needed."""
        return None if api.is_configured() else NOT_CONFIGURED

    def send(self, message: Interaction) -> Outcome:
        """One ``sendMessage``; see the module docstring for what each answer means."""
        chat_id = int(message.case.caller.address or 0)
        try:
            result = api.call("sendMessage", send_message_params(chat_id, message.body or ""))
        except api.TelegramRefused as exc:
            detail = f"Telegram error {exc.error_code}: {exc.description}"
            if exc.error_code == HTTP_TOO_MANY:
                return Outcome(RETRY, detail=detail, retry_after=exc.retry_after)
            if exc.error_code >= 500:
                return Outcome(RETRY, detail=detail)
            return Outcome(FAILED, detail=detail, opted_out=exc.error_code == HTTP_FORBIDDEN)
        except api.TelegramUnreached as exc:
            return Outcome(RETRY, detail=f"Telegram not reached ({exc})")
        except api.TelegramUnknown as exc:
            return Outcome(UNKNOWN, detail=f"no answer from Telegram ({exc})")
        message_id = result.get("message_id") if isinstance(result, dict) else None
        external = (sent_external_id(chat_id, message_id)
                    if isinstance(message_id, int) and not isinstance(message_id, bool) else None)
        return Outcome(SENT, external_id=external, delivery_status="sent")

    def find_sent(self, message: Interaction) -> Lookup:
        """The Bot API lists no sent messages: an unknown send is left to staff."""
        return CANNOT_TELL
