"""The run job: a paper (later live) session until the feed ends or Ctrl+C, with ``get_status()``."""

from __future__ import annotations

import json
import signal
import threading
from pathlib import Path
from typing import Any

from mixbot.config.model import BotConfig
from mixbot.engine.backtest import RunResult, collect
from mixbot.engine.build import Built, build


def config_hash(cfg: BotConfig) -> str:
    """SHA-256 of the effective config (defaults filled, secrets as ${VAR} references)."""
    import hashlib

    return hashlib.sha256(json.dumps(cfg.raw, sort_keys=True, default=str).encode()).hexdigest()


class Bot:
    """One bot process: build it, :meth:`run` it, ask :meth:`get_status` from any thread,
    :meth:`stop` it gracefully (also on SIGINT/SIGTERM when run in the main thread)."""

    def __init__(
        self,
        cfg: BotConfig,
        mode: str = "paper",
        console_level: str | None = None,
        store: bool = True,
        fresh: bool = False,
        database_url: str | None = None,
    ) -> None:
        from mixbot.engine.build import UPSTOX_BROKERS

        self.cfg = cfg
        # real Upstox orders: never share the paper store (data/mixbot_live.sqlite by default)
        self.mode = "live" if mode == "paper" and cfg.broker.type in UPSTOX_BROKERS else mode
        self.console_level = console_level
        self.use_store = store
        self.fresh = fresh
        self.database_url = database_url
        self.store: Any = None
        self.built: Built | None = None
        self.result: RunResult | None = None
        self.state = "created"
        self._stop = threading.Event()

    def run(self, progress: Any = None) -> RunResult:
        """Run until the feed ends or :meth:`stop`; returns the run's results."""
        persist, checkpoint = self._open_store()
        self.built = build(
            self.cfg,
            self.mode,
            console_level=self.console_level,
            progress=progress,
            persist=persist,
            checkpoint=checkpoint,
        )
        log = self.built.runtime.journal.log
        old: dict[int, Any] = {}
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                old[sig] = signal.signal(sig, lambda *_: self.stop())
        self.state = "running"
        try:
            self.built.cerebro.run()
            self.state = "stopped" if self._stop.is_set() else "finished"
            if self.store is not None:
                halted = self.built.runtime.risk.state.halted
                self.store.set_status("halted" if halted else self.state)
            self.result = collect(self.built, self.store)
            status = self.get_status()
            log.info("final status: %s", json.dumps(status, default=str))
            self._write_status(status)
            return self.result
        except Exception:
            self.state = "error"
            if self.store is not None:
                try:
                    self.store.set_status("error")
                except Exception:  # the store may be what failed
                    pass
            log.exception("bot %s crashed", self.cfg.bot_id)
            raise
        finally:
            for sig, handler in old.items():
                signal.signal(sig, handler)
            self.built.runtime.journal.close()

    def _open_store(self) -> tuple[Any, dict[str, Any] | None]:
        """Open the store, register the bot and load its checkpoint (None when starting fresh).

        Raises:
            StoreError: database unusable, or the config changed since the stored session.
        """
        if not self.use_store:
            return None, None
        from mixbot.errors import StoreError
        from mixbot.store.db import describe, resolve_url
        from mixbot.store.repository import Store
        from mixbot.strategy.persistence import Persistence

        url = self.database_url or resolve_url(self.cfg.database_url, self.mode)
        self.store = Store(url, self.cfg.bot_id, self.mode)
        info = self.store.register(
            config_hash(self.cfg), str(self.cfg.source_file), fresh=self.fresh
        )
        if info.get("config_changed"):
            raise StoreError(
                f"{describe(url)}: bot {self.cfg.bot_id} ({self.mode}) has a stored session made with "
                "a different config; resume with the same config, or start a new session with "
                "`mixbot run --fresh` (erases this bot's stored rows)"
            )
        checkpoint = self.store.load_checkpoint() if info["resumed"] else None
        if info["resumed"]:
            at = checkpoint["bar_index"] if checkpoint else "none"
            self.store.event(
                "restart",
                f"bot restarted (previous status {info.get('previous_status')}), checkpoint at bar {at}",
            )
        return Persistence(self.store, self.cfg.data.symbol), checkpoint

    def stop(self) -> None:
        """Ask the engine to stop after the current bar (safe from any thread / signal handler)."""
        self._stop.set()
        if self.built is not None:
            self.built.cerebro.runstop()
            stop = getattr(self.built.feed, "stop", None)
            if stop is not None and self.built.feed.islive():
                self.built.feed._stop_event.set()

    def _write_status(self, status: dict[str, Any]) -> None:
        path = Path("logs") / "status" / f"{self.cfg.bot_id}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(status, indent=2, default=str), encoding="utf-8")

    def get_status(self) -> dict[str, Any]:
        """A snapshot: feed status, data points, cash, value, positions, open orders,
        last bar time (IST), active halts, today's counters. Money in INR.

        With a store, the stored view (what ``mixbot status`` shows: the whole session across
        restarts) is included under ``"store"``.
        """
        status = self._live_status()
        if self.store is not None:
            from mixbot.engine.store_commands import status_dict

            try:
                status["store"] = status_dict(self.cfg, self.store)
            except Exception as exc:  # status must answer even when the database is unwell
                status["store"] = {"error": str(exc)}
        return status

    def _live_status(self) -> dict[str, Any]:
        b = self.built
        if b is None:
            return {"bot_id": self.cfg.bot_id, "mode": self.mode, "state": self.state}
        rt = b.runtime
        strat = rt.strategy
        broker = b.cerebro.broker
        feed = b.feed
        positions = []
        open_orders = []
        last_bar = None
        if strat is not None:
            for d in strat.datas:
                p = strat.getposition(d)
                if p.size:
                    positions.append(
                        {"symbol": d._name, "size": p.size, "avg_price": round(p.price, 2)}
                    )
            for o in list(getattr(broker, "pending", [])) + list(getattr(broker, "orders", [])):
                if hasattr(o, "alive") and o.alive():
                    open_orders.append(
                        {
                            "ref": o.ref,
                            "side": "BUY" if o.isbuy() else "SELL",
                            "type": o.getordername(),
                            "size": o.created.size,
                            "price": o.created.price,
                            "role": strat.order_reason.get(o.ref, "?"),
                        }
                    )
            if len(strat.data):
                last_bar = rt.journal.ist(strat.data.datetime.datetime(0))
        seen = set()
        open_orders = [o for o in open_orders if not (o["ref"] in seen or seen.add(o["ref"]))]  # type: ignore[func-returns-value]
        risk = rt.risk.state
        return {
            "bot_id": self.cfg.bot_id,
            "mode": self.mode,
            "state": self.state,
            "feed_status": getattr(feed, "state_name", "HISTORICAL"),
            "data_points": len(strat.data) if strat is not None else 0,
            "cash": round(broker.getcash(), 2),
            "value": round(broker.getvalue(), 2),
            "positions": positions,
            "open_orders": open_orders,
            "last_bar_time": last_bar,
            "halts": [risk.halt_reason] if risk.halted else [],
            "today": {
                "date": str(risk.today.day),
                "entries": risk.today.entries,
                "realized_pnl": round(risk.today.realized_pnl, 2),
            },
            "trades_closed": len(rt.trades),
        }
