"""What a channel sender is: :class:`Sender` and its :class:`DeliveryError`."""

from __future__ import annotations

from typing import Any, Protocol

from mixbot.errors import MixbotError


class DeliveryError(MixbotError):
    """A message was not delivered; the text names the cause and never holds a secret.

    Attributes:
        retry_after: seconds the server asked to wait (Telegram's ``retry_after`` on HTTP
            429), or None (the outbox's backoff decides).
    """

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Sender(Protocol):
    """Sends one notification-outbox row (a dict of its columns: ``key``, ``dest``,
    ``subject``, ``text``, ``html``, ``silent``, ``bot_id``, ``event_type``)."""

    channel: str

    def send(self, row: dict[str, Any]) -> None:
        """Deliver ``row``; return once the server accepted it.

        Raises:
            DeliveryError: not delivered (to be retried).
        """
        ...


def scrub(text: str, secrets: tuple[str, ...]) -> str:
    """``text`` with every non-empty secret value replaced by ``***``."""
    for s in secrets:
        if s:
            text = text.replace(s, "***")
    return text
