"""Which bus events a bot sends on which channel, and to whom.

A bot's ``notifications`` section (bot config) decides what is sent: the master switch
``enabled``, per channel ``enabled`` and ``notify_on``. ``notify_on`` is a list of event
names (each ``on``) or an object ``{"trade_entry": "on", "feed_state": "silent",
"status": "off"}``; ``silent`` is sent without sound (Telegram ``disable_notification``;
email has no such flag, so it is sent as ``on``); events not named are off. The host
settings decide where it goes: Telegram to every host user (or the bot's own
``telegram.chat_ids``), email to ``email.to``; a channel disabled on the host sends nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from mixbot.bus.events import EVENT_TYPES
from mixbot.config.settings import Settings

#: ``notify_on`` object values.
MODES = ("on", "silent", "off")
CHANNELS = ("telegram", "email")


def modes(notify_on: Any) -> dict[str, str]:
    """``notify_on`` (list or object form) as event type -> ``on``/``silent``/``off`` for
    every event type of the bus (unnamed ones ``off``).

    Raises:
        ValueError: an unknown event name or mode (the schema refuses these first).
    """
    out = dict.fromkeys(EVENT_TYPES, "off")
    items = (
        notify_on.items() if isinstance(notify_on, dict) else ((n, "on") for n in notify_on or ())
    )
    for name, mode in items:
        if name not in out:
            raise ValueError(f"notify_on: unknown event {name!r}; known: {', '.join(EVENT_TYPES)}")
        if mode not in MODES:
            raise ValueError(f"notify_on.{name}: {mode!r} is not one of {', '.join(MODES)}")
        out[name] = mode
    return out


@dataclass(frozen=True)
class Route:
    """One destination of one event: ``channel``, ``dest`` (a chat id, or comma-joined email
    addresses) and ``silent``."""

    channel: str
    dest: str
    silent: bool


class BotRules:
    """The routing of one bot's events.

    Args:
        notifications: the bot config's effective ``notifications`` section (a dict).
        settings: the host settings.
        zone: the bot's market time zone (times in its messages are shown in it).
    """

    def __init__(
        self, notifications: dict[str, Any], settings: Settings, zone: ZoneInfo | None = None
    ) -> None:
        self.zone = zone
        self.modes: dict[str, dict[str, str]] = {}
        on = bool(notifications.get("enabled"))
        for channel in CHANNELS:
            sec = notifications.get(channel) or {}
            host = getattr(settings, channel)
            if on and sec.get("enabled") and host.enabled:
                self.modes[channel] = modes(sec.get("notify_on", ()))
        tg = notifications.get("telegram") or {}
        chats = tg.get("chat_ids") or [u.id for u in settings.telegram.users]
        self.chats = tuple(str(c) for c in chats)
        self.mail_to = ",".join(settings.email.to)

    def routes(self, event_type: str) -> list[Route]:
        """Where an event of ``event_type`` goes (empty: nowhere)."""
        out: list[Route] = []
        tg = self.modes.get("telegram", {}).get(event_type, "off")
        if tg != "off":
            out += [Route("telegram", chat, tg == "silent") for chat in self.chats]
        if self.modes.get("email", {}).get(event_type, "off") != "off" and self.mail_to:
            out.append(Route("email", self.mail_to, False))
        return out


def rules_for(cfg: Any, settings: Settings) -> BotRules:
    """The :class:`BotRules` of a :class:`~mixbot.config.model.BotConfig`."""
    from mixbot.market.registry import profile_for

    return BotRules(cfg.notifications, settings, profile_for(cfg).zone)
