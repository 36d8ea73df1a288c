"""Telegram: the Bot API webhook (``webhook``), its update model (``updates``), the
intake of a message (``intake``), the outbox's sender (``sender``), files opened by staff
(``files``), the API client (``api``) and the ``telegram`` / ``simulate telegram``
commands (``cli``). Off while ``TELEGRAM_BOT_TOKEN`` is unset."""
