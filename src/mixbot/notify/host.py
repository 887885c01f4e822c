"""Notifications of a ``mixbot serve`` host: one :class:`~mixbot.notify.dispatcher.Notifier`
per distinct database of its bots, all pumped by one :class:`NotifierThread`, and the one
Telegram poller answering commands (:mod:`mixbot.notify.poller`)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from mixbot.config.settings import Settings
from mixbot.notify.channel import Sender
from mixbot.notify.dispatcher import Notifier, NotifierThread
from mixbot.notify.rules import rules_for


def senders_for(settings: Settings) -> dict[str, Sender]:
    """The senders of the channels the host enables (``telegram``, ``email``).

    Raises:
        ConfigError: an enabled channel's secret variable is not set.
    """
    out: dict[str, Sender] = {}
    if settings.telegram.enabled:
        from mixbot.notify.telegram import TelegramSender

        out["telegram"] = TelegramSender(settings.telegram)
    if settings.email.enabled:
        from mixbot.notify.email import EmailSender

        out["email"] = EmailSender(settings.email)
    return out


def start_notifications(
    refs: Iterable[Any], settings: Settings, service: Any
) -> NotifierThread | None:
    """Start delivering the alerts of the bots ``refs`` (:class:`~mixbot.service.bots.BotRef`)
    in a background thread; None when the host enables no channel or no bot sends any.

    ``service``: the :class:`~mixbot.service.bots.BotService` whose engines are shared.
    """
    senders = senders_for(settings)
    if not senders:
        return None
    by_url: dict[str, dict[str, Any]] = {}
    for ref in refs:
        rules = rules_for(ref.cfg, settings)
        if rules.modes:
            by_url.setdefault(ref.url, {})[ref.bot_id] = rules
    if not by_url:
        return None
    from mixbot.store.outbox import EventLog

    notifiers = [
        Notifier(
            EventLog(url, engine=service.engine(url, create=True)),
            rules,
            senders,
            settings.notifications,
        )
        for url, rules in by_url.items()
    ]
    thread = NotifierThread(notifiers)
    thread.start()
    return thread


def start_commands(refs: list[Any], settings: Settings, service: Any) -> Any:
    """Start the host's Telegram poller (commands for the bots ``refs``); None when Telegram
    is off in the settings or it has no users."""
    if not (settings.telegram.enabled and settings.telegram.users):
        return None
    from mixbot.notify.commands import CommandCenter
    from mixbot.notify.poller import TelegramPoller

    users = {u.id: u.role for u in settings.telegram.users}
    poller = TelegramPoller(settings.telegram, CommandCenter(service, list(refs), users))
    poller.start()
    return poller
