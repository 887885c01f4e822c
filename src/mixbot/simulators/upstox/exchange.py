"""The simulated exchange: orders, the matching engine fed by the replayed ticks, fills.

Matching (one instrument's ticks at a time, orders in placement order; only inside a
session, post-close prints do not match):

* ``MARKET`` fills at the NEXT tick after the order was accepted, at the tick's price moved
  ``slippage_bps`` against the order (buy higher, sell lower), rounded to the tick (0.05);
* ``LIMIT`` fills, AT the limit price, at the first tick that crosses it (buy: price <=
  limit; sell: price >= limit);
* ``SL`` (stop-limit) waits in ``trigger pending`` until a tick crosses the trigger (buy:
  price >= trigger; sell: price <= trigger), becomes ``open`` and from that tick on behaves
  as a LIMIT; ``SL-M`` triggers the same way and fills as a MARKET at the next tick;
* ``IOC``: whatever is not filled at the first tick where the order could trade (for
  MARKET/LIMIT the first tick after acceptance, for stop orders the first after the
  trigger) is cancelled;
* the ``partial_fill`` fault caps each tick's fill at a fraction of the quantity (whole
  lots, at least one lot); the order stays ``open`` with ``filled_quantity`` growing.

Order life (statuses of the Upstox order-status appendix, each pushed to the portfolio
stream and recorded in the order history): ``put order req received`` -> ``validation
pending`` -> ``open pending`` -> ``open`` | ``trigger pending`` -> ``complete`` |
``cancelled`` | ``rejected``. An order placed outside a session (before the first open,
between sessions) is an after-market order (``after market order req received``; Upstox's
V3 infers AMO from the session and ignores ``is_amo``) and opens at the next open. At each
session close every order still working is ``cancelled`` (DAY validity; message best
guess). An order needing more margin than available is accepted then ``rejected`` with
``You need to add Rs. X in your account to place this trade.`` (the real RMS message).
Intraday (``I``) positions are NOT squared off at 15:20 by the simulator.

Thread-safety: the server's loop mutates; :meth:`orders` & co. may be called from any
thread (one lock).
"""

from __future__ import annotations

import datetime as dt
import math
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from mixbot.simulators.upstox.faults import Faults
from mixbot.simulators.upstox.instruments import IST, Instrument
from mixbot.simulators.upstox.portfolio import USER_ID, Book, exchange_name, margin_rate
from mixbot.simulators.upstox.replay import Replay
from mixbot.simulators.upstox.ticks import Tick

FINAL = ("complete", "cancelled", "rejected")
Listener = Callable[[str, dict[str, Any]], None]


def ts(ms: int | None) -> str | None:
    """``YYYY-MM-DD HH:MM:SS`` IST (Upstox's order timestamps), None for None."""
    if ms is None:
        return None
    return dt.datetime.fromtimestamp(ms / 1000, IST).strftime("%Y-%m-%d %H:%M:%S")


def to_tick(price: float, tick: float = 0.05) -> float:
    return round(round(price / tick) * tick, 2)


@dataclass
class Order:
    """One order (quantities in units, prices INR)."""

    order_id: str
    inst: Instrument
    side: str
    quantity: int
    product: str
    validity: str
    order_type: str
    price: float
    trigger_price: float
    disclosed_quantity: int
    is_amo: bool
    tag: str | None
    placed_ms: int
    status: str = ""
    status_message: str | None = None
    filled: int = 0
    value: float = 0.0
    exchange_order_id: str = ""
    exch_ms: int | None = None
    triggered: bool = False
    after_ltt: int = 0  # the last tick the engine had seen when the order was accepted
    history: list[dict[str, Any]] = field(default_factory=list)

    @property
    def final(self) -> bool:
        return self.status in FINAL

    @property
    def pending(self) -> int:
        return 0 if self.final else self.quantity - self.filled

    def row(self) -> dict[str, Any]:
        """This order as an order-book row (``OrderBookData``, real sample's fields)."""
        sym = self.inst.trading_symbol
        return {
            "exchange": exchange_name(self.inst),
            "product": self.product,
            "price": self.price,
            "quantity": self.quantity,
            "status": self.status,
            "guid": None,
            "tag": self.tag,
            "instrument_token": self.inst.key,
            "placed_by": USER_ID,
            "trading_symbol": sym,
            "tradingsymbol": sym,
            "order_type": self.order_type,
            "validity": self.validity,
            "trigger_price": self.trigger_price,
            "disclosed_quantity": self.disclosed_quantity,
            "transaction_type": self.side,
            "average_price": round(self.value / self.filled, 4) if self.filled else 0.0,
            "filled_quantity": self.filled,
            "pending_quantity": self.pending,
            "status_message": self.status_message,
            "status_message_raw": self.status_message,
            "exchange_order_id": self.exchange_order_id or None,
            "parent_order_id": None,
            "order_id": self.order_id,
            "variety": "SIMPLE",
            "order_timestamp": ts(self.placed_ms),
            "exchange_timestamp": ts(self.exch_ms),
            "is_amo": self.is_amo,
            "order_request_id": "1",
            "order_ref_id": f"SIM-{self.order_id}",
        }


@dataclass(frozen=True)
class Fill:
    """One execution (Python API): the tick that caused it, for tests."""

    trade_id: str
    order_id: str
    qty: int
    price: float
    tick_ltt: int
    tick_price: float
    after_ltt: int  # the order's last tick before acceptance (the fill tick comes after)


class Exchange:
    """Orders, fills, positions and funds of the simulator's (single) account.

    Args:
        instruments: the tradable instruments.
        faults: the simulator's faults (partial fills are read at each tick).
        cash: opening cash for the funds API, INR.
        slippage_bps: MARKET fills move this many basis points against the order.
    """

    def __init__(
        self,
        instruments: Iterable[Instrument],
        faults: Faults,
        cash: float = 10_000_000.0,
        slippage_bps: float = 0.0,
    ) -> None:
        self.by_key = {i.key: i for i in instruments}
        self.faults = faults
        self.slippage_bps = float(slippage_bps)
        self.book = Book(cash)
        self.listeners: set[Listener] = set()
        self.session_open = False
        self._orders: dict[str, Order] = {}
        self._fills: list[Fill] = []
        self._trades: list[dict[str, Any]] = []
        self._lock = threading.RLock()
        self._seq = 0
        self._replay: Replay | None = None
        self._last_ltt: dict[str, int] = {}

    def attach(self, replay: Replay) -> None:
        """Take the clock and last prices from ``replay`` and match on its ticks."""
        self._replay = replay
        replay.tick_hooks.append(self.on_tick)
        replay.session_hooks.append(self.on_session)

    # ------------------------------------------------------------------ helpers

    def now_ms(self) -> int:
        return self._replay.clock.now_ms() if self._replay else 0

    def ltps(self) -> dict[str, float]:
        if self._replay is None:
            return {}
        return {k: float(st.ltp) for k, st in self._replay.states.items()}

    def _next_id(self) -> str:
        self._seq += 1
        day = ts(self.now_ms()) or "1970-01-01"
        return f"{day[2:4]}{day[5:7]}{day[8:10]}{self._seq:09d}"  # like 231019025562880

    def _emit(self, update_type: str, payload: dict[str, Any]) -> None:
        for fn in list(self.listeners):
            fn(update_type, payload)

    def _set(self, o: Order, status: str, message: str | None = None) -> None:
        o.status = status
        if message is not None:
            o.status_message = message
        row = o.row()
        o.history.append(row)
        update = {"update_type": "order", "user_id": USER_ID, "userId": USER_ID, **row}
        update["instrument_key"] = o.inst.key
        self._emit("order", update)

    def _ref_price(self, o: Order) -> float:
        if o.order_type in ("LIMIT", "SL") and o.price > 0:
            return o.price
        return self.ltps().get(o.inst.key, 0.0) or o.trigger_price

    def _order_margin(self, exclude: str | None = None) -> float:
        return sum(
            o.pending * self._ref_price(o) * margin_rate(o.inst, o.product)
            for o in self._orders.values()
            if not o.final and o.order_id != exclude
        )

    def _required(self, o: Order) -> float:
        """Margin the new order needs (0 when it only reduces the position)."""
        net = self.book.net(o.inst.key, o.product)
        reduces = (net > 0 and o.side == "SELL") or (net < 0 and o.side == "BUY")
        if reduces and o.quantity <= abs(net):
            return 0.0
        return o.quantity * self._ref_price(o) * margin_rate(o.inst, o.product)

    # ------------------------------------------------------------------ orders

    def place(self, spec: dict[str, Any], quantities: list[int]) -> list[Order]:
        """Create one order per quantity (slices) from a validated place ``spec``."""
        with self._lock:
            return [self._create(spec, q) for q in quantities]

    def _create(self, spec: dict[str, Any], qty: int) -> Order:
        inst = self.by_key[spec["instrument_token"]]
        o = Order(
            order_id=self._next_id(), inst=inst, side=spec["transaction_type"], quantity=qty,
            product=spec["product"], validity=spec["validity"], order_type=spec["order_type"],
            price=spec["price"], trigger_price=spec["trigger_price"],
            disclosed_quantity=spec["disclosed_quantity"], is_amo=not self.session_open,
            tag=spec["tag"], placed_ms=self.now_ms(), after_ltt=self._last_ltt.get(inst.key, 0),
        )  # fmt: skip
        avail = self.book.funds(self._order_margin(), self.ltps())["available_margin"]
        self._orders[o.order_id] = o
        self._set(o, "put order req received")
        self._set(o, "validation pending")
        reason = self.faults.take_reject()
        need = self._required(o)
        if reason is None and need > avail:
            reason = f"You need to add Rs. {need - avail:.2f} in your account to place this trade."
        if reason is not None:
            self._set(o, "rejected", reason)
        elif not self.session_open:
            self._set(o, "after market order req received")
        else:
            self._open(o)
        return o

    def _open(self, o: Order) -> None:
        o.exchange_order_id = f"1300000{o.order_id[-9:]}"  # 16 digits, like NSE's
        self._set(o, "open pending")
        self._set(o, "trigger pending" if o.order_type in ("SL", "SL-M") else "open")

    def modify(self, order_id: str, changes: dict[str, Any]) -> Order:
        """Apply validated ``changes`` to a working order (KeyError: unknown order)."""
        with self._lock:
            o = self._orders[order_id]
            if o.final:
                raise ValueError(o.status)
            was_amo = o.status == "after market order req received"
            for k, v in changes.items():
                setattr(o, k, v)
            if o.order_type not in ("SL", "SL-M"):
                o.triggered = False
            self._set(o, "modify pending")
            if o.filled >= o.quantity:
                self._set(o, "complete")
            elif was_amo:
                self._set(o, "after market order req received")
            else:
                waiting = o.order_type in ("SL", "SL-M") and not o.triggered
                self._set(o, "trigger pending" if waiting else "open")
            return o

    def cancel(self, order_id: str, message: str | None = None) -> Order:
        """Cancel a working order (KeyError: unknown; ValueError: already final)."""
        with self._lock:
            o = self._orders[order_id]
            if o.final:
                raise ValueError(o.status)
            self._set(o, "cancel pending")
            self._set(o, "cancelled", message)
            return o

    # ------------------------------------------------------------------ matching

    def on_session(self, kind: str, ms: int) -> None:
        with self._lock:
            if kind == "open":
                self.session_open = True
                self.book.roll()
                for o in list(self._orders.values()):
                    if o.status == "after market order req received":
                        self._open(o)
            else:
                for o in list(self._orders.values()):
                    if not o.final:
                        self._set(o, "cancel pending")
                        self._set(o, "cancelled", "Order cancelled by the exchange at close")
                self.session_open = False

    def on_tick(self, key: str, tick: Tick) -> None:
        with self._lock:
            self._last_ltt[key] = tick.ltt
            if not self.session_open:
                return
            for o in [o for o in self._orders.values() if o.inst.key == key]:
                if o.status in ("open", "trigger pending"):
                    self._match(o, tick)

    def _match(self, o: Order, tick: Tick) -> None:
        px = tick.price
        buy = o.side == "BUY"
        if o.order_type in ("SL", "SL-M") and not o.triggered:
            if not (px >= o.trigger_price if buy else px <= o.trigger_price):
                return
            o.triggered = True
            self._set(o, "open")
            if o.order_type == "SL-M":
                return  # fills as a MARKET at the next tick
        if o.order_type == "MARKET" or o.order_type == "SL-M":
            slip = self.slippage_bps / 10_000 * (1 if buy else -1)
            fill_px: float | None = to_tick(px * (1 + slip), o.inst.tick or 0.05)
        else:
            fill_px = o.price if (px <= o.price if buy else px >= o.price) else None
        if fill_px is not None and self.faults.take_fill():
            self._fill(o, self._fill_qty(o), fill_px, tick)
        if o.validity == "IOC" and not o.final:
            self._set(o, "cancelled", "IOC order cancelled: not fully filled at once")

    def _fill_qty(self, o: Order) -> int:
        frac = self.faults.partial_fraction
        left = o.quantity - o.filled
        if not frac:
            return left
        lot = max(1, o.inst.lot_size)
        return min(left, max(lot, math.floor(o.quantity * frac / lot) * lot))

    def _fill(self, o: Order, qty: int, price: float, tick: Tick) -> None:
        o.filled += qty
        o.value += qty * price
        o.exch_ms = tick.ltt
        trade_id = f"{len(self._fills) + 1:08d}"
        fill = Fill(trade_id, o.order_id, qty, price, tick.ltt, tick.price, o.after_ltt)
        self._fills.append(fill)
        sym = o.inst.trading_symbol
        self._trades.append(
            {
                "exchange": exchange_name(o.inst),
                "product": o.product,
                "trading_symbol": sym,
                "tradingsymbol": sym,
                "instrument_token": o.inst.key,
                "order_type": o.order_type,
                "transaction_type": o.side,
                "quantity": qty,
                "exchange_order_id": o.exchange_order_id,
                "order_id": o.order_id,
                "exchange_timestamp": ts(tick.ltt),
                "average_price": price,
                "trade_id": trade_id,
                "order_ref_id": f"SIM-{o.order_id}",
                "order_timestamp": ts(o.placed_ms),
            }
        )
        pos = self.book.apply(o.inst, o.product, o.side, qty, price)
        self._set(o, "complete" if o.filled >= o.quantity else "open")
        ltp = self.ltps().get(o.inst.key, price)
        self._emit("position", {"update_type": "position", **pos.row(ltp, ltp)})

    # ------------------------------------------------------------------ views

    def orders(self, tag: str | None = None) -> list[dict[str, Any]]:
        """Every order of the day (order-book rows), optionally only those with ``tag``."""
        with self._lock:
            return [o.row() for o in self._orders.values() if tag is None or o.tag == tag]

    def count_orders(self, tag: str | None = None) -> int:
        return len(self.orders(tag))

    def order(self, order_id: str) -> dict[str, Any] | None:
        with self._lock:
            o = self._orders.get(order_id)
            return o.row() if o else None

    def history(self, order_id: str | None, tag: str | None) -> list[dict[str, Any]]:
        """History rows of the orders matching ``order_id`` and/or ``tag``."""
        with self._lock:
            out: list[dict[str, Any]] = []
            for o in self._orders.values():
                if (order_id is None or o.order_id == order_id) and (tag is None or o.tag == tag):
                    out.extend(dict(h) for h in o.history)
            return out

    def trades(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(t) for t in self._trades]

    def fills(self) -> list[Fill]:
        with self._lock:
            return list(self._fills)

    def positions(self) -> list[dict[str, Any]]:
        with self._lock:
            ltps = self.ltps()
            close = (
                {k: float(st.cp) for k, st in self._replay.states.items()} if self._replay else {}
            )
            return [
                p.row(ltps.get(k, p.avg), close.get(k, 0.0))
                for (k, _), p in self.book.positions.items()
            ]

    def funds(self) -> dict[str, Any]:
        with self._lock:
            return self.book.funds(self._order_margin(), self.ltps())
