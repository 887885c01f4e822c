""":class:`BotService`: every operation on bots, once. The CLI, the REST API, the web GUI and
Telegram are thin adapters over it.

Bots are named by their config files (see :mod:`mixbot.service.configs`); each operation
takes one path or several. Each bot's store is opened read-mostly from its config's
``database.url`` (or ``$MIXBOT_DATABASE_URL``); engines are shared per database.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mixbot.errors import ConfigError, StoreError
from mixbot.service import configs
from mixbot.service.jobs import BacktestJob
from mixbot.service.status import BotStatus, from_store, never_run, to_market_time
from mixbot.service.trades import PnlBucket, filter_rows, pnl_by, rows_from_store


@dataclass(frozen=True)
class BotRef:
    """A bot as named by its config: file, id, store mode and database URL."""

    file: str
    bot_id: str
    mode: str
    url: str
    cfg: Any


@dataclass(frozen=True)
class CommandResult:
    """A command queued for a bot: its id, and whether the bot took it within the wait
    (``taken``) and what it answered (``result``; None when not done yet)."""

    id: int
    bot_id: str
    command: str
    taken: bool
    result: str | None


class BotService:
    """Operations on bots.

    Args:
        database_url: use this database for every bot (tests, one shared store); default each
            config's own (``database.url`` / ``$MIXBOT_DATABASE_URL`` / the default SQLite file).
        clock: ``time.monotonic``-like callable used for waits (tests pass their own).
        sleep: ``time.sleep``-like callable used between polls.
        jobs_root: folder of the backtest job folders (default ``reports/jobs``).
    """

    def __init__(
        self,
        database_url: str | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        jobs_root: str | Path | None = None,
    ) -> None:
        from mixbot.service.jobs import DEFAULT_ROOT, BacktestJobs

        self.jobs = BacktestJobs(jobs_root or DEFAULT_ROOT)
        self.database_url = database_url
        self._engines: dict[str, Any] = {}
        self._engines_lock = threading.Lock()
        self.clock = clock
        self.sleep = sleep

    # ------------------------------------------------------------------ bots and stores
    def ref(self, path: str | Path) -> BotRef:
        """The bot named by config ``path``.

        Raises:
            ConfigError: the config is invalid (its data file and secrets may be missing).
        """
        from mixbot.store.db import resolve_url

        cfg = configs.load_for_reading(path)
        mode = configs.store_mode(cfg)
        url = self.database_url or resolve_url(cfg.database_url, mode)
        return BotRef(str(path), cfg.bot_id, mode, url, cfg)

    def bots(self, paths: Iterable[str | Path] = ()) -> list[BotRef]:
        """The bots of config files / folders ``paths`` (default ``config/trading/``).

        Raises:
            ConfigError: a path is missing, or a config is invalid.
        """
        return [self.ref(p) for p in configs.expand(paths)]

    def engine(self, url: str, create: bool = False) -> Any:
        """The shared SQLAlchemy engine of ``url`` (opened and migrated once)."""
        from mixbot.store.db import open_engine

        with self._engines_lock:  # shared by the supervisor, notifier and poller threads
            if url not in self._engines:
                self._engines[url] = open_engine(url, create=create)
            return self._engines[url]

    def store(self, ref: BotRef) -> Any | None:
        """The bot's :class:`~mixbot.store.repository.Store`, or None when it never ran there
        (no database yet, or no rows of this bot in it).

        Raises:
            StoreError: the database exists but is unusable (corrupt, locked, newer schema).
        """
        from mixbot.store.repository import Store

        try:
            engine = self.engine(ref.url)
        except StoreError as exc:
            if "no store yet" in str(exc):
                return None
            raise
        s = Store(ref.url, ref.bot_id, ref.mode, engine=engine)
        return s if s.find_bot() is not None else None

    _store_or_none = store

    def close(self) -> None:
        """Release every engine."""
        with self._engines_lock:
            engines = list(self._engines.values())
            self._engines.clear()
        for e in engines:
            e.dispose()

    # ------------------------------------------------------------------ reading
    def status(self, path: str | Path) -> BotStatus:
        """The bot's status (see :class:`~mixbot.service.status.BotStatus`)."""
        from mixbot.service.locks import BotLock

        ref = path if isinstance(path, BotRef) else self.ref(path)
        store = self._store_or_none(ref)
        if store is None:
            return never_run(ref.cfg, ref.mode)
        return from_store(ref.cfg, store, BotLock(ref.url, ref.bot_id, ref.mode).holder())

    def statuses(self, paths: Iterable[str | Path] = ()) -> list[BotStatus]:
        """The status of every bot of ``paths`` (default ``config/trading/``)."""
        return [self.status(r) for r in self.bots(paths)]  # type: ignore[arg-type]

    def positions(self, paths: Iterable[str | Path] = ()) -> list[dict[str, Any]]:
        """Open positions of the bots: bot_id, symbol, qty (shares), avg_price (INR)."""
        out = []
        for ref in self.bots(paths):
            store = self._store_or_none(ref)
            for p in store.positions() if store else []:
                out.append(
                    {
                        "bot_id": ref.bot_id,
                        "symbol": p["symbol"],
                        "qty": p["qty"],
                        "avg_price": p["avg_price"],
                    }
                )
        return out

    def open_orders(self, paths: Iterable[str | Path] = ()) -> list[dict[str, Any]]:
        """Open orders of the bots as stored (bot_id added)."""
        out = []
        for ref in self.bots(paths):
            store = self._store_or_none(ref)
            for o in store.orders(open_only=True) if store else []:
                out.append({"bot_id": ref.bot_id, **o})
        return out

    def trades(
        self,
        paths: Iterable[str | Path] = (),
        symbol: str | None = None,
        date_from: str | None = None,
        date_to: str | None = None,
    ) -> list[dict[str, Any]]:
        """Closed trades of the bots (:data:`~mixbot.service.trades.TRADE_COLUMNS` rows,
        market time), filtered by symbol and exit date (``YYYY-MM-DD``, inclusive)."""
        rows: list[dict[str, Any]] = []
        for ref in self.bots(paths):
            store = self._store_or_none(ref)
            if store is not None:
                rows.extend(rows_from_store(ref.bot_id, store.trades(), ref.cfg.market.timezone))
        return filter_rows(rows, symbol, date_from, date_to)

    def pnl(self, paths: Iterable[str | Path] = (), by: str = "day") -> list[PnlBucket]:
        """Net PnL per ``by`` (day / week / month) per bot and in total (bot_id ``*``)."""
        return pnl_by(self.trades(paths), by)

    def equity(self, path: str | Path) -> list[dict[str, Any]]:
        """The bot's equity curve: bar_index, time (market time), cash, value (INR)."""
        ref = self.ref(path)
        store = self._store_or_none(ref)
        tz = ref.cfg.market.timezone
        return [
            {
                "bar_index": e["bar_index"],
                "time": to_market_time(e["bar_time"], tz),
                "cash": e["cash"],
                "value": e["value"],
            }
            for e in (store.equity() if store else [])
        ]

    def audit(self, path: str | Path, kind: str | None = None) -> list[dict[str, Any]]:
        """The bot's audit trail (order sent, refusals, halts, restarts...), oldest first."""
        ref = self.ref(path)
        store = self._store_or_none(ref)
        tz = ref.cfg.market.timezone
        return [
            {**e, "at": to_market_time(e["created_at"], tz)}
            for e in (store.events(kind) if store else [])
        ]

    def ref_store(self, path: str | Path, mode: str | None = None) -> tuple[BotRef, Any]:
        """The bot named by config ``path`` (in store ``mode``, default from its broker) and
        its store.

        Raises:
            StoreError: the bot never ran against its database in that mode (says to run it
                first), or the database is unusable.
        """
        from dataclasses import replace

        ref = self.ref(path)
        if mode and mode != ref.mode:
            ref = replace(ref, mode=mode)
        store = self.store(ref)
        if store is None:
            raise StoreError(
                f"{ref.url.split('?')[0]}: no store yet for bot {ref.bot_id} ({ref.mode}): "
                "run the bot first"
            )
        return ref, store

    def audit_verify(self, path: str | Path, mode: str | None = None) -> Any:
        """Check the bot's hash-chained audit log: a :class:`mixbot.store.audit.Verdict`
        (``ok``, rows checked, the first bad row and why).

        Raises:
            StoreError: no store for the bot, or the database is unusable.
        """
        from mixbot.store import audit

        _, store = self.ref_store(path, mode)
        return audit.verify(store.events(), store.bot_row())

    def audit_export(
        self, path: str | Path, day: Any, mode: str | None = None
    ) -> tuple[BotRef, list[dict[str, Any]], Any]:
        """The audit rows of exchange date ``day`` (``datetime.date``, in the market's time
        zone) as export records (:func:`mixbot.store.audit.export_record`), with the bot and
        the verdict of the whole chain (an export of a broken chain says so).

        Raises:
            StoreError: no store for the bot, or the database is unusable.
        """
        from mixbot.store import audit

        ref, store = self.ref_store(path, mode)
        rows = store.events()
        verdict = audit.verify(rows, store.bot_row())
        day_rows = audit.day_rows(rows, day, ref.cfg.market.timezone)
        return ref, [audit.export_record(r) for r in day_rows], verdict

    def bus_events(
        self, path: str | Path, after: int = 0, limit: int = 1000
    ) -> list[dict[str, Any]]:
        """Bus events of the bot with ``seq > after`` (see :mod:`mixbot.bus.events`)."""
        from mixbot.store.outbox import EventLog

        ref = self.ref(path)
        log = EventLog(ref.url, engine=self.engine(ref.url))
        return log.read(after, limit, bot_ids=[ref.bot_id])

    # ------------------------------------------------------------------ commands
    def send(
        self,
        path: str | Path,
        command: str,
        args: dict[str, Any] | None = None,
        source: str = "cli",
        wait_s: float = 0.0,
        user: str | None = None,
    ) -> CommandResult:
        """Queue ``command`` (stop, pause, resume, force_exit, panic, start) for the bot and
        ring its doorbell; wait up to ``wait_s`` seconds for the bot to take and answer it.
        ``user`` (default: the OS user for ``source`` cli) goes with the command into the
        bot's audit log.

        Raises:
            ValueError: unknown command.
            StoreError: the database is unusable.
        """
        from mixbot.service.locks import ring
        from mixbot.store.control import ControlChannel

        ref = self.ref(path)
        ch = ControlChannel(self.engine(ref.url, create=True), ref.bot_id, ref.mode, ref.url)
        if user is None and source == "cli":
            import getpass

            user = getpass.getuser()
        if user is not None:
            args = {**(args or {}), "user": user}
        cid = ch.send(command, args, source)
        ring(ref.url, ref.bot_id, ref.mode)
        deadline = self.clock() + wait_s
        row = ch.get(cid) or {}
        while wait_s > 0 and row.get("done_at") is None and self.clock() < deadline:
            self.sleep(0.05)
            row = ch.get(cid) or {}
        return CommandResult(
            cid, ref.bot_id, command, row.get("taken_at") is not None, row.get("result")
        )

    def stop(self, path: str | Path, wait_s: float = 0.0, source: str = "cli") -> CommandResult:
        """Stop the bot after its current bar."""
        return self.send(path, "stop", source=source, wait_s=wait_s)

    def pause(self, path: str | Path, wait_s: float = 0.0, source: str = "cli") -> CommandResult:
        """No new entries until :meth:`resume`; exits, stops and targets still run."""
        return self.send(path, "pause", source=source, wait_s=wait_s)

    def resume(self, path: str | Path, wait_s: float = 0.0, source: str = "cli") -> CommandResult:
        """Undo :meth:`pause`."""
        return self.send(path, "resume", source=source, wait_s=wait_s)

    def force_exit(
        self, path: str | Path, wait_s: float = 0.0, source: str = "cli"
    ) -> CommandResult:
        """Square off the bot's position at market on its next bar (the bot keeps running)."""
        return self.send(path, "force_exit", source=source, wait_s=wait_s)

    def panic(
        self, path: str | Path, reason: str = "panic", wait_s: float = 0.0, source: str = "cli"
    ) -> CommandResult:
        """Square off and halt the bot.

        A paper bot (its orders live in its process) is sent the ``panic`` command. A bot on a
        live venue account gets the venue's kill switch here and now, through the venue
        registry (:func:`mixbot.venues.panic.run_panic`; Upstox: cancel every open order of
        the account, exit every position at MARKET, halt the bot in its store), whether or not
        the bot runs. Its result has ``id`` -1 (no command was queued), ``taken`` True and
        ``result`` ``"ok"`` or ``"problems: ..."`` with every step that failed or stayed open.

        Raises:
            ConfigError: the config is invalid, or the venue has no kill switch.
        """
        ref = self.ref(path)
        if ref.mode != "live":
            return self.send(path, "panic", {"reason": reason}, source=source, wait_s=wait_s)
        from mixbot.venues.panic import run_panic

        problems: list[str] = []

        def say(line: str, err: bool = False) -> None:
            if err or line.startswith("[FAIL]"):
                problems.append(line)

        code = run_panic(
            ref.cfg,
            reason=reason,
            confirm=lambda _prompt: True,
            say=say,
            database_url=self.database_url,
        )
        result = "ok" if code == 0 else "problems: " + "; ".join(p.strip() for p in problems)
        return CommandResult(-1, ref.bot_id, "panic", True, result)

    def start(self, path: str | Path, source: str = "cli") -> CommandResult:
        """Ask the supervisor (``mixbot serve``) to start the bot's process."""
        return self.send(path, "start", source=source)

    # ------------------------------------------------------------------ configs
    def read_config(self, path: str | Path) -> str:
        """The config file's text."""
        return configs.read_text(path)

    def validate_config(self, text: str, file: str = "<config>") -> configs.ValidationResult:
        """Validate a config text without saving it."""
        return configs.validate_text(text, file)

    def save_config(self, path: str | Path, text: str, who: str = "cli") -> Path | None:
        """Validate and save a config atomically with a backup; audited in the bot's store
        when it has one. Returns the backup's path (None for a new file).

        Raises:
            ConfigError: the new text is invalid (nothing written) or cannot be written.
        """
        _, backup = configs.save_text(path, text)
        try:
            ref = self.ref(path)
            store = self._store_or_none(ref)
        except (ConfigError, StoreError):
            store = None
        if store is not None:
            store.event(
                "config_saved",
                f"config {path} saved by {who}" + (f" (backup {backup})" if backup else ""),
                {"backup": str(backup) if backup else None, "by": who},
            )
        return backup

    # ------------------------------------------------------------------ backtest jobs
    def start_backtest(
        self, path: str | Path, date_from: str | None = None, date_to: str | None = None
    ) -> BacktestJob:
        """Start the backtest of config ``path`` as a background job (see
        :mod:`mixbot.service.jobs`); follow it with :meth:`backtest_job`.

        Raises:
            ConfigError: the config is invalid.
        """
        return self.jobs.start(path, date_from, date_to)

    def backtest_job(self, job_id: str) -> BacktestJob:
        """A job's state and progress (``pct`` 0-100)."""
        return self.jobs.get(job_id)

    def backtest_jobs(self) -> list[BacktestJob]:
        """Every backtest job, newest first."""
        return self.jobs.jobs()

    def backtest_report(self, job_id: str) -> dict[str, Any]:
        """A finished job's metrics and report files (ConfigError while it runs or failed)."""
        return self.jobs.report(job_id)

    def cancel_backtest(self, job_id: str) -> BacktestJob:
        """Stop a running backtest job."""
        return self.jobs.cancel(job_id)
