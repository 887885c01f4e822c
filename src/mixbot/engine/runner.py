"""The run job: a paper (later live) session until the feed ends or Ctrl+C, with ``get_status()``."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

from mixbot.bus.events import make
from mixbot.config.digest import config_hash
from mixbot.config.model import BotConfig
from mixbot.engine.backtest import RunResult, collect
from mixbot.engine.build import Built, build
from mixbot.engine.control import Controls, ControlThread
from mixbot.errors import MixbotError
from mixbot.market.clock import MarketClock, WallClock, wait_for_session
from mixbot.market.registry import profile_for

#: Data sources that replay a file: their time is the data's, not the exchange's.
FILE_SOURCES = ("csv", "replay")
#: Set by ``mixbot upstox-sim`` (its ``env()``): the venue runs on the simulator's clock.
SIMULATED_API_ENV = "MIXBOT_UPSTOX_API"


def _token_expiry(cfg: BotConfig) -> Any:
    """(venue name, expiry callable) when the bot's venue has an expiring token, else None."""
    from mixbot.venues import registry

    for spec in (registry.for_broker(cfg.broker.type), registry.for_source(cfg.data.data_source)):
        if spec is not None and spec.token_expiry is not None:
            return (spec.name, spec.token_expiry)
    return None


class StoppedBeforeSession(MixbotError):
    """The bot was stopped while it waited for the market's next session, before any bar."""


class Bot:
    """One bot process: build it, :meth:`run` it, ask :meth:`get_status` from any thread,
    :meth:`stop` it gracefully (also on SIGINT/SIGTERM when run in the main thread).

    With a store, the bot holds its OS lock for the whole run (a second process of the same
    bot refuses to start: :class:`~mixbot.service.locks.BotAlreadyRunning`), runs a control
    thread (commands, heartbeat: :mod:`mixbot.engine.control`) and emits ``bot_started``,
    ``status``, ``bot_stopped`` and ``error`` events.

    Session gate: a bot on a live feed that starts on a day its market holds no session (an
    exchange holiday, a weekend: :func:`mixbot.market.wait_for_session`) logs so, stores
    status ``waiting`` (a ``status`` event with the next session), waits until shortly
    before that session opens, then runs. ``clock`` is the clock it waits on; None = the
    wall clock for live venue feeds (:func:`session_clock`), no gate for file replays.
    """

    def __init__(
        self,
        cfg: BotConfig,
        mode: str = "paper",
        console_level: str | None = None,
        store: bool = True,
        fresh: bool = False,
        database_url: str | None = None,
        clock: MarketClock | None = None,
    ) -> None:
        from mixbot.service.configs import store_mode

        self.cfg = cfg
        # real Upstox orders: never share the paper store (data/mixbot_live.sqlite by default)
        self.mode = store_mode(cfg) if mode == "paper" else mode
        self.console_level = console_level
        self.use_store = store
        self.fresh = fresh
        self.database_url = database_url
        self.store: Any = None
        self.built: Built | None = None
        self.result: RunResult | None = None
        self.state = "created"
        self.controls = Controls()
        self._stop = threading.Event()
        self._lock: Any = None
        self._control: ControlThread | None = None
        self._persist: Any = None
        self.clock = clock

    def run(self, progress: Any = None) -> RunResult:
        """Run until the feed ends or :meth:`stop`; returns the run's results.

        Raises:
            BotAlreadyRunning: another process runs this bot.
            StoreError: the store is unusable or the config changed since the stored session.
        """
        try:
            persist, checkpoint = self._open_store()
            self._persist = persist
            self.built = build(
                self.cfg,
                self.mode,
                console_level=self.console_level,
                progress=progress,
                persist=persist,
                checkpoint=checkpoint,
            )
        except BaseException as exc:
            self._report_error(exc)
            self._release()
            raise
        self.built.runtime.controls = self.controls
        log = self.built.runtime.journal.log
        old: dict[signal.Signals, Any] = {}
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                old[sig] = signal.signal(sig, lambda *_: self.stop())
        self.state = "running"
        self._start_control(log)
        try:
            if not self._session_gate(log):
                return self._stopped_waiting(log)
            self.built.cerebro.run()
            self.state = "stopped" if self._stop.is_set() else "finished"
            self.result = collect(self.built, self.store)
            if self.store is not None:
                halted = self.built.runtime.risk.state.halted
                final = "halted" if halted else self.state
                if self.state == "finished":
                    persist.finish()
                self.store.set_status(
                    final, events=(make("bot_stopped", status=final, pid=os.getpid()),)
                )
            status = self.get_status()
            log.info("final status: %s", json.dumps(status, default=str))
            self._write_status(status)
            return self.result
        except StoppedBeforeSession:
            raise  # a clean stop, already recorded (not a crash)
        except Exception as exc:
            self.state = "error"
            self._report_error(exc)
            log.exception("bot %s crashed", self.cfg.bot_id)
            raise
        finally:
            for sig, handler in old.items():
                signal.signal(sig, handler)
            self.built.runtime.journal.close()
            self._release()

    def _session_gate(self, log: Any) -> bool:
        """Wait for the market's next session when today has none; False when the bot was
        stopped during the wait (see the class docstring).

        Raises:
            CalendarCoverageError: today is past the years the holiday calendar knows.
        """
        clock = self.clock if self.clock is not None else session_clock(self.cfg, self.mode)
        if clock is None:
            return True
        store = self.store

        def waiting(nxt: Any) -> None:
            self.state = "waiting"
            if store is not None:
                ev = make("status", status="waiting", next_session=nxt.open, session_day=nxt.day)
                store.set_status("waiting", events=(ev,))

        nxt = wait_for_session(
            profile_for(self.cfg), clock, self._stop, log.warning, on_wait=waiting
        )
        if self._stop.is_set():
            return False
        if nxt is not None:
            self.state = "running"
            status = "paused" if self.controls.paused else "running"
            if store is not None:
                store.set_status(status, events=(make("status", status=status),))
            log.info("session of %s: starting", nxt.day.isoformat())
        return True

    def _stopped_waiting(self, log: Any) -> RunResult:
        """The bot was stopped while it waited for a session: record it, then the stored
        session's result (or a clear error when it has no bars at all)."""
        self.state = "stopped"
        log.info("stopped while waiting for the market's next session")
        if self.store is not None:
            self.store.set_status(
                "stopped", events=(make("bot_stopped", status="stopped", pid=os.getpid()),)
            )
        self._write_status(self.get_status())
        assert self.built is not None
        if self.store is not None and self.store.equity():
            self.result = collect(self.built, self.store)
            return self.result
        raise StoppedBeforeSession(
            f"{self.cfg.bot_id}: stopped while waiting for the market's next session; "
            "no bar was processed"
        )

    def _report_error(self, exc: BaseException) -> None:
        """Store status ``error`` and an ``error`` event (best effort: the store may be what
        failed)."""
        if self.store is None or isinstance(exc, KeyboardInterrupt):
            return
        try:
            self.store.set_status(
                "error",
                events=(make("error", message=f"{type(exc).__name__}: {exc}", pid=os.getpid()),),
            )
        except Exception:
            pass

    def _start_control(self, log: Any) -> None:
        if self.store is None:
            return
        from mixbot.service.locks import doorbell

        self._control = ControlThread(
            self.store,
            self.controls,
            self.stop,
            doorbell(self.store.url, self.cfg.bot_id, self.mode),
            log,
            token_expiry=_token_expiry(self.cfg),
            engine_idle_s=self._engine_idle_s,
            token_gate=getattr(
                getattr(getattr(self.built, "feed", None), "p", None), "token_gate", None
            ),
        )
        self._control.start()

    def _engine_idle_s(self) -> float | None:
        """Seconds since the engine loop last asked the live feed for data (None: unknown,
        before the first ask or on a preloaded feed)."""
        feed = self.built.feed if self.built is not None else None
        turned = getattr(feed, "last_turn", None)
        return None if turned is None else time.monotonic() - turned

    def _release(self) -> None:
        if self._control is not None:
            self._control.quit()
            self._control.join(timeout=2.0)
            self._control = None
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def _open_store(self) -> tuple[Any, dict[str, Any] | None]:
        """Take the bot's lock, open the store, register the bot and load its checkpoint
        (None when starting fresh).

        Raises:
            BotAlreadyRunning: another process holds the bot's lock.
            StoreError: database unusable, or the config changed since the stored session.
        """
        if not self.use_store:
            return None, None
        from mixbot.errors import StoreError
        from mixbot.service.locks import BotLock
        from mixbot.store.control import ControlChannel
        from mixbot.store.db import describe, resolve_url
        from mixbot.store.repository import Store
        from mixbot.strategy.persistence import Persistence

        url = self.database_url or resolve_url(self.cfg.database_url, self.mode)
        self._lock = BotLock(url, self.cfg.bot_id, self.mode)
        self._lock.acquire()
        self.store = Store(url, self.cfg.bot_id, self.mode)
        if self.fresh and self.mode == "live":
            from mixbot.engine.audit_commands import archive_before_fresh

            kept = archive_before_fresh(self.store)
            if kept is not None:
                import logging

                logging.getLogger("mixbot").warning("--fresh: audit log archived to %s", kept)
        info = self.store.register(
            config_hash(self.cfg), str(self.cfg.source_file), fresh=self.fresh
        )
        if info.get("config_changed"):
            raise StoreError(
                f"{describe(url)}: bot {self.cfg.bot_id} ({self.mode}) has a stored session made with "
                "a different config; resume with the same config, or start a new session with "
                "`mixbot run --fresh` (erases this bot's stored rows)"
            )
        ControlChannel(self.store.engine, self.cfg.bot_id, self.mode, url).discard_pending()
        checkpoint = self.store.load_checkpoint() if info["resumed"] else None
        if checkpoint and info.get("previous_status") == "halted":
            # halted while it was not running (`mixbot panic` on a gone bot): it stays halted
            # until an operator resumes it, like a halt its checkpoint holds
            risk = checkpoint["state"]["risk"]
            if not risk.get("halted"):
                risk["halted"] = True
                risk["halt_reason"] = "halted (mixbot panic) while the bot was not running"
        started = make(
            "bot_started",
            pid=os.getpid(),
            resumed=bool(info["resumed"]),
            checkpoint_bar=checkpoint["bar_index"] if checkpoint else None,
        )
        if info["resumed"]:
            at = checkpoint["bar_index"] if checkpoint else "none"
            self.store.event(
                "restart",
                f"bot restarted (previous status {info.get('previous_status')}), checkpoint at bar {at}",
                events=(started,),
            )
        else:
            self.store.emit((started,))
        return Persistence(self.store, self.cfg.data.symbol, self.cfg.market.timezone), checkpoint

    def stop(self) -> None:
        """Ask the engine to stop after the current bar (safe from any thread / signal handler)."""
        self._stop.set()
        if self.built is not None:
            self.built.cerebro.runstop()
            stop = getattr(self.built.feed, "stop", None)
            if stop is not None and self.built.feed.islive():
                self.built.feed._stop_event.set()
                wake = getattr(self.built.feed, "wake", None)
                if wake is not None:
                    wake()  # the engine loop sees runstop() now, not after qcheck seconds

    def _write_status(self, status: dict[str, Any]) -> None:
        path = Path("logs") / self.cfg.bot_id / "status.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(status, indent=2, default=str), encoding="utf-8")

    def get_status(self) -> dict[str, Any]:
        """The bot's :class:`~mixbot.service.status.BotStatus` as a dict (the same model as
        ``mixbot status``): from the store when there is one, else from the engine. Money in
        INR, times in the market's time zone."""
        if self.store is not None:
            from mixbot.service.status import from_store

            try:
                holder = os.getpid() if self._lock is not None else None
                return from_store(self.cfg, self.store, holder).to_dict()
            except Exception as exc:  # status must answer even when the database is unwell
                return {"bot_id": self.cfg.bot_id, "status": self.state, "error": str(exc)}
        return engine_status(self).to_dict()


def session_clock(cfg: BotConfig, mode: str) -> MarketClock | None:
    """The clock the session gate of ``cfg`` waits on: the wall clock for a live venue feed,
    None (no gate) for backtests, file replays, and a venue pointed at a simulator
    (``MIXBOT_UPSTOX_API`` / ``MIXBOT_YAHOO_API`` set, as the simulators print), whose
    clock only its feed knows."""
    if mode == "backtest" or cfg.data.data_source in FILE_SOURCES:
        return None
    if os.environ.get(SIMULATED_API_ENV) or os.environ.get("MIXBOT_YAHOO_API"):
        return None
    return WallClock()


def engine_status(bot: Bot) -> Any:
    """A :class:`~mixbot.service.status.BotStatus` read from the running engine (no store)."""
    from mixbot.service.status import BotStatus

    st = BotStatus(
        bot_id=bot.cfg.bot_id,
        mode=bot.mode,
        config_file=str(bot.cfg.source_file),
        status=bot.state,
        running=bot.state == "running",
        pid=os.getpid(),
        initial_balance=bot.cfg.broker.initial_balance,
    )
    b = bot.built
    if b is None:
        return st
    rt = b.runtime
    strat = rt.strategy
    broker = b.cerebro.broker
    st.feed_state = getattr(b.feed, "state_name", "HISTORICAL")
    st.cash = round(broker.getcash(), 2)
    st.value = round(broker.getvalue(), 2)
    if strat is not None:
        for d in strat.datas:
            p = strat.getposition(d)
            if p.size:
                st.positions.append(
                    {"symbol": d._name, "qty": p.size, "avg_price": round(p.price, 2)}
                )
        seen: set[int] = set()
        for o in list(getattr(broker, "pending", [])) + list(getattr(broker, "orders", [])):
            if hasattr(o, "alive") and o.alive() and o.ref not in seen:
                seen.add(o.ref)
                st.open_orders.append(
                    {
                        "tag": strat.order_tag.get(o.ref),
                        "role": strat.order_reason.get(o.ref, "?"),
                        "side": "BUY" if o.isbuy() else "SELL",
                        "type": o.getordername(),
                        "qty": o.created.size,
                        "price": o.created.price,
                        "status": o.getstatusname(),
                    }
                )
        if len(strat.data):
            st.last_bar_processed = {
                "index": strat.window.abs_index,
                "time": rt.journal.ist(strat.data.datetime.datetime(0)),
            }
    risk = rt.risk.state
    st.halts = [risk.halt_reason] if risk.halted else []
    st.today = {
        "date": str(risk.today.day),
        "entries": risk.today.entries,
        "realized_pnl": round(risk.today.realized_pnl, 2),
    }
    st.trades_closed = len(rt.trades)
    st.realized_pnl_total = round(sum(t.pnl_net for t in rt.trades), 2)
    return st
