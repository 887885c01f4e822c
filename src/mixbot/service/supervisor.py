"""``mixbot serve``: many bots, each in its own OS process, supervised.

- Each bot runs as ``python -m mixbot run CONFIG --supervised`` (its own interpreter, its
  own logs under ``logs/<bot_id>/``), so a crash, a hang or a memory blow-up in one never
  stops the others. The child asks the kernel for SIGTERM when the supervisor dies
  (``PR_SET_PDEATHSIG``), so a ``kill -9`` of the supervisor leaves no orphan trading on.
- A bot that dies (non-zero exit, a signal) is restarted after an exponential backoff
  (``restart_backoff_s`` doubling up to ``restart_backoff_max_s``); ``max_failures`` failures
  within ``failure_window_minutes`` trip the circuit breaker: the bot is halted and an
  ``error`` event says why. A ``start`` command (``BotService.start``) re-arms it.
- A bot whose heartbeat is older than ``hang_after_s`` is hung: killed (SIGKILL) and
  restarted like a crash. Its control thread writes the heartbeat every 10 s with the time
  the engine loop last turned over, so a stuck strategy thread ages it too.
- A bot that exits 0 (its feed ended, or it was stopped by a command) is not restarted.
- A bot whose lock another process holds (exit code :data:`EXIT_LOCKED`) is retried without
  counting a failure: one bot never runs twice, also across supervisors.
- SIGTERM / SIGINT: every bot is asked to stop after its current bar (SIGTERM); whatever is
  still up after ``stop_timeout_s`` is killed.

Times are ``time.monotonic`` seconds (``clock``, replaceable in tests).
"""

from __future__ import annotations

import collections
import logging
import os
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mixbot.bus.events import make
from mixbot.config.settings import SupervisorSettings

#: Exit code of ``mixbot run --supervised`` when another process holds the bot's lock.
EXIT_LOCKED = 75
#: Exit code of a bot whose config or data is invalid: restarting cannot help.
EXIT_INVALID = 2
#: Environment variable naming the supervisor's pid for its children.
SUPERVISOR_ENV = "MIXBOT_SUPERVISOR_PID"

log = logging.getLogger("mixbot.supervisor")


@dataclass
class Child:
    """One supervised bot: its config, process and restart bookkeeping."""

    ref: Any  # mixbot.service.bots.BotRef
    proc: subprocess.Popen[bytes] | None = None
    state: str = (
        "pending"  # pending|idle|running|backoff|waiting_lock|finished|stopped|halted|invalid
    )
    failures: collections.deque[float] = field(default_factory=collections.deque)
    next_start: float = 0.0
    backoff: float = 0.0
    started_at: float = 0.0
    restarts: int = 0
    last_exit: int | None = None
    reason: str = ""
    fresh: bool = False  # pass --fresh on the next start (a new session), then never again


class Supervisor:
    """Runs and watches the bots of ``refs``.

    Args:
        refs: the bots (:class:`~mixbot.service.bots.BotRef`).
        settings: the ``supervisor`` section of the host settings.
        service: a :class:`~mixbot.service.bots.BotService` (stores, commands).
        fresh: start each bot's first process with ``--fresh`` (a new stored session).
        python: the interpreter for the bot processes.
        extra_env: added to each child's environment.
        clock: monotonic clock (seconds).
        on_change: called with (child, text) on every state change (the CLI prints it).
        idle: start no bot until it is asked to (``mixbot start``, the web GUI, Telegram).
    """

    def __init__(
        self,
        refs: list[Any],
        settings: SupervisorSettings,
        service: Any,
        fresh: bool = False,
        python: str = sys.executable,
        extra_env: dict[str, str] | None = None,
        clock: Callable[[], float] = time.monotonic,
        on_change: Callable[[Child, str], None] | None = None,
        idle: bool = False,
    ) -> None:
        first = "idle" if idle else "pending"
        self.children = [Child(r, state=first, fresh=fresh) for r in refs]
        self._adopted: list[Child] = []
        self._adopt_lock = threading.Lock()
        self.settings = settings
        self.service = service
        self.python = python
        self.extra_env = extra_env or {}
        self.clock = clock
        self.on_change = on_change or (lambda c, text: log.info("%s: %s", c.ref.bot_id, text))
        self._stopping = False
        self._last_beats = 0.0
        self._last_cmds = 0.0

    # ------------------------------------------------------------------ processes
    def _spawn(self, c: Child) -> None:
        logs = Path("logs") / c.ref.bot_id
        logs.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, **self.extra_env, SUPERVISOR_ENV: str(os.getpid())}
        cmd = [self.python, "-m", "mixbot", "run", c.ref.file, "--supervised", "--no-progress"]
        if c.fresh:
            cmd.append("--fresh")
        with (logs / "console.log").open("ab") as out:
            c.proc = subprocess.Popen(
                cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env
            )
        c.started_at = self.clock()
        c.state = "running"
        c.fresh = False
        self.on_change(c, f"started (pid {c.proc.pid})")

    def _failed(self, c: Child, why: str, now: float) -> None:
        s = self.settings
        c.failures.append(now)
        window = s.failure_window_minutes * 60.0
        while c.failures and now - c.failures[0] > window:
            c.failures.popleft()
        if len(c.failures) >= s.max_failures:
            c.state = "halted"
            c.reason = (
                f"circuit breaker: {len(c.failures)} failures within "
                f"{s.failure_window_minutes:g} min (last: {why}); not restarted until "
                "`mixbot start` (or a fix and a new `mixbot serve`)"
            )
            self._emit(
                c, "error", message=f"bot {c.ref.bot_id} halted by the supervisor: {c.reason}"
            )
            self._emit(c, "halted", reason=c.reason)
            self._set_status(c, "halted")
            self.on_change(c, f"HALTED: {c.reason}")
            return
        c.backoff = min(
            s.restart_backoff_max_s, c.backoff * 2 if c.backoff else s.restart_backoff_s
        )
        c.next_start = now + c.backoff
        c.state = "backoff"
        c.restarts += 1
        self._emit(c, "error", message=f"bot {c.ref.bot_id} {why}; restarting in {c.backoff:g} s")
        self.on_change(c, f"{why}; restart #{c.restarts} in {c.backoff:g} s")

    def _exited(self, c: Child, code: int, now: float) -> None:
        c.proc = None
        c.last_exit = code
        if code == 0:
            st = self._stored_status(c)
            c.state = st if st in ("stopped", "halted") else "finished"
            c.backoff = 0.0
            self.on_change(c, f"{c.state} (exit 0)")
        elif code == EXIT_LOCKED:
            c.state = "waiting_lock"
            c.next_start = now + max(1.0, self.settings.restart_backoff_s)
            self.on_change(c, "another process runs this bot: waiting for it to stop")
        elif code == EXIT_INVALID:
            c.state = "invalid"
            c.reason = f"its config or data is invalid: see logs/{c.ref.bot_id}/console.log"
            self._emit(c, "error", message=f"bot {c.ref.bot_id} cannot start: {c.reason}")
            self.on_change(c, f"NOT RESTARTED: {c.reason}")
        else:
            why = f"died (signal {-code})" if code < 0 else f"crashed (exit {code})"
            self._failed(c, why, now)

    # ------------------------------------------------------------------ store
    def _emit(self, c: Child, kind: str, **payload: Any) -> None:
        from mixbot.store.outbox import EventLog

        try:
            EventLog(c.ref.url, engine=self.service.engine(c.ref.url, create=True)).emit(
                c.ref.bot_id, c.ref.mode, [make(kind, **payload)]
            )
        except Exception as exc:  # the events are a report; the supervision goes on
            log.warning("%s: cannot write %s event: %s", c.ref.bot_id, kind, exc)

    def _row(self, c: Child) -> dict[str, Any] | None:
        try:
            store = self.service.store(c.ref)
            return store.bot_row() if store is not None else None
        except Exception:
            return None

    def _stored_status(self, c: Child) -> str | None:
        row = self._row(c)
        return row["status"] if row else None

    def _set_status(self, c: Child, status: str) -> None:
        try:
            store = self.service.store(c.ref)
            if store is not None:
                store.set_status(status)
        except Exception as exc:
            log.warning("%s: cannot record status %s: %s", c.ref.bot_id, status, exc)

    def _check_hangs(self, now: float) -> None:
        from mixbot.store.repository import utcnow

        limit = self.settings.hang_after_s
        for c in self.children:
            if c.proc is None or now - c.started_at < limit:
                continue
            row = self._row(c)
            beat = row.get("last_heartbeat") if row else None
            if beat is None or (utcnow() - beat).total_seconds() > limit:
                self.on_change(c, f"no heartbeat for {limit:g} s: hung, killing pid {c.proc.pid}")
                c.proc.kill()
                c.proc.wait()
                c.proc = None
                self._failed(c, f"hung (no heartbeat for {limit:g} s)", now)

    def _take_start_commands(self) -> None:
        from mixbot.store.control import ControlChannel

        for c in self.children:
            if c.state not in ("idle", "finished", "stopped", "halted", "invalid"):
                continue
            try:
                engine = self.service.engine(c.ref.url, create=True)
                cmds = ControlChannel(engine, c.ref.bot_id, c.ref.mode, c.ref.url).take(("start",))
            except Exception:
                continue
            if cmds:
                c.failures.clear()
                c.backoff = 0.0
                c.state = "pending"
                c.next_start = 0.0
                self.on_change(c, "start requested")

    # ------------------------------------------------------------------ other threads
    def adopt(self, ref: Any) -> None:
        """Supervise one more bot (a config created while serving: the web GUI's editor). It
        starts idle, like a finished bot: a ``start`` command starts it. Thread-safe; the
        bot joins at the next :meth:`step`. A bot already supervised is ignored."""
        with self._adopt_lock:
            known = {(c.ref.bot_id, c.ref.mode) for c in self.children + self._adopted}
            if (ref.bot_id, ref.mode) not in known:
                self._adopted.append(Child(ref, state="idle"))

    def snapshot(self) -> list[Child]:
        """The supervised bots now (a copy of the list; read their fields, do not change
        them). Thread-safe."""
        with self._adopt_lock:
            return list(self.children) + list(self._adopted)

    # ------------------------------------------------------------------ loop
    def step(self) -> None:
        """One round: reap exits, start what is due, look for hangs and start commands."""
        now = self.clock()
        with self._adopt_lock:
            for c in self._adopted:
                self.children.append(c)
                self.on_change(c, "config added: idle until started")
            self._adopted.clear()
        for c in self.children:
            if c.proc is not None:
                code = c.proc.poll()
                if code is not None:
                    self._exited(c, code, now)
            if self._stopping:
                continue
            if c.state in ("pending", "backoff", "waiting_lock") and now >= c.next_start:
                self._spawn(c)
        # heartbeats are read every quarter of hang_after_s (at least 5 s): a hang is seen
        # within 1.25 x hang_after_s, and 20 idle bots cost the store ~1 read a second
        if not self._stopping and now - self._last_beats >= max(
            5.0, self.settings.hang_after_s / 4
        ):
            self._last_beats = now
            self._check_hangs(now)
        if not self._stopping and now - self._last_cmds >= 1.0:
            self._last_cmds = now
            self._take_start_commands()

    def active(self) -> bool:
        """True while some bot runs or waits for a (re)start."""
        return any(
            c.proc is not None or c.state in ("pending", "backoff", "waiting_lock")
            for c in self.children
        )

    def run(self, poll_s: float = 1.0, until_done: bool = True) -> int:
        """Supervise until every bot is done (``until_done``) or SIGTERM/SIGINT; then stop
        them all. Returns 0 when no bot ended halted or invalid, else 1.

        Between rounds the loop sleeps up to ``poll_s`` seconds (less when a restart is due
        sooner); a child's exit (SIGCHLD), SIGTERM or SIGINT wakes it at once, through
        ``signal.set_wakeup_fd``. Must run in the main thread (signal handlers)."""
        wake_r, wake_w = os.pipe()
        for fd in (wake_r, wake_w):
            os.set_blocking(fd, False)
        handlers = {signal.SIGINT: self._on_signal, signal.SIGTERM: self._on_signal}
        handlers[signal.SIGCHLD] = lambda *_: None  # only to wake the loop (wakeup fd)
        old = {s: signal.signal(s, h) for s, h in handlers.items()}
        old_fd = signal.set_wakeup_fd(wake_w, warn_on_full_buffer=False)
        try:
            while not self._stopping:
                self.step()
                if until_done and not self.active():
                    break
                self._sleep(wake_r, poll_s)
        finally:
            signal.set_wakeup_fd(old_fd)
            self.shutdown()
            for s, h in old.items():
                signal.signal(s, h)
            os.close(wake_r)
            os.close(wake_w)
        return 1 if any(c.state in ("halted", "invalid") for c in self.children) else 0

    def _sleep(self, wake_fd: int, poll_s: float) -> None:
        """Wait for a signal on ``wake_fd``, at most ``poll_s`` s or until a restart is due."""
        now = self.clock()
        due = [
            c.next_start - now
            for c in self.children
            if c.proc is None and c.state in ("pending", "backoff", "waiting_lock")
        ]
        timeout = max(0.01, min([poll_s, *due]))  # never a busy loop
        if select.select([wake_fd], [], [], timeout)[0]:
            try:
                while os.read(wake_fd, 512):
                    pass
            except BlockingIOError:
                pass  # drained

    def _on_signal(self, *_: Any) -> None:
        self._stopping = True

    def request_stop(self) -> None:
        """Stop supervising (the loop ends and :meth:`shutdown` runs)."""
        self._stopping = True

    def shutdown(self) -> None:
        """SIGTERM every bot (each stops after its current bar); SIGKILL what is still up
        after ``stop_timeout_s``."""
        self._stopping = True
        running = [c for c in self.children if c.proc is not None and c.proc.poll() is None]
        for c in running:
            assert c.proc is not None
            c.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + self.settings.stop_timeout_s
        for c in running:
            assert c.proc is not None
            try:
                c.proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.on_change(c, f"still up after {self.settings.stop_timeout_s:g} s: killed")
                c.proc.kill()
                c.proc.wait()
        for c in self.children:
            if c.proc is not None:
                self._exited(c, c.proc.wait(), self.clock())


def as_supervised_child() -> None:
    """In a bot process started by :class:`Supervisor`: ask the kernel for SIGTERM when the
    supervisor dies (Linux ``prctl(PR_SET_PDEATHSIG)``), and exit at once if it is already
    gone. Elsewhere (no supervisor pid in the environment) it does nothing."""
    want = os.environ.get(SUPERVISOR_ENV)
    if not want:
        return
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM, 0, 0, 0)  # PR_SET_PDEATHSIG = 1
    except (OSError, AttributeError):
        pass  # not Linux: the lock still stops a second copy of the bot
    if str(os.getppid()) != want:
        raise SystemExit(f"mixbot: the supervisor (pid {want}) is gone: not starting")
