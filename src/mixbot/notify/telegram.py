"""Telegram alerts through python-telegram-bot (v22): ``sendMessage`` in HTML parse mode.

The Bot API base URL is ``MIXBOT_TELEGRAM_API`` (default ``https://api.telegram.org``), so
tests and users of a local Bot API server point it elsewhere; the token is appended as the
Bot API requires (``<base>/bot<token>/<method>``).

The token is in every request URL, and httpx logs each request URL at INFO: the ``httpx``
and ``httpcore`` loggers are raised to WARNING here, and every error text is scrubbed of
the token before it is stored or logged.

Flood limits (Telegram Bot FAQ, "My bot is hitting limits, how do I avoid this?"): about
30 messages a second overall and 20 a minute to one group. :class:`TelegramSender` keeps
at least 1/30 s between two messages and 3 s between two messages to one group (a negative
chat id), waiting on its clock; a 429 answer's ``retry_after`` is passed to the outbox.
A message whose HTML Telegram refuses ("can't parse entities") is sent again as plain text.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import threading
import warnings
from typing import Any

from mixbot.clock import SYSTEM_CLOCK, Clock
from mixbot.config.secrets import resolve
from mixbot.config.settings import TelegramSettings
from mixbot.errors import ConfigError
from mixbot.notify.channel import DeliveryError, scrub

#: Default Bot API server.
DEFAULT_API = "https://api.telegram.org"
#: Seconds between two messages overall, and to one group chat.
GLOBAL_GAP_S = 1.0 / 30.0
GROUP_GAP_S = 3.0

for _name in ("httpx", "httpcore"):  # they log request URLs, which hold the bot token
    logging.getLogger(_name).setLevel(logging.WARNING)


def api_base() -> str:
    """``MIXBOT_TELEGRAM_API`` without a trailing slash (default :data:`DEFAULT_API`)."""
    return (os.environ.get("MIXBOT_TELEGRAM_API") or DEFAULT_API).rstrip("/")


def bot_token(settings: TelegramSettings, env: dict[str, str] | None = None) -> str:
    """The resolved bot token.

    Raises:
        ConfigError: the ``${VAR}`` it references is not set (names the variable only).
    """
    token, missing = resolve(settings.bot_token, env)
    if missing or not token:
        raise ConfigError(
            f"telegram.bot_token: environment variable {', '.join(missing) or '?'} is not set"
        )
    return token


class TelegramSender:
    """Sends notification rows with ``sendMessage`` (HTML parse mode, ``disable_notification``
    for silent ones), on a private event loop, from the notifier thread.

    Args:
        settings: the host's ``telegram`` section (token resolved from ``env``).
        clock: time source of the flood-limit waits.
    """

    channel = "telegram"

    def __init__(
        self,
        settings: TelegramSettings,
        env: dict[str, str] | None = None,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        from telegram import Bot

        self._token = bot_token(settings, env)
        self._bot = Bot(self._token, base_url=f"{api_base()}/bot")
        self._loop = asyncio.new_event_loop()
        self.clock = clock
        self._last = -1e18
        self._last_chat: dict[str, float] = {}
        self._never = threading.Event()

    def __repr__(self) -> str:  # never the token
        return f"TelegramSender({api_base()})"

    def secrets(self) -> tuple[str, ...]:
        """Values to scrub from any error text."""
        return (self._token,)

    def _pace(self, chat: str) -> None:
        now = self.clock.monotonic()
        ready = self._last + GLOBAL_GAP_S
        if chat.startswith("-"):
            ready = max(ready, self._last_chat.get(chat, -1e18) + GROUP_GAP_S)
        if ready > now:
            self.clock.wait(self._never, ready - now)
        self._last = self.clock.monotonic()
        self._last_chat[chat] = self._last

    def send(self, row: dict[str, Any]) -> None:
        """Deliver one row to chat ``row["dest"]``.

        Raises:
            DeliveryError: network error, 5xx, 429 (with ``retry_after``), or a refusal
                (blocked by the user, chat not found), without the token.
        """
        self._pace(str(row["dest"]))
        try:
            self._loop.run_until_complete(self._send(row))
        except DeliveryError:
            raise
        except Exception as exc:  # noqa: BLE001 - every failure is a retryable delivery error
            raise self._error(exc) from None

    async def _send(self, row: dict[str, Any]) -> None:
        from telegram.constants import ParseMode
        from telegram.error import BadRequest

        chat, silent = row["dest"], bool(row["silent"])
        try:
            await self._bot.send_message(
                chat, row["html"], parse_mode=ParseMode.HTML, disable_notification=silent
            )
        except BadRequest as exc:
            if "parse" not in str(exc).lower():
                raise
            await self._bot.send_message(chat, row["text"], disable_notification=silent)

    def _error(self, exc: BaseException) -> DeliveryError:
        from telegram.error import RetryAfter

        text = scrub(f"{type(exc).__name__}: {exc}", (self._token,))
        if isinstance(exc, RetryAfter):
            with warnings.catch_warnings():  # v22.2+: int access is deprecated, both work
                warnings.simplefilter("ignore")
                ra = exc.retry_after
            secs = ra.total_seconds() if isinstance(ra, dt.timedelta) else float(ra)
            return DeliveryError(text, retry_after=secs)
        return DeliveryError(text)

    def close(self) -> None:
        """Close the HTTP client and the event loop."""
        try:
            self._loop.run_until_complete(self._bot.shutdown())
        except Exception:  # noqa: BLE001 - closing after a failed start
            pass
        self._loop.close()
