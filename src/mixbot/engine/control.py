"""The bot process's control thread: commands from the store, heartbeats.

It wakes when the bot's doorbell file changes (a sender on this host rings it right after
queueing a command: :func:`mixbot.service.locks.ring`; checked every 0.1 s), so a command
reaches the bot within a second also between bars and while the feed waits; it also polls
the store every ``poll_s`` seconds (3 s) for senders on other hosts (a shared PostgreSQL). The
strategy thread acts on what it sets (:class:`Controls`) at its next bar; ``stop`` also
stops the feed at once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mixbot.bus.events import make


@dataclass
class Controls:
    """What the operator asked for, read by the strategy on each bar (thread-safe enough:
    single assignments of Python objects)."""

    paused: bool = False
    force_exit: str | None = None  # exit reason to square off with on the next bar
    halt: str | None = None  # halt reason (panic): square off, then stop trading
    log: list[str] = field(default_factory=list)


class ControlThread(threading.Thread):
    """Reads the bot's control commands and writes its heartbeat.

    Args:
        store: the bot's :class:`~mixbot.store.repository.Store`.
        controls: the :class:`Controls` the strategy reads.
        stop_bot: callable that stops the bot gracefully (after the current bar).
        bell: the doorbell file to watch.
        log: the bot's logger.
        poll_s: longest wait between two looks at the store (seconds).
        beat_s: heartbeat period (seconds).
        watch_s: how often the doorbell's mtime is checked (seconds).
    """

    def __init__(
        self,
        store: Any,
        controls: Controls,
        stop_bot: Callable[[], None],
        bell: Path,
        log: logging.Logger,
        poll_s: float = 3.0,
        beat_s: float = 5.0,
        watch_s: float = 0.1,
    ) -> None:
        super().__init__(name=f"control-{store.bot_id}", daemon=True)
        from mixbot.store.control import ControlChannel

        self.store = store
        self.channel = ControlChannel(store.engine, store.bot_id, store.mode, store.url)
        self.controls = controls
        self.stop_bot = stop_bot
        self.bell = bell
        self.log = log
        self.poll_s = poll_s
        self.beat_s = beat_s
        self.watch_s = watch_s
        self._quit = threading.Event()
        from mixbot.bus.consumer import JsonlJournal
        from mixbot.store.outbox import EventLog

        self.journal = JsonlJournal(EventLog(store.url, engine=store.engine), store.bot_id)
        self.journal_s = 5.0  # events.jsonl lags the store by at most this (seconds)

    def _mtime(self) -> float:
        try:
            return self.bell.stat().st_mtime
        except OSError:
            return 0.0

    def run(self) -> None:
        last_poll = last_beat = last_journal = 0.0
        seen = self._mtime()
        while not self._quit.is_set():
            now = time.monotonic()
            m = self._mtime()
            if m != seen or now - last_poll >= self.poll_s:
                seen = m
                last_poll = now
                self._safely(self.poll)
            if now - last_beat >= self.beat_s:
                last_beat = now
                self._safely(self.store.heartbeat)
            if now - last_journal >= self.journal_s:
                last_journal = now
                self._safely(self.journal.pump)
            self._quit.wait(self.watch_s)
        self._safely(self.journal.pump)  # the last events (bot_stopped) too

    def _safely(self, fn: Callable[[], Any]) -> None:
        try:
            fn()
        except Exception as exc:  # a store hiccup: try again on the next round
            self.log.warning("control channel: %s", exc)

    def poll(self) -> None:
        """Take and act on every new command (also callable directly, e.g. by tests)."""
        for cmd in self.channel.take():
            result = self.act(cmd["command"], cmd.get("args") or {})
            self.log.warning("command %s from %s: %s", cmd["command"], cmd["source"], result)
            self.store.event("command", f"{cmd['command']} ({cmd['source']}): {result}")
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
