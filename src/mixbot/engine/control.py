"""The bot process's control thread: commands from the store, heartbeats.

It wakes when the bot's doorbell file changes (a sender on this host rings it right after
queueing a command: :func:`mixbot.service.locks.ring`; checked every 0.1 s), so a command
reaches the bot within a second also between bars and while the feed waits; it also polls
the store every ``poll_s`` seconds (3 s; 30 s on a SQLite store, which only this host's
senders, who ring, can reach) for senders on other hosts (a shared PostgreSQL). The
strategy thread acts on what it sets (:class:`Controls`) at its next bar; ``stop`` also
stops the feed at once.

On each heartbeat it also emits the bus events that report the passage of time rather than a
fact: ``token_expiring`` once per token, :data:`TOKEN_WARN_S` before the venue's token expires
(when the venue can tell: ``token_expiry``), and a ``status`` event every ``status_s`` seconds
(default hourly; the bot's status, position and equity from the store).
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mixbot.bus.events import make

#: ``token_expiring`` is emitted this many seconds before the token's expiry (30 min).
TOKEN_WARN_S = 30 * 60
#: Seconds without an engine-loop turn after which the control thread warns (a bar never
#: takes this long; an idle live feed turns over every ``qcheck`` seconds).
STALL_WARN_S = 20.0


@dataclass
class Controls:
    """What the operator asked for, read by the strategy on each bar (thread-safe enough:
    single assignments of Python objects)."""

    paused: bool = False
    force_exit: str | None = None  # exit reason to square off with on the next bar
    halt: str | None = None  # halt reason (panic): square off, then stop trading
    #: the operator resumed: clear a halt (panic, limits) on the next bar; a halt lasts
    #: until then, also across restarts (it is in the checkpoint's risk state)
    unhalt: bool = False
    log: list[str] = field(default_factory=list)


class ControlThread(threading.Thread):
    """Reads the bot's control commands and writes its heartbeat.

    Args:
        store: the bot's :class:`~mixbot.store.repository.Store`.
        controls: the :class:`Controls` the strategy reads.
        stop_bot: callable that stops the bot gracefully (after the current bar).
        bell: the doorbell file to watch.
        log: the bot's logger.
        poll_s: longest wait between two looks at the store (seconds); None = 3 s, or 30 s
            for a SQLite store (its senders are on this host and ring the doorbell).
        beat_s: heartbeat period (seconds).
        watch_s: how often the doorbell's mtime is checked (seconds; 0.5 s: a command is
            taken within a second also when its handling takes a few hundred ms, and each
            look costs an idle bot ~0.2 ms of CPU).
        token_expiry: the venue's ``(venue name, callable -> aware datetime of the token's
            expiry or None)``; None when the venue has no expiring token (paper).
        status_s: period of the ``status`` event (seconds); 0 disables it.
        engine_idle_s: callable -> seconds since the bot's engine loop last turned over
            (None while unknown, e.g. before the first turn). The heartbeat records that
            moment rather than "now", so a process whose engine is stuck (a hung broker
            call, a deadlock) ages like a dead one and the supervisor restarts it after
            ``hang_after_s``; None = the heartbeat always says now.
        wall: the wall clock (aware UTC datetime); tests pass their own.
    """

    def __init__(
        self,
        store: Any,
        controls: Controls,
        stop_bot: Callable[[], None],
        bell: Path,
        log: logging.Logger,
        poll_s: float | None = None,
        beat_s: float = 10.0,
        watch_s: float = 0.5,
        token_expiry: tuple[str, Callable[[], dt.datetime | None]] | None = None,
        status_s: float = 3600.0,
        wall: Callable[[], dt.datetime] | None = None,
        engine_idle_s: Callable[[], float | None] | None = None,
        token_gate: Any = None,
    ) -> None:
        super().__init__(name=f"control-{store.bot_id}", daemon=True)
        from mixbot.store.control import ControlChannel

        self.store = store
        self.channel = ControlChannel(store.engine, store.bot_id, store.mode, store.url)
        self.controls = controls
        self.stop_bot = stop_bot
        self.bell = bell
        self.log = log
        if poll_s is None:
            poll_s = 30.0 if str(store.url).startswith("sqlite") else 3.0
        self.poll_s = poll_s
        self.beat_s = beat_s
        self.watch_s = watch_s
        self.token_expiry = token_expiry
        self.status_s = status_s
        self._wall = wall or (lambda: dt.datetime.now(dt.UTC))
        self.engine_idle_s = engine_idle_s
        self.token_gate = token_gate
        self._token_dead = False
        self._stalled = False
        self._warned: set[str] = set()
        self._last_status: float | None = None
        self._quit = threading.Event()
        from mixbot.bus.consumer import JsonlJournal
        from mixbot.store.outbox import EventLog

        self.journal = JsonlJournal(EventLog(store.url, engine=store.engine), store.bot_id)
        # events.jsonl lags the store by at most journal_s after this process wrote events,
        # and journal_idle_s for events other processes wrote (the supervisor, a GUI)
        self.journal_s = 5.0
        self.journal_idle_s = 60.0

    def _mtime(self) -> float:
        try:
            return self.bell.stat().st_mtime
        except OSError:
            return 0.0

    def run(self) -> None:
        from mixbot.store.outbox import written_here

        last_poll = last_beat = last_journal = 0.0
        seen, pumped_at = self._mtime(), -1

        while not self._quit.is_set():
            now = time.monotonic()
            m = self._mtime()
            if m != seen or now - last_poll >= self.poll_s:
                seen = m
                last_poll = now
                self._safely(self.poll)
            self._safely(self.token_state)
            if now - last_beat >= self.beat_s:
                last_beat = now
                self._safely(self.beat)
                self._safely(functools.partial(self.timed_events, now))
            due = now - last_journal
            written = written_here()
            if (due >= self.journal_s and written != pumped_at) or due >= self.journal_idle_s:
                last_journal, pumped_at = now, written
                self._safely(self.journal.pump)
            self._quit.wait(self.watch_s)
        self._safely(self.journal.pump)  # the last events (bot_stopped) too

    def token_state(self) -> None:
        """Say when the venue refused the bot's token and when a new one was taken up: the
        bot's status (``token_expired`` / back to running or paused), a ``status`` event with
        the reason, an ``error`` event and an audit row (no-op without a token gate)."""
        gate = self.token_gate
        if gate is None or gate.expired == self._token_dead:
            return
        self._token_dead = gate.expired
        if gate.expired:
            reason = str(gate.reason)
            self.store.set_status(
                "token_expired",
                events=(
                    make("status", status="token_expired", reason=reason),
                    make("error", message=reason),
                ),
            )
            self.store.event("token_expired", reason)
            return
        status = "paused" if self.controls.paused else "running"
        why = "a new access token was taken up: trading continues"
        self.store.set_status(status, events=(make("status", status=status, reason=why),))
        self.store.event("token_renewed", why)

    def beat(self) -> None:
        """Write the heartbeat: the time the engine loop last turned over (now when that is
        unknown); warns once per stall when the engine has been silent for 2 heartbeats."""
        idle = self.engine_idle_s() if self.engine_idle_s is not None else None
        if idle is None:
            self.store.heartbeat()
            return
        stalled = idle > STALL_WARN_S
        if stalled and not self._stalled:
            self.log.warning(
                "engine loop has not turned over for %.0f s: the heartbeat stays at its last "
                "turn, so a supervisor restarts this bot after its hang_after_s",
                idle,
            )
        self._stalled = stalled
        at = self._wall().astimezone(dt.UTC).replace(tzinfo=None) - dt.timedelta(seconds=idle)
        self.store.heartbeat(at)

    def _safely(self, fn: Callable[[], Any]) -> None:
        try:
            fn()
        except Exception as exc:  # a store hiccup: try again on the next round
            self.log.warning("control channel: %s", exc)

    def timed_events(self, now: float) -> None:
        """Emit ``token_expiring`` (once per expiry) and the periodic ``status`` when due.

        ``now`` is a monotonic time in seconds (the status period); the token check uses the
        wall clock. Also callable directly (tests)."""
        if self.token_expiry is not None:
            venue, expiry_of = self.token_expiry
            expires = expiry_of()
            if expires is not None:
                left = (expires - self._wall()).total_seconds()
                key = f"token_expiring:{venue}:{expires.isoformat()}"
                if left <= TOKEN_WARN_S and key not in self._warned:
                    self._warned.add(key)
                    ev = make(
                        "token_expiring",
                        key=key,
                        venue=venue,
                        expires_at=expires,
                        minutes_left=max(0, int(left // 60)),
                    )
                    self.store.emit((ev,))
        if self.status_s > 0:
            if self._last_status is None:
                self._last_status = now  # the first one is one period after the start
            elif now - self._last_status >= self.status_s:
                self._last_status = now
                self.store.emit((self.status_event(),))

    def status_event(self) -> Any:
        """A ``status`` event: the bot's stored status, feed state, open positions
        (symbol -> signed quantity, shares) and last equity (INR)."""
        row = self.store.bot_row()
        return make(
            "status",
            status=row.get("status") or "running",
            feed_state=row.get("feed_state"),
            positions={p["symbol"]: p["qty"] for p in self.store.positions() if p.get("qty")},
            equity=self.store.last_equity(),
        )

    def poll(self) -> None:
        """Take and act on every new command (also callable directly, e.g. by tests)."""
        for cmd in self.channel.take():
            args = cmd.get("args") or {}
            result = self.act(cmd["command"], args)
            who = f"{cmd['source']}, user {args['user']}" if args.get("user") else cmd["source"]
            self.log.warning("command %s from %s: %s", cmd["command"], who, result)
            data = {"command": cmd["command"], "source": cmd["source"], "user": args.get("user")}
            self.store.event("command", f"{cmd['command']} ({who}): {result}", data)
            self.channel.done(cmd["id"], result)

    def act(self, command: str, args: dict[str, Any]) -> str:
        """Apply one command; returns the answer for its sender."""
        c = self.controls
        if command == "stop":
            self.stop_bot()
            return "stopping after the current bar"
        if command == "pause":
            c.paused = True
            self.store.set_status("paused", events=(make("status", status="paused"),))
            return "paused: no new entries (exits still run)"
        if command == "resume":
            c.paused = False
            c.unhalt = True
            self.store.set_status("running", events=(make("status", status="running"),))
            return "resumed"
        if command == "force_exit":
            c.force_exit = "force_exit"
            return "squaring off at market on the next bar"
        if command == "panic":
            c.halt = str(args.get("reason") or "panic")
            return "squaring off on the next bar, then halted"
        return f"unknown command {command!r}: ignored"

    def quit(self) -> None:
        """End the thread (the bot is done)."""
        self._quit.set()
