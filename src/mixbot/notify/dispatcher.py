"""The notification dispatcher: bus events -> notification outbox -> Telegram / email.

:class:`Notifier` works on one database (one store URL; ``mixbot serve`` runs one per
distinct URL of its bots, in one background thread, :class:`NotifierThread`):

1. **route**: read the bus events after the cursor ``notify``; for each event of a bot it
   serves, render one message per destination its rules name, and commit the messages
   together with the cursor (:meth:`NotificationQueue.enqueue`): queued exactly once.
2. **send**: take the due rows (one at a time per destination, in event order) and hand
   each to its channel's sender; on success mark it sent; on failure wait and retry.

Retries: exponential backoff with full jitter, ``uniform(0, min(retry_max_s, retry_base_s *
2**attempt))`` seconds (M. Brooker, "Exponential Backoff And Jitter", AWS Architecture Blog,
2015), or the server's ``retry_after`` when it gave one (Telegram's HTTP 429). A message
older than ``give_up_after_hours`` is dropped with an ``error`` log line. Sending runs on
this thread only, never on a bot's: a dead server slows no bar. Error emails are batched
(:data:`ERROR_BATCH_S`).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import random
import signal
import threading
from collections.abc import Callable
from typing import Any

from mixbot.clock import SYSTEM_CLOCK, Clock
from mixbot.config.settings import DeliverySettings
from mixbot.notify.channel import DeliveryError, Sender
from mixbot.notify.render import fallback, render
from mixbot.notify.rules import BotRules
from mixbot.store.notifications import NotificationQueue, Outgoing
from mixbot.store.outbox import EventLog

log = logging.getLogger("mixbot.notify")

#: Fault injection for the crash tests: ``MIXBOT_NOTIFY_CRASH_AT=routed`` SIGKILLs the
#: process right after a routing transaction committed (messages queued, none sent);
#: ``sent`` right after a server accepted a message, before it is marked sent.
CRASH_ENV = "MIXBOT_NOTIFY_CRASH_AT"


def _maybe_crash(stage: str) -> None:
    if os.environ.get(CRASH_ENV) == stage:
        os.kill(os.getpid(), signal.SIGKILL)


#: The router's cursor name in ``consumer_cursors``.
CONSUMER = "notify"
#: Error storms: at most one error email per bot per this many seconds; the errors in
#: between are joined into the next one (which counts them in its subject).
ERROR_BATCH_S = 600.0


class Notifier:
    """Routes and sends the notifications of one database.

    Args:
        events: the database's event log.
        rules: bot id -> its :class:`~mixbot.notify.rules.BotRules` (other bots' events are
            passed over).
        senders: channel name -> sender; a channel without one keeps its rows queued.
        delivery: retry settings.
        clock: time source (tests pass a ManualClock); ``rng``: jitter source.
        from_start: a database without a ``notify`` cursor yet is routed from its first
            event (True) or from now (False, the default: enabling notifications does not
            send the alerts of every earlier session).
    """

    def __init__(
        self,
        events: EventLog,
        rules: dict[str, BotRules],
        senders: dict[str, Sender],
        delivery: DeliverySettings | None = None,
        clock: Clock = SYSTEM_CLOCK,
        rng: random.Random | None = None,
        from_start: bool = False,
    ) -> None:
        self.events = events
        self.queue = NotificationQueue(events)
        self.rules = rules
        self.senders = senders
        self.delivery = delivery or DeliverySettings()
        self.from_start = from_start
        self.clock = clock
        self.rng = rng or random.Random()
        self._cursor: int | None = None

    def now(self) -> dt.datetime:
        """The clock's time, naive UTC."""
        return dt.datetime.fromtimestamp(self.clock.time(), dt.UTC).replace(tzinfo=None)

    def route(self, limit: int = 500) -> int:
        """Queue the messages of up to ``limit`` new bus events; returns how many were queued
        (the cursor moves past every event read, routed or not)."""
        if self._cursor is None:
            self._cursor = self._start()
        rows = self.events.read(self._cursor, limit)
        if not rows:
            return 0
        out: list[Outgoing] = []
        for ev in rows:
            rules = self.rules.get(ev["bot_id"])
            if rules is None:
                continue
            routes = rules.routes(ev["type"])
            if not routes:
                continue
            try:
                msg = render(ev["type"], ev["payload"], ev["bot_id"], rules.zone)
            except Exception as exc:  # noqa: BLE001 - an odd payload still gets through
                msg = fallback(ev["type"], ev["payload"], ev["bot_id"], exc)
            for r in routes:
                batch = ERROR_BATCH_S if (r.channel, ev["type"]) == ("email", "error") else None
                out.append(
                    Outgoing(
                        ev["seq"],
                        ev["bot_id"],
                        ev["type"],
                        r.channel,
                        r.dest,
                        r.silent,
                        msg.subject,
                        msg.text,
                        msg.html,
                        batch,
                    )
                )
        n = self.queue.enqueue(CONSUMER, rows[-1]["seq"], out, self.now())
        self._cursor = rows[-1]["seq"]
        if n:
            _maybe_crash("routed")
        return n

    def _start(self) -> int:
        """The cursor to route from: the stored one; for a new consumer 0 or the newest event."""
        stored = self.events.cursor(CONSUMER)
        if stored or self.from_start:
            return stored
        last = self.events.last_seq()
        if last:
            self.queue.enqueue(CONSUMER, last, (), self.now())
        return last

    def _delay(self, attempts: int, retry_after: float | None) -> float:
        if retry_after is not None and retry_after >= 0:
            return float(retry_after)
        d = self.delivery
        return self.rng.uniform(0.0, min(d.retry_max_s, d.retry_base_s * 2.0**attempts))

    def send_due(self, limit: int = 50) -> int:
        """Send the due rows; returns how many were delivered. A failure of any kind is
        recorded on its row (retried later) and never stops the others; a channel that
        answered "retry after" gets nothing more this round."""
        sent = 0
        give_up = dt.timedelta(hours=self.delivery.give_up_after_hours)
        paused: set[str] = set()
        for row in self.queue.due(self.now(), limit=limit):
            now = self.now()  # pacing may have waited: times are per row
            if now - row["created_at"] > give_up:
                self._give_up(row, now)
                continue
            sender = self.senders.get(row["channel"])
            if sender is None or row["channel"] in paused:
                continue
            try:
                sender.send(row)
            except Exception as exc:  # noqa: BLE001 - DeliveryError, or a bug on one row
                err = (
                    exc if isinstance(exc, DeliveryError) else DeliveryError(_scrubbed(sender, exc))
                )
                if err.retry_after is not None:
                    paused.add(row["channel"])
                wait = self._delay(row["attempts"], err.retry_after)
                now = self.now()
                self.queue.mark_failed(row["id"], str(err), now + dt.timedelta(seconds=wait))
                log.warning(
                    "notification %s (%s) not delivered (try %d): %s; next try in %.1f s",
                    row["key"],
                    row["channel"],
                    row["attempts"] + 1,
                    err,
                    wait,
                )
                continue
            _maybe_crash("sent")
            self.queue.mark_sent(row["id"], self.now())
            sent += 1
        return sent

    def _give_up(self, row: dict[str, Any], now: dt.datetime) -> None:
        why = row["last_error"] or "never sent"
        self.queue.give_up(row["id"], why, now)
        log.error(
            "notification %s (%s %s of bot %s) dropped after %d tries over %.0f h: %s",
            row["key"],
            row["channel"],
            row["event_type"],
            row["bot_id"],
            row["attempts"],
            self.delivery.give_up_after_hours,
            why,
        )

    def pump(self) -> int:
        """Route, then send: one round; returns how many messages were queued or sent. A
        failing route (the store busy) does not keep the queued messages from going out."""
        try:
            routed = self.route()
        except Exception as exc:  # noqa: BLE001
            log.error("notifications: routing failed: %s", exc)
            routed = 0
        return routed + self.send_due()


def _scrubbed(sender: Any, exc: BaseException) -> str:
    """``exc`` as text without the sender's secrets (a sender may define ``secrets()``)."""
    from mixbot.notify.channel import scrub

    text = f"{type(exc).__name__}: {exc}"
    secrets = getattr(sender, "secrets", None)
    return scrub(text, tuple(secrets())) if callable(secrets) else text


class NotifierThread(threading.Thread):
    """Runs :meth:`Notifier.pump` for each notifier until :meth:`stop`, waiting
    ``idle_s`` between rounds that did nothing, then for up to ``drain_s`` s while rounds
    still deliver; errors are logged, never raised.

    Args:
        notifiers: one per database.
        tasks: called first in every round (each returns how many events it wrote).
        clock: time source of the waits.
        on_error: called with each exception (default: logged).
    """

    def __init__(
        self,
        notifiers: list[Notifier],
        tasks: list[Callable[[], int]] | None = None,
        idle_s: float = 0.2,
        drain_s: float = 5.0,
        clock: Clock = SYSTEM_CLOCK,
        on_error: Callable[[BaseException], Any] | None = None,
    ) -> None:
        super().__init__(name="mixbot-notify", daemon=True)
        self.notifiers = notifiers
        self.tasks = tasks or []
        self.idle_s = idle_s
        self.drain_s = drain_s
        self.clock = clock
        self.on_error = on_error or (lambda e: log.error("notifications: %s", e))
        self._stop_event = threading.Event()

    def _round(self) -> int:
        busy = 0
        for task in self.tasks:  # scheduled events (the daily summary) first
            try:
                busy += task()
            except Exception as exc:  # noqa: BLE001
                self.on_error(exc)
        for n in self.notifiers:
            try:
                busy += n.pump()
            except Exception as exc:  # noqa: BLE001 - one bad round never ends delivery
                self.on_error(exc)
        return busy

    def run(self) -> None:
        while not self._stop_event.is_set():
            if not self._round() and self.clock.wait(self._stop_event, self.idle_s):
                break
        deadline = self.clock.monotonic() + self.drain_s
        while self.clock.monotonic() < deadline and self._round():
            pass  # last alerts (bot_stopped...) out before the host exits; the rest stay queued

    def stop(self, timeout: float = 10.0) -> None:
        """End the thread: it sends what is due for up to ``drain_s`` seconds more (what it
        cannot send stays queued for the next start), waiting up to ``timeout`` s."""
        self._stop_event.set()
        if self.is_alive():
            self.join(timeout)
        closed: set[int] = set()
        for n in self.notifiers:  # the senders' HTTP clients and event loops
            for sender in n.senders.values():
                close = getattr(sender, "close", None)
                if callable(close) and id(sender) not in closed and not self.is_alive():
                    closed.add(id(sender))
                    close()
