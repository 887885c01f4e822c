"""The order/position state machine of one bot on one instrument (long only).

:class:`OrderManager` owns what is in flight and what is held:

- the three order slots: the ENTRY (a market BUY), the EXIT (a market order closing the
  position) and the PROTECTIVE orders (the risk section's stop-loss and take-profit, a stop
  and a limit SELL, one-cancels-other), each order with its role and its client tag;
- the position's state (:class:`~mixbot.strategy.mixin.PositionState`, read by the exit
  mixins) and the open trade (entry time/price/size/charges), closed into a
  :class:`~mixbot.backtest.metrics.TradeRecord` when the position is flat again.

Client tags are deterministic: ``<bot_id>:<bar index>:<role>`` (the bar whose close caused the
order; protective orders use their entry's signal bar), so re-processing a bar after a crash
finds its own earlier intent. Every order is committed as an intent first (write-ahead, when
a store is configured) and only then handed to the broker.

Rules: a PARTIAL fill changes no slot (the order is still working; the store keeps the fill);
an entry cancelled after a partial fill (a live broker's stuck-order rule) keeps the filled
part as the position, with protective orders sized to it; an exit that fills cancels the
protective orders; a failed exit is retried by the strategy on the next bar. Every closing
order that fills, fully or partly, is a part of the trade's exit (:mod:`mixbot.orders.exits`):
the trade record is made from all of them when the position is flat.

Its state is :meth:`OrderManager.snapshot` (plain JSON-able dict) and
:meth:`OrderManager.restore` (re-submits the open orders under their tags).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Protocol

import backtrader as bt

from mixbot.backtest.metrics import TradeRecord
from mixbot.orders import exits
from mixbot.orders.ticks import round_to_tick
from mixbot.strategy.mixin import PositionState

#: Backtrader execution types by the names the store and the checkpoints use, and back.
EXEC_NAMES: dict[int, str] = {
    bt.Order.Market: "Market",
    bt.Order.Limit: "Limit",
    bt.Order.Stop: "Stop",
    bt.Order.StopLimit: "StopLimit",
}
EXEC_TYPES: dict[str, int] = {v: k for k, v in EXEC_NAMES.items()}

#: The slots an order can sit in.
SLOTS = ("entry", "protect", "exit")


def slot_of(role: str) -> str:
    """The slot of an order role: ``entry``, ``protect`` (stop_loss/take_profit) or ``exit``."""
    if role == "entry":
        return "entry"
    return "protect" if role in ("stop_loss", "take_profit") else "exit"


class OrderHost(Protocol):
    """What the manager needs from the strategy that owns it (a ``CustomStrategy``)."""

    def place_order(
        self, side: str, size: float, exectype: int, price: float | None, oco: Any, tag: str
    ) -> Any:
        """Hand an order to the broker (Backtrader ``buy``/``sell``); the placed order."""
        ...

    def cancel(self, order: Any) -> Any:
        """Cancel a live order at the broker."""
        ...

    def position_size(self) -> float:
        """The broker's position in the traded instrument (shares; > 0 long)."""
        ...

    def bar_index(self) -> int:
        """The absolute index of the bar being processed."""
        ...

    def bar_time(self) -> dt.datetime:
        """The END time of the bar being processed, naive UTC."""
        ...

    def fill_time(self, order: Any, latest: bool = False) -> dt.datetime:
        """When ``order``'s newest fill of this notification (``latest``: of the whole order)
        happened, naive UTC (a live venue's exchange time, else the bar's time)."""
        ...


@dataclass(frozen=True)
class EntryFilled:
    """An entry filled (fully, or partly and then cancelled): the position is open.

    ``price`` INR average, ``size`` shares, ``commission`` INR, ``tag`` the entry's client tag.
    """

    price: float
    size: float
    commission: float
    tag: str
    state: PositionState


@dataclass(frozen=True)
class ExitFilled:
    """A closing order (exit or protective) filled. ``trade`` is the closed trade when the
    position is flat after it (else None); ``entry_tag`` the tag of that trade's entry ("" when
    no trade closed)."""

    role: str
    trade: TradeRecord | None
    entry_tag: str


class OrderManager:
    """Orders in flight, their tags and roles, the position state and the open trade.

    Args:
        host: the owning strategy (:class:`OrderHost`).
        bot_id: the bot's id (first part of every client tag).
        tick: the price tick, INR (> 0), protective order prices are rounded to.
        stop_loss_pct / take_profit_pct: percent (0-100) below / above the entry price for the
            protective orders; 0 or None: none.
        persist: a :class:`~mixbot.strategy.persistence.Persistence` (write-ahead intents), or
            None (backtests).
        log: the bot's logger.
        on_sent: called after each order is handed to the broker (latency benchmark), or None.
    """

    def __init__(
        self,
        host: OrderHost,
        bot_id: str,
        tick: float,
        stop_loss_pct: float | None,
        take_profit_pct: float | None,
        persist: Any = None,
        log: logging.Logger | None = None,
        on_sent: Callable[[], None] | None = None,
    ) -> None:
        self.host = host
        self.bot_id = bot_id
        self.tick = tick
        self.stop_loss_pct = stop_loss_pct
        self.take_profit_pct = take_profit_pct
        self.persist = persist
        self.log = log or logging.getLogger("mixbot.orders")
        self.on_sent = on_sent
        self.entry_order: Any = None
        self.exit_order: Any = None
        self.protect: list[Any] = []
        self.order_reason: dict[int, str] = {}  # order ref -> role
        self.order_tag: dict[int, str] = {}  # order ref -> client tag
        self.pos_state: PositionState | None = None
        self.open_trade: dict[str, Any] | None = None
        self.signal_bar = -1
        self.exit_reason = ""

    # ------------------------------------------------------------------ queries
    def tag(self, bar: int, role: str) -> str:
        """The client tag of the order of ``role`` decided on bar ``bar``."""
        return f"{self.bot_id}:{bar}:{role}"

    def role_of(self, ref: int) -> str:
        """The role of the order with reference ``ref`` (``"?"`` when not one of ours)."""
        return self.order_reason.get(ref, "?")

    def tag_of(self, ref: int) -> str | None:
        """The client tag of the order with reference ``ref``, or None."""
        return self.order_tag.get(ref)

    @property
    def busy(self) -> bool:
        """An entry or an exit is in flight (no new decision until it is done)."""
        return self.entry_order is not None or self.exit_order is not None

    @property
    def exiting(self) -> bool:
        """An exit order is in flight."""
        return self.exit_order is not None

    # ------------------------------------------------------------------ actions
    def send(
        self,
        role: str,
        tag: str,
        side: str,
        exectype: int,
        size: float,
        price: float | None = None,
        oco: Any = None,
    ) -> Any:
        """Commit the intent (write-ahead, when a store is configured), then place the order.

        ``side`` BUY/SELL, ``size`` shares (> 0), ``price`` INR (None for market orders),
        ``oco`` the order this one cancels/is cancelled by. Returns the placed order.
        """
        spec = {"role": role, "side": side, "exectype": exectype, "size": size, "price": price}
        self._write_ahead([(tag, spec)])
        return self._place(tag, spec, oco)

    def _write_ahead(self, specs: list[tuple[str, dict[str, Any]]]) -> None:
        """Commit the intents ``[(tag, {role, side, exectype, size, price}), ...]`` in one
        transaction before any of them is placed (nothing without a store)."""
        if self.persist is not None:
            self.persist.intents(specs, self.host.bar_index(), self.host.bar_time())

    def _place(self, tag: str, spec: dict[str, Any], oco: Any = None) -> Any:
        """Place the order of a committed intent (see :meth:`send`)."""
        # the tag travels in order.info (Backtrader passes extra kwargs to addinfo): a live
        # broker sends it to the venue as the order's client tag
        order = self.host.place_order(
            spec["side"], spec["size"], spec["exectype"], spec["price"], oco, tag
        )
        if self.on_sent is not None:
            self.on_sent()
        self.order_reason[order.ref] = spec["role"]
        self.order_tag[order.ref] = tag
        return order

    def _cancel(self, order: Any, why: str) -> None:
        """Ask the broker to cancel ``order``; the request goes to the audit log with the
        bar's writes (the venue's answer follows as a status change)."""
        if self.persist is not None:
            tag = self.order_tag.get(order.ref)
            role = self.order_reason.get(order.ref, "?")
            msg = f"cancel {tag} ({role}): {why}"
            self.persist.event("cancel_requested", msg, self.host.bar_time(), tag=tag)
        self.host.cancel(order)

    def enter(self, size: float) -> Any:
        """Send the market BUY entry of ``size`` shares decided on the current bar."""
        bar = self.host.bar_index()
        self.signal_bar = bar
        self.entry_order = self.send("entry", self.tag(bar, "entry"), "BUY", bt.Order.Market, size)
        return self.entry_order

    def exit(self, reason: str) -> Any:
        """Cancel the protective orders and close the position at market (``reason`` is the
        exit order's role: signal, trailing_stop, eod_square_off, halt, panic, ...).
        Returns the exit order, or None when flat."""
        for o in self.protect:
            if o.alive():
                self._cancel(o, f"exit ({reason})")
        self.protect = []
        self.exit_reason = reason
        size = self.host.position_size()
        if not size:
            return None
        tag = self.tag(self.host.bar_index(), "exit")
        side = "SELL" if size > 0 else "BUY"
        self.exit_order = self.send(reason, tag, side, bt.Order.Market, abs(size))
        return self.exit_order

    def adopt(self, tag: str, role: str, side: str, size: float) -> Any:
        """Take over, as the exit order, a MARKET order another process placed for this bot
        under ``tag`` (its intent is in the store already: the panic's exit,
        :mod:`mixbot.strategy.winddown`); the broker attaches it by tag. Returns it."""
        spec = {"role": role, "side": side, "exectype": bt.Order.Market, "size": size}
        spec["price"] = None
        self.exit_reason = role
        self.exit_order = self._place(tag, spec)
        return self.exit_order

    def protect_entry(self, fill: EntryFilled) -> None:
        """Place the stop-loss and take-profit (one-cancels-other) of a filled entry; both
        intents commit in one transaction before either order is placed."""
        price, size = fill.price, fill.size
        specs: list[tuple[str, dict[str, Any]]] = []
        if self.stop_loss_pct:
            # DOWN: the stop of a long is never tighter than stop_loss_pct below the entry
            px = round_to_tick(price * (1 - self.stop_loss_pct / 100.0), self.tick, "down")
            specs.append(
                (self.tag(self.signal_bar, "sl"), self._spec("stop_loss", bt.Order.Stop, size, px))
            )
        if self.take_profit_pct:
            # UP: the take-profit of a long is never closer than take_profit_pct above it
            px = round_to_tick(price * (1 + self.take_profit_pct / 100.0), self.tick, "up")
            specs.append(
                (
                    self.tag(self.signal_bar, "tp"),
                    self._spec("take_profit", bt.Order.Limit, size, px),
                )
            )
        self._write_ahead(specs)
        placed: list[Any] = []
        for tag, spec in specs:  # the take-profit is the stop-loss's one-cancels-other
            placed.append(self._place(tag, spec, placed[0] if placed else None))
        self.protect = placed

    @staticmethod
    def _spec(role: str, exectype: int, size: float, price: float) -> dict[str, Any]:
        """A protective SELL's order spec (size shares, price INR)."""
        return {"role": role, "side": "SELL", "exectype": exectype, "size": size, "price": price}

    # ------------------------------------------------------------------ notifications
    @staticmethod
    def same(order: Any, mine: Any) -> bool:
        """``order`` is ``mine`` (Backtrader notifies CLONES of orders: compare by ref)."""
        return mine is not None and order.ref == mine.ref

    def on_order(self, order: Any) -> EntryFilled | ExitFilled | None:
        """Advance the state machine on an order notification; what it caused, or None.

        Completed entry (or an entry cancelled after a partial fill): :class:`EntryFilled`,
        the position state and open trade are set (the caller places the protective orders
        with :meth:`protect_entry` once the exit mixin saw the entry). Completed exit or
        protective order: :class:`ExitFilled`. Cancelled / rejected orders leave their slot.
        """
        if order.status in (order.Submitted, order.Accepted):
            return None
        role = self.role_of(order.ref)
        if role != "entry" and self.open_trade is not None:
            tag = self.tag_of(order.ref) or f"ref-{order.ref}"
            exits.note_part(
                self.open_trade, tag, role, order, self.host.fill_time(order, latest=True)
            )
        if order.status == order.Partial:
            return None  # still working: its slot stays, the store has the fill
        if order.status == order.Completed:
            if role == "entry":
                return self._entry_filled(order)
            return self._exit_filled(order, role)
        # Canceled / Margin / Rejected / Expired
        status = order.getstatusname()
        result: EntryFilled | None = None
        if self.same(order, self.entry_order) and order.executed.size:
            # partly filled, then cancelled (the stuck-entry rule): the filled part is the
            # position, managed like a full entry (its stop-loss / take-profit size)
            self.log.warning(
                "entry order %s %s after a partial fill of %s: keeping that position",
                order.ref,
                status,
                order.executed.size,
            )
            result = self._entry_filled(order)
        elif self.same(order, self.entry_order):
            self.entry_order = None
            if order.status != order.Canceled:
                self.log.warning(
                    "entry order %s: %s (not enough cash or rejected)", order.ref, status
                )
        elif self.same(order, self.exit_order):
            self.exit_order = None
            self.log.error("exit order %s: %s; will retry on the next bar", order.ref, status)
        self.protect = [o for o in self.protect if o.alive() and o.ref != order.ref]
        return result

    def _entry_filled(self, order: Any) -> EntryFilled:
        self.entry_order = None
        price, size = order.executed.price, order.executed.size
        st = PositionState(
            entry_price=price,
            entry_bar=self.signal_bar,
            size=size,
            highest_close=price,
            lowest_close=price,
        )
        self.pos_state = st
        tag = self.tag_of(order.ref)
        self.open_trade = {
            "entry_time": self.host.fill_time(order, latest=True),
            "entry_price": price,
            "size": size,
            "entry_comm": order.executed.comm,
            "entry_bar": self.signal_bar,
            "tag": tag,
        }
        return EntryFilled(
            price, size, order.executed.comm, tag or self.tag(self.signal_bar, "entry"), st
        )

    def _exit_filled(self, order: Any, role: str) -> ExitFilled:
        if self.same(order, self.exit_order):
            self.exit_order = None
        for o in self.protect:
            if o.ref != order.ref and o.alive():
                self._cancel(o, f"{role} filled (one-cancels-other)")
        self.protect = []
        ot = self.open_trade
        if ot is None or self.host.position_size() != 0:
            return ExitFilled(role, None, "")
        rec = exits.close(ot, role, self.host.bar_index() - ot["entry_bar"])
        entry_tag = ot.get("tag") or self.tag(ot["entry_bar"], "entry")
        self.open_trade = None
        self.pos_state = None
        return ExitFilled(role, rec, entry_tag)

    # ------------------------------------------------------------------ snapshot / restore
    def snapshot(self) -> dict[str, Any]:
        """JSON-able state: the live orders (slot, tag, role, side, exectype name, size,
        price INR or None, oco: the tag of the stop a take-profit cancels with), the signal
        bar, the last exit reason, the position state and the open trade (ISO times)."""
        orders = []
        slots = [("entry", self.entry_order), *(("protect", o) for o in self.protect)]
        prev_tag = None
        for slot, o in [*slots, ("exit", self.exit_order)]:
            if o is None or not o.alive():
                continue
            tag = self.tag_of(o.ref)
            orders.append(
                {
                    "slot": slot,
                    "tag": tag,
                    "role": self.role_of(o.ref),
                    "side": "BUY" if o.isbuy() else "SELL",
                    "exectype": EXEC_NAMES[o.exectype],
                    "size": abs(float(o.created.size)),
                    "price": None if o.exectype == bt.Order.Market else float(o.created.price),
                    "oco": prev_tag if slot == "protect" and o.exectype == bt.Order.Limit else None,
                    # what it had filled (shares, INR average): in the position already
                    "filled": abs(float(o.executed.size or 0.0)),
                    "filled_price": float(o.executed.price or 0.0),
                }
            )
            if slot == "protect":
                prev_tag = tag
        ot = exits.to_json(self.open_trade) if self.open_trade else None
        return {
            "orders": orders,
            "signal_bar": self.signal_bar,
            "exit_reason": self.exit_reason,
            "pos_state": asdict(self.pos_state) if self.pos_state else None,
            "open_trade": ot,
        }

    def restore(
        self,
        snap: dict[str, Any],
        extra_orders: list[dict[str, Any]] | None = None,
        signal_bar: int | None = None,
    ) -> None:
        """Inverse of :meth:`snapshot`: set the state, re-submit the open orders under their
        original tags (a broker that adopts orders attaches them to the venue's).

        ``extra_orders``: order specs (the shape of the snapshot's ``orders``) re-submitted
        after the snapshot's own (a live restart's orders sent after the checkpoint);
        ``signal_bar``: the bar of such an adopted entry (its protective orders' tags carry it).
        """
        self.signal_bar = snap["signal_bar"]
        self.exit_reason = snap["exit_reason"]
        self.pos_state = PositionState(**snap["pos_state"]) if snap["pos_state"] else None
        ot = snap["open_trade"]
        self.open_trade = exits.from_json(ot) if ot else None
        by_tag: dict[str, Any] = {}
        for spec in [*snap["orders"], *(extra_orders or [])]:
            oco = by_tag.get(spec["oco"]) if spec["oco"] else None
            o = self.send(
                spec["role"],
                spec["tag"],
                spec["side"],
                EXEC_TYPES[spec["exectype"]],
                spec["size"],
                spec["price"],
                oco=oco,
            )
            by_tag[spec["tag"]] = o
            if spec["slot"] == "entry":
                self.entry_order = o
            elif spec["slot"] == "exit":
                self.exit_order = o
            else:
                self.protect.append(o)
        if signal_bar is not None:
            self.signal_bar = signal_bar
