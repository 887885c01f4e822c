"""``CustomStrategy``: one entry mixin + one exit mixin + the risk manager, on one feed.

Per bar (on its CLOSE), in this order:

1. the drawdown guard: equity down ``max_drawdown_pct`` from its peak -> square off, halt;
2. with a position: end-of-day square-off (intraday product, bar end >= ``square_off_at``),
   the config's trailing stop (armed after ``activation_pct`` gain on closes, exits when the
   close is ``trailing_pct`` under the highest close), then the exit mixin;
3. when flat: the entry mixin; a signal goes through the risk manager (session window,
   daily limits, exposure, size) and becomes a market BUY filled at the next bar's open.

When an entry fills, the risk section's ``stop_loss_pct`` / ``take_profit_pct`` become a
stop order and a limit order (one-cancels-other) held by the broker, active from the next
bar and filled intrabar. If one bar reaches both, the stop-loss fills first (it is
submitted first and the broker checks orders in submission order): the conservative
assumption. Close-based exits are market orders filled at the next bar's open.

On a live feed, bars delivered as history (DELAYED: the warm-up before going live, the
back-fill after an outage) only advance the indicators: no orders are decided on them. After
a restart (``BotRuntime.resume``) a replay re-plays bars up to the checkpoint to warm up; a
live feed restores the checkpoint on its first bar and adopts the orders in flight
(:meth:`~mixbot.strategy.persistence.Persistence.restore_live`).

An entry cancelled after a partial fill keeps the filled part as the position (its
protective orders are sized to it).

The orders themselves (intents, client tags, protective orders, partial fills, the position
state and the open trade) are the :class:`~mixbot.orders.manager.OrderManager`'s
(``self.orders``); the strategy decides, the manager places and tracks.

``max_positions`` counts the positions the bot's broker holds over all its instruments.

The strategy reads bars only through :class:`~mixbot.strategy.window.BarWindow`, so the
same code runs on a backtest feed, a replayed session and a live feed.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from dataclasses import dataclass, field
from typing import Any

import backtrader as bt

from mixbot.backtest.metrics import TradeRecord
from mixbot.errors import BotHalted
from mixbot.orders.manager import EntryFilled, ExitFilled, OrderManager
from mixbot.strategy import operator_commands, outside
from mixbot.strategy.mixin import EntryMixin, ExitMixin
from mixbot.strategy.winddown import WindDown
from mixbot.strategy.window import BarWindow


@dataclass
class BotRuntime:
    """Everything the strategy needs besides the feed; also what the outside world reads.

    The engine builds it; the strategy fills ``equity``, ``trades``, ``status``.
    """

    config: Any  # BotConfig
    entry: EntryMixin
    exit: ExitMixin
    risk: Any  # RiskManager
    journal: Any  # Journal
    progress: Any = None  # callable(n_bars) or None
    persist: Any = None  # mixbot.strategy.persistence.Persistence, or None (backtests)
    resume: Any = None  # {"start_abs": int, "checkpoint": dict} after a restart, else None
    #: a new live session numbers its bars from here (after every bar an erased earlier
    #: session of the bot used), so its order tags never repeat one the venue saw before
    bar_base: int = 0
    record_equity: bool = True
    equity_time: list[float] = field(default_factory=list)
    equity_value: list[float] = field(default_factory=list)
    in_market: list[bool] = field(default_factory=list)
    trades: list[TradeRecord] = field(default_factory=list)
    refusals: dict[str, int] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    strategy: Any = None
    controls: Any = None  # mixbot.engine.control.Controls (operator commands), or None


_EPOCH = dt.datetime(1, 1, 1)


#: Environment variable: a file path (``{bot_id}`` replaced) where a bot on a live feed
#: appends, per bar, the milliseconds from the feed releasing the bar to its checkpoint and,
#: per order, to the order's hand-off to the broker (``benchmarks/supervisor.py``).
LATENCY_ENV = "MIXBOT_LATENCY_LOG"


def _latency_log(bot_id: str) -> Any:
    spec = os.environ.get(LATENCY_ENV)
    if not spec:
        return None
    path = spec.replace("{bot_id}", bot_id)
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    return open(path, "a", buffering=1, encoding="utf-8")  # noqa: SIM115 - lives with the bot


def window_size(lookback_bars: int, entry: EntryMixin, exit_: ExitMixin) -> int:
    """Bars the live window keeps: max(lookback_bars, 10 x the longest warm-up, 300)."""
    return max(lookback_bars, 10 * max(entry.warmup(), exit_.warmup(), 1), 300)


class CustomStrategy(bt.Strategy):
    """The strategy assembled from a config (see module docstring for the rules)."""

    params = (("runtime", None),)

    def __init__(self) -> None:
        rt: BotRuntime = self.p.runtime
        rt.strategy = self
        self.rt = rt
        cfg = rt.config
        self.cfg = cfg
        self.log = rt.journal.log
        self.tick = cfg.broker.tick_size
        win = window_size(cfg.data.lookback_bars, rt.entry, rt.exit)
        self.window = BarWindow(self.data, [rt.entry, rt.exit], win, cfg.market.timezone)
        self.intraday_bars = cfg.data.interval_minutes < 1440
        self._wind: WindDown | None = None  # set by a halt from outside (mixbot panic)
        self.square_off = (
            cfg.market.square_off_at_min if cfg.trading.product == "intraday" else None
        )
        self.persist = rt.persist
        self.resume = rt.resume
        if self.resume is not None:
            # the feed starts at this bar: warm-up bars up to the checkpoint, no trading on them
            self.window.count = int(self.resume["start_abs"])
        elif rt.bar_base:
            self.window.count = int(rt.bar_base)
        self.latency_log = _latency_log(cfg.bot_id)
        #: the last outside-the-bot state reported (mixbot.strategy.outside)
        self.outside_reported: Any = None
        self._outside: str | None = None  # why entries are refused by it, or None
        self._watch_outside = False  # the broker sees the whole account (set in start)
        #: the order/position state machine (orders in flight, tags, protective orders,
        #: position state, open trade); checkpointed through its snapshot()/restore()
        self.orders = OrderManager(
            self,
            cfg.bot_id,
            self.tick,
            cfg.risk.stop_loss_pct,
            cfg.risk.take_profit_pct,
            persist=self.persist,
            log=self.log,
            on_sent=(lambda: self._latency("order")) if self.latency_log is not None else None,
        )

    def start(self) -> None:
        """Before the first bar (Backtrader calls it once): on a live feed with a store,
        pay the one-time costs of the per-bar path now (indicator imports, the checkpoint
        statements' compilation) rather than on the first live bar."""
        self._watch_outside = hasattr(self.broker, "check_outside")
        if self.persist is not None and self.data.islive():
            import mixbot.indicators  # noqa: F401 - the mixins import it on first compute

            self.persist.warm()

    # ------------------------------------------------------------------ helpers
    def _bar_time(self) -> dt.datetime:
        """The current bar's END time, naive UTC, rounded to the millisecond."""
        ms = round((self.data.datetime[0] - 1.0) * 86_400_000.0)
        return _EPOCH + dt.timedelta(milliseconds=ms)

    def _refuse(self, reason: str) -> None:
        key = reason.split(" (")[0]
        self.rt.refusals[key] = self.rt.refusals.get(key, 0) + 1
        self.log.info("entry refused at %s: %s", self.rt.journal.ist(self._bar_time()), reason)
        if self.persist is not None:
            self.persist.event("entry_refused", reason, self._bar_time())

    # OrderHost: what the order manager needs from the strategy
    def place_order(
        self, side: str, size: float, exectype: int, price: float | None, oco: Any, tag: str
    ) -> bt.Order:
        """Hand an order to the broker (Backtrader buy/sell, the tag in ``order.info``)."""
        make = self.buy if side == "BUY" else self.sell
        return make(size=size, exectype=exectype, price=price, oco=oco, tag=tag)

    def position_size(self) -> float:
        """The broker's position in the traded instrument (shares)."""
        return float(self.position.size)

    def bar_index(self) -> int:
        """The absolute index of the bar being processed."""
        return int(self.window.abs_index)

    def bar_time(self) -> dt.datetime:
        """The current bar's END time, naive UTC."""
        return self._bar_time()

    def fill_time(self, order: bt.Order, latest: bool = False) -> dt.datetime:
        """When ``order``'s newest fill of this notification happened (``latest``: of the
        whole order so far), naive UTC, to the millisecond: the venue's exchange time on a
        broker that stamps its executions with it (``exchange_fill_times``: Upstox; the
        slices of one order fill out of time order), else the current bar's END time."""
        ex = order.executed
        if not getattr(self.broker, "exchange_fill_times", False) or not ex.dt:
            return self._bar_time()
        bits = list(ex.exbits)[: ex.p2] if latest else list(ex.iterpending())
        num = max((float(b.dt) for b in bits), default=float(ex.dt))
        ms = round((num - 1.0) * 86_400_000.0)
        return _EPOCH + dt.timedelta(milliseconds=ms)

    @property
    def order_tag(self) -> dict[int, str]:
        """Client tag by order ref (the order manager's; for status readers)."""
        return self.orders.order_tag

    @property
    def order_reason(self) -> dict[int, str]:
        """Role by order ref (the order manager's; for status readers)."""
        return self.orders.order_reason

    def _latency(self, what: str) -> None:
        """Append ``<what> <bar index> <ms since the feed released the bar>`` (benchmarks)."""
        rel = getattr(self.data, "released_at", None)
        if rel is not None and self.latency_log is not None:
            self.latency_log.write(
                f"{what} {self.window.abs_index} {(time.time() - rel) * 1e3:.3f}\n"
            )

    def _event(self, kind: str, **fields: Any) -> None:
        rec = {"event": kind, "bar_time": self.rt.journal.ist(self._bar_time()), **fields}
        self.rt.events.append(rec)

    # ------------------------------------------------------------------ main loop
    def next(self) -> None:
        self.window.advance()
        if self.resume is not None:
            ck = self.resume["checkpoint"]
            live = bool(self.resume.get("live"))
            if not live and self.window.abs_index < ck["bar_index"]:
                return  # warm-up: indicators only
            self.resume = None
            if live:
                # a live feed cannot re-play the bars since the checkpoint: restore on the
                # first bar, adopt the orders in flight; trading starts with the next bar
                self.persist.restore_live(self, ck)
            else:
                self.persist.restore(self, ck)
            self.log.info(
                "resumed after bar %d (%s)", ck["bar_index"], self.rt.journal.ist(ck["bar_time"])
            )
            return
        if getattr(self.data, "state_name", None) == "DELAYED":
            return  # warm-up or back-filled history of a live feed: indicators only, no orders
        persist = self.persist
        # read BEFORE this bar's decisions: a bot halted by `mixbot panic` (which exits the
        # position at the broker itself) must not send an exit of its own on top of it; on a
        # live feed every bar reads the status, a replay at most every 2 s of wall time. A
        # halt committed while the bar decides makes its order intent fail (BotHalted).
        if self._wind is None and persist is not None:
            if persist.halt_requested(every_s=0.0 if self.data.islive() else 2.0):
                self._outside_halt()
        if self._wind is None:
            try:
                self._on_bar()
            except BotHalted:
                self._outside_halt()
        if persist is not None:
            stop = self._wind is not None and self._wind.done()
            persist.checkpoint(self, self.window.abs_index, self._bar_time())
            if self.latency_log is not None:
                self._latency("bar")
            if stop:
                self.env.runstop()

    def _outside_halt(self) -> None:
        """`mixbot panic` (or the GUI) halted this bot through the store and acts at the broker
        itself: take no more decisions, book the panic's exit, then stop
        (:mod:`mixbot.strategy.winddown`); the halt goes into this bar's checkpoint, so a
        restarted bot stays halted until resumed."""
        msg = "halted from outside (mixbot panic): stopping"
        self.rt.risk.halt(msg)
        self.log.warning("HALT: %s", msg)
        self._event("halt", reason=msg)
        if self.persist is not None:
            self.persist.halt(msg, self._bar_time())
        self._wind = WindDown(self)

    def _on_bar(self) -> None:
        w = self.window
        rt = self.rt
        i = w.i
        close = self.data.close[0]
        broker = self.broker
        value = broker.getvalue()
        pos = self.position.size
        if rt.record_equity:
            rt.equity_time.append(self.data.datetime[0])
            rt.equity_value.append(value)
            rt.in_market.append(pos != 0)
        if rt.progress is not None and w.count % 2000 == 0:
            rt.progress(w.count)
        risk = rt.risk
        risk.new_bar(w.day)

        dd = risk.check_drawdown(value)
        if dd is not None:
            msg = f"max_drawdown_pct {self.cfg.trading.max_drawdown_pct} reached (drawdown {dd:.2f} %)"
            risk.halt(msg)
            self.log.warning("HALT: %s; squaring off and taking no new entries", msg)
            self._event("halt", reason=msg)
            if self.persist is not None:
                self.persist.halt(msg, self._bar_time())
            if pos:
                self._exit("halt")
            return
        if rt.controls is not None and operator_commands.act(self, rt.controls, pos):
            return
        if self._watch_outside:
            self._outside = outside.watch(self)

        if pos:
            self._manage(close)
        elif not self.orders.busy and rt.entry.should_enter(w.bars, i):
            self._enter(close, value)

    def _manage(self, close: float) -> None:
        """With a position: square-off time, the trailing stop, then the exit mixin."""
        w = self.window
        st = self.orders.pos_state
        if st is None or self.orders.exiting:
            return
        if close > st.highest_close:
            st.highest_close = close
        if close < st.lowest_close:
            st.lowest_close = close
        if self.square_off is not None and self.intraday_bars and w.minute >= self.square_off:
            self._exit("eod_square_off")
            return
        ts = self.cfg.risk.trailing_stop
        if (
            ts.enabled
            and st.highest_close >= st.entry_price * (1 + ts.activation_pct / 100.0)
            and close <= st.highest_close * (1 - ts.trailing_pct / 100.0)
        ):
            self._exit("trailing_stop")
            return
        reason = self.rt.exit.should_exit(w.bars, w.i, st)
        if reason:
            self._exit(reason)

    def _enter(self, close: float, value: float) -> None:
        """Flat, nothing in flight, the entry mixin signals: the risk manager's checks, the
        size, then the market BUY (or a refusal with its reason)."""
        rt = self.rt
        risk = rt.risk
        if rt.controls is not None and rt.controls.paused:
            self._refuse("paused by the operator")
            return
        held = [(d, self.getposition(d)) for d in self.datas]
        gross = sum(abs(p.size) * d.close[0] for d, p in held)
        # max_positions counts the positions this bot's broker holds over all its instruments
        # (this one is flat here: entries are only decided when flat)
        open_positions = sum(1 for _, p in held if p.size)
        # a live feed may say its data is stale (no tick for too long): no new entries then
        stale = getattr(self.data, "stale_reason", None) or (
            "no tick for longer than data.stale_after_seconds"
            if getattr(self.data, "stale", False)
            else None
        )
        if self.persist is not None:
            name = rt.entry.__class__.__name__
            self.persist.event(
                "signal", f"entry signal ({name})", self._bar_time(), close=close, mixin=name
            )
        reason = self._outside or risk.check_entry(
            self.window.minute, open_positions, value, gross, stale
        )
        if reason is None:
            size = risk.size(value, close, self.broker.getcash())
            if size <= 0:
                reason = f"size rounds to 0 (equity {value:.2f} INR, price {close:.2f}, lot {self.cfg.trading.lot_size})"
        if reason is not None:
            self._refuse(reason)
            return
        self.orders.enter(size)
        risk.on_entry()
        self.log.info(
            "entry signal %s at %s: BUY %g at market (close %.2f)",
            rt.entry.__class__.__name__,
            rt.journal.ist(self._bar_time()),
            size,
            close,
        )

    def _exit(self, reason: str) -> None:
        if self.persist is not None and self.position.size:
            self.persist.event("signal", f"exit signal ({reason})", self._bar_time())
        if self.orders.exit(reason) is not None:
            self.log.info(
                "exit (%s) at %s: SELL %s at market",
                reason,
                self.rt.journal.ist(self._bar_time()),
                self.position.size,
            )

    # ------------------------------------------------------------------ notifications
    def notify_order(self, order: bt.Order) -> None:
        """Journal and store the order's new status, then let the order manager advance;
        an entry fill arms the exit mixin and the protective orders, a closing fill books
        the trade."""
        om = self.orders
        role = om.role_of(order.ref)
        j = self.rt.journal
        pending = order.status in (order.Submitted, order.Accepted)
        done = order.executed
        j.record(
            "orders",
            ref=order.ref,
            role=role,
            status=order.getstatusname(),
            side="BUY" if order.isbuy() else "SELL",
            type=order.getordername(),
            size=order.created.size if pending else (done.size or order.created.size),
            price=order.created.price if pending else (done.price or order.created.price),
            commission=None if pending else done.comm,
            bar_time=j.ist(self._bar_time()),
        )
        if self.persist is not None:
            self.persist.on_order(
                order, om.tag_of(order.ref), self._bar_time(), role, self.fill_time(order)
            )
        outcome = om.on_order(order)
        try:
            if isinstance(outcome, EntryFilled):
                self._on_entry_fill(outcome)  # (writes its protective orders' intents)
            elif isinstance(outcome, ExitFilled):
                self._on_exit_fill(outcome, order)
        except BotHalted:
            if self._wind is None:
                self._outside_halt()

    def _on_entry_fill(self, fill: EntryFilled) -> None:
        w = self.window
        self.rt.exit.on_entry(w.bars, w.i, fill.state)
        if self.persist is not None:
            self.persist.on_position(
                self.position.size, self.position.price, entry_tag=fill.tag, when=self._bar_time()
            )
        self.log.info(
            "ENTRY filled: BUY %s @ %.2f (charges %.2f INR)", fill.size, fill.price, fill.commission
        )
        self._event("trade_entry", price=fill.price, size=fill.size)
        self.orders.protect_entry(fill)

    def _on_exit_fill(self, fill: ExitFilled, order: bt.Order) -> None:
        if self.persist is not None:
            self.persist.on_position(self.position.size, self.position.price)
        rec = fill.trade
        if rec is None:
            return
        self.rt.trades.append(rec)
        self.rt.risk.on_trade_closed(rec.pnl_net)
        if self.persist is not None:
            self.persist.on_trade(fill.entry_tag, rec)
        j = self.rt.journal
        j.record(
            "trades",
            entry_time=j.ist(rec.entry_time),
            exit_time=j.ist(rec.exit_time),
            side="long",
            size=rec.size,
            entry_price=rec.entry_price,
            exit_price=rec.exit_price,
            pnl_gross=round(rec.pnl_gross, 2),
            charges=round(rec.charges, 2),
            pnl_net=round(rec.pnl_net, 2),
            exit_reason=fill.role,
            bars_held=rec.bars_held,
        )
        self.log.info(
            "EXIT filled (%s): SELL %s @ %.2f, net PnL %.2f INR",
            fill.role,
            rec.size,
            rec.exit_price,
            rec.pnl_net,
        )
        self._event(
            "trade_exit",
            price=rec.exit_price,
            size=rec.size,
            pnl_net=rec.pnl_net,
            reason=fill.role,
        )

    def notify_data(self, data: Any, status: int, *args: Any, **kwargs: Any) -> None:
        name = data._getstatusname(status)
        self.log.info("feed %s: %s", data._name or "data0", name)
        if self.persist is not None:
            self.persist.feed_state(name)
