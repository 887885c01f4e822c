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
from mixbot.orders.ticks import round_to_tick
from mixbot.strategy.mixin import EntryMixin, ExitMixin, PositionState
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
        self.square_off = (
            cfg.market.square_off_at_min if cfg.trading.product == "intraday" else None
        )
        self.pos_state: PositionState | None = None
        self.entry_order: bt.Order | None = None
        self.exit_order: bt.Order | None = None
        self.exit_reason = ""
        self.protect: list[bt.Order] = []
        self.order_reason: dict[int, str] = {}
        self.order_tag: dict[int, str] = {}
        self.persist = rt.persist
        self.resume = rt.resume
        if self.resume is not None:
            # the feed starts at this bar: warm-up bars up to the checkpoint, no trading on them
            self.window.count = int(self.resume["start_abs"])
        self.open_trade: dict[str, Any] | None = None
        self.signal_bar = -1
        self.latency_log = _latency_log(cfg.bot_id)

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

    def _send(
        self,
        role: str,
        tag: str,
        side: str,
        exectype: int,
        size: float,
        price: float | None = None,
        oco: bt.Order | None = None,
    ) -> bt.Order:
        """Commit the intent (write-ahead, when a store is configured), then place the order."""
        if self.persist is not None:
            self.persist.intent(
                tag,
                role=role,
                side=side,
                exectype=exectype,
                size=size,
                price=price,
                bar_index=self.window.abs_index,
                bar_time=self._bar_time(),
            )
        make = self.buy if side == "BUY" else self.sell
        # the tag travels in order.info (Backtrader passes extra kwargs to addinfo): a live
        # broker sends it to the venue as the order's client tag
        order = make(size=size, exectype=exectype, price=price, oco=oco, tag=tag)
        if self.latency_log is not None:
            self._latency("order")
        self.order_reason[order.ref] = role
        self.order_tag[order.ref] = tag
        return order

    def _latency(self, what: str) -> None:
        """Append ``<what> <bar index> <ms since the feed released the bar>`` (benchmarks)."""
        rel = getattr(self.data, "released_at", None)
        if rel is not None and self.latency_log is not None:
            self.latency_log.write(
                f"{what} {self.window.abs_index} {(time.time() - rel) * 1e3:.3f}\n"
            )

    def _tag(self, bar: int, role: str) -> str:
        return f"{self.cfg.bot_id}:{bar}:{role}"

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
        self._on_bar()
        if self.persist is not None:
            self.persist.checkpoint(self, self.window.abs_index, self._bar_time())
            if self.latency_log is not None:
                self._latency("bar")
            if self.persist.halt_requested():
                # `mixbot panic` (or the GUI) halted this bot through the store and acted at the
                # broker itself: take no more decisions, stop after this bar
                msg = "halted from outside (mixbot panic): stopping"
                self.rt.risk.halt(msg)
                self.log.warning("HALT: %s", msg)
                self._event("halt", reason=msg)
                self.persist.halt(msg, self._bar_time())
                self.env.runstop()

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
        if rt.controls is not None and self._operator(rt.controls, pos):
            return

        if pos:
            st = self.pos_state
            if st is None or self.exit_order is not None:
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
            reason = rt.exit.should_exit(w.bars, i, st)
            if reason:
                self._exit(reason)
            return

        if self.entry_order is not None or self.exit_order is not None:
            return
        if not rt.entry.should_enter(w.bars, i):
            return
        if rt.controls is not None and rt.controls.paused:
            self._refuse("paused by the operator")
            return
        gross = sum(
            abs(p.size) * d.close[0] for d, p in ((d, self.getposition(d)) for d in self.datas)
        )
        # a live feed may say its data is stale (no tick for too long): no new entries then
        stale = getattr(self.data, "stale_reason", None) or (
            "no tick for longer than data.stale_after_seconds"
            if getattr(self.data, "stale", False)
            else None
        )
        reason = risk.check_entry(w.minute, 0, value, gross, stale)
        if reason is None:
            size = risk.size(value, close, broker.getcash())
            if size <= 0:
                reason = f"size rounds to 0 (equity {value:.2f} INR, price {close:.2f}, lot {self.cfg.trading.lot_size})"
        if reason is not None:
            self._refuse(reason)
            return
        self.signal_bar = w.abs_index
        self.entry_order = self._send(
            "entry", self._tag(w.abs_index, "entry"), "BUY", bt.Order.Market, size
        )
        risk.on_entry()
        self.log.info(
            "entry signal %s at %s: BUY %d at market (close %.2f)",
            rt.entry.__class__.__name__,
            self.rt.journal.ist(self._bar_time()),
            size,
            close,
        )

    def _operator(self, controls: Any, pos: float) -> bool:
        """Act on ``panic`` (halt + square off) and ``force_exit`` commands; True when this
        bar's decisions are taken by them."""
        if controls.halt:
            msg = f"halted by the operator: {controls.halt}"
            controls.halt = None
            self.rt.risk.halt(msg)
            self.log.warning("HALT: %s; squaring off and taking no new entries", msg)
            self._event("halt", reason=msg)
            if self.persist is not None:
                self.persist.halt(msg, self._bar_time())
            if pos and self.exit_order is None:
                self._exit("panic")
            return True
        if controls.force_exit:
            reason = controls.force_exit
            controls.force_exit = None
            if pos and self.exit_order is None:
                self._exit(reason)
                return True
        return False

    def _exit(self, reason: str) -> None:
        for o in self.protect:
            if o.alive():
                self.cancel(o)
        self.protect = []
        self.exit_reason = reason
        size = self.position.size
        if size:
            tag = self._tag(self.window.abs_index, "exit")
            self.exit_order = self._send(
                reason, tag, "SELL" if size > 0 else "BUY", bt.Order.Market, abs(size)
            )
            self.log.info(
                "exit (%s) at %s: SELL %s at market",
                reason,
                self.rt.journal.ist(self._bar_time()),
                self.position.size,
            )

    # ------------------------------------------------------------------ notifications
    @staticmethod
    def _same(order: bt.Order, mine: bt.Order | None) -> bool:
        # Backtrader notifies CLONES of orders: compare by reference number
        return mine is not None and order.ref == mine.ref

    def notify_order(self, order: bt.Order) -> None:
        role = self.order_reason.get(order.ref, "?")
        status = order.getstatusname()
        j = self.rt.journal
        pending = order.status in (order.Submitted, order.Accepted)
        done = order.executed
        j.record(
            "orders",
            ref=order.ref,
            role=role,
            status=status,
            side="BUY" if order.isbuy() else "SELL",
            type=order.getordername(),
            size=order.created.size if pending else (done.size or order.created.size),
            price=order.created.price if pending else (done.price or order.created.price),
            commission=None if pending else done.comm,
            bar_time=j.ist(self._bar_time()),
        )
        if self.persist is not None:
            self.persist.on_order(order, self.order_tag.get(order.ref), self._bar_time(), role)
        if pending:
            return
        if order.status == order.Completed:
            if role == "entry":
                self._on_entry_fill(order)
            else:
                self._on_exit_fill(order, role)
            return
        # Canceled / Margin / Rejected / Expired
        if self._same(order, self.entry_order) and order.executed.size:
            # partly filled, then cancelled (the stuck-entry rule): the filled part is the
            # position, managed like a full entry (its stop-loss / take-profit size)
            self.log.warning(
                "entry order %s %s after a partial fill of %s: keeping that position",
                order.ref,
                status,
                order.executed.size,
            )
            self._on_entry_fill(order)
        elif self._same(order, self.entry_order):
            self.entry_order = None
            if order.status != order.Canceled:
                self.log.warning(
                    "entry order %s: %s (not enough cash or rejected)", order.ref, status
                )
        elif self._same(order, self.exit_order):
            self.exit_order = None
            self.log.error("exit order %s: %s; will retry on the next bar", order.ref, status)
        self.protect = [o for o in self.protect if o.alive() and o.ref != order.ref]

    def _on_entry_fill(self, order: bt.Order) -> None:
        self.entry_order = None
        price, size = order.executed.price, order.executed.size
        w = self.window
        st = PositionState(
            entry_price=price,
            entry_bar=self.signal_bar,
            size=size,
            highest_close=price,
            lowest_close=price,
        )
        self.rt.exit.on_entry(w.bars, w.i, st)
        self.pos_state = st
        when = self._bar_time()
        self.open_trade = {
            "entry_time": when,
            "entry_price": price,
            "size": size,
            "entry_comm": order.executed.comm,
            "entry_bar": self.signal_bar,
            "tag": self.order_tag.get(order.ref),
        }
        if self.persist is not None:
            self.persist.on_position(
                self.position.size,
                self.position.price,
                entry_tag=self.order_tag.get(order.ref) or self._tag(self.signal_bar, "entry"),
                when=when,
            )
        self.log.info(
            "ENTRY filled: BUY %s @ %.2f (charges %.2f INR)", size, price, order.executed.comm
        )
        self._event("trade_entry", price=price, size=size)
        r = self.cfg.risk
        sl = tp = None
        if r.stop_loss_pct:
            # DOWN: a long's stop below the entry is never tighter than stop_loss_pct
            px = round_to_tick(price * (1 - r.stop_loss_pct / 100.0), self.tick, "down")
            sl = self._send(
                "stop_loss", self._tag(self.signal_bar, "sl"), "SELL", bt.Order.Stop, size, px
            )
        if r.take_profit_pct:
            # UP: a long's take-profit is never closer than take_profit_pct
            px = round_to_tick(price * (1 + r.take_profit_pct / 100.0), self.tick, "up")
            tp = self._send(
                "take_profit",
                self._tag(self.signal_bar, "tp"),
                "SELL",
                bt.Order.Limit,
                size,
                px,
                sl,
            )
        self.protect = [o for o in (sl, tp) if o is not None]

    def _on_exit_fill(self, order: bt.Order, role: str) -> None:
        if self._same(order, self.exit_order):
            self.exit_order = None
        for o in self.protect:
            if o.ref != order.ref and o.alive():
                self.cancel(o)
        self.protect = []
        if self.persist is not None:
            self.persist.on_position(self.position.size, self.position.price)
        ot = self.open_trade
        if ot is None or self.position.size != 0:
            return
        price = order.executed.price
        size = ot["size"]
        gross = (price - ot["entry_price"]) * size
        charges = ot["entry_comm"] + order.executed.comm
        rec = TradeRecord(
            entry_time=ot["entry_time"],
            exit_time=self._bar_time(),
            side="long",
            size=size,
            entry_price=ot["entry_price"],
            exit_price=price,
            pnl_gross=gross,
            charges=charges,
            pnl_net=gross - charges,
            exit_reason=role,
            bars_held=self.window.abs_index - ot["entry_bar"],
        )
        self.rt.trades.append(rec)
        self.rt.risk.on_trade_closed(rec.pnl_net)
        if self.persist is not None:
            self.persist.on_trade(
                ot.get("tag") or f"{self.cfg.bot_id}:{ot['entry_bar']}:entry", rec
            )
        self.open_trade = None
        self.pos_state = None
        j = self.rt.journal
        j.record(
            "trades",
            entry_time=j.ist(rec.entry_time),
            exit_time=j.ist(rec.exit_time),
            side="long",
            size=size,
            entry_price=rec.entry_price,
            exit_price=price,
            pnl_gross=round(gross, 2),
            charges=round(charges, 2),
            pnl_net=round(rec.pnl_net, 2),
            exit_reason=role,
            bars_held=rec.bars_held,
        )
        self.log.info(
            "EXIT filled (%s): SELL %s @ %.2f, net PnL %.2f INR", role, size, price, rec.pnl_net
        )
        self._event("trade_exit", price=price, size=size, pnl_net=rec.pnl_net, reason=role)

    def notify_data(self, data: Any, status: int, *args: Any, **kwargs: Any) -> None:
        name = data._getstatusname(status)
        self.log.info("feed %s: %s", data._name or "data0", name)
        if self.persist is not None:
            self.persist.feed_state(name)
