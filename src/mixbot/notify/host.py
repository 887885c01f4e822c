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


def summary_chart(service: Any, refs: Iterable[Any]) -> Any:
    """An email-attachment callback: the equity curve of the day of a ``daily_summary`` row
    (``equity-<bot>-<day>.png``), nothing for other rows."""
    by_id = {r.bot_id: r for r in refs}

    def attach(row: dict[str, Any]) -> list[tuple[str, bytes]]:
        ref = by_id.get(row["bot_id"])
        if row["event_type"] != "daily_summary" or ref is None:
            return []
        from mixbot.notify.charts import equity_png

        ev = service.bus_events(ref.file, after=int(row["event_seq"]) - 1, limit=1)
        day = str(ev[0]["payload"].get("day", "")) if ev else ""
        curve = [p for p in service.equity(ref.file) if day and str(p["time"]).startswith(day)]
        if not curve:
            return []
        return [
            (f"equity-{ref.bot_id}-{day}.png", equity_png(curve, f"{ref.bot_id} {day}: equity"))
        ]

    return attach


def senders_for(
    settings: Settings, service: Any = None, refs: Iterable[Any] = ()
) -> dict[str, Sender]:
    """The senders of the channels the host enables (``telegram``, ``email``); with
    ``service``, daily-summary emails carry the day's equity curve.

    Raises:
        ConfigError: an enabled channel's secret variable is not set.
    """
    out: dict[str, Sender] = {}
    if settings.telegram.enabled:
        from mixbot.notify.telegram import TelegramSender

        out["telegram"] = TelegramSender(settings.telegram)
    if settings.email.enabled:
        from mixbot.notify.email import EmailSender

        charts = summary_chart(service, refs) if service is not None else None
        out["email"] = EmailSender(settings.email, attachments=charts)
    return out


def start_notifications(
    refs: Iterable[Any], settings: Settings, service: Any
) -> NotifierThread | None:
    """Start delivering the alerts of the bots ``refs`` (:class:`~mixbot.service.bots.BotRef`)
    in a background thread; None when the host enables no channel or no bot sends any.

    ``service``: the :class:`~mixbot.service.bots.BotService` whose engines are shared.
    """
    refs = list(refs)
    senders = senders_for(settings, service, refs)
    if not senders:
        return None
    by_url: dict[str, dict[str, Any]] = {}
    summarised = []
    for ref in refs:
        rules = rules_for(ref.cfg, settings)
        if rules.modes:
            by_url.setdefault(ref.url, {})[ref.bot_id] = rules
        if rules.routes("daily_summary"):
            summarised.append(ref)
    if not by_url:
        return None
    from mixbot.notify.summary import DailySummaries
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
    daily = DailySummaries(service, summarised, settings.email.daily_summary_at)
    thread = NotifierThread(notifiers, tasks=[daily.tick])
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
