"""The simulated account and order book: orders, fills, positions, cash.

Matching (the simulator's rules, chosen to equal Backtrader's ``BackBroker`` so a bot on
the simulator trades like the same config replaying the file with the mock broker):

* ``MKT``: filled at once, in full, at the last price (the close of the last published
  minute).
* ``LMT`` / ``STP``: checked on each later minute, in order-id order, against the minute's
  open/high/low: a BUY limit fills at the open if the open is at or below the limit, else
  at the limit if the low reaches it (SELL mirrored); a SELL stop fills at the open if the
  open is at or below the stop, else at the stop if the low reaches it (BUY mirrored).
* OCA groups (``ocaGroup`` with any ``ocaType``): when one order of a group fills, the
  others are cancelled at once (status ``Cancelled``).

Commission: ``commission`` (a fraction of the traded value, default 0.0003 = 0.03 %: the
simulator's figure, not IB's schedule) in the contract's currency, one commission report
per execution. Cash moves like a stock account (value x multiplier), futures included.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mixbot.simulators.ibkr.messages import SimContract


@dataclass
class SimFill:
    """One execution: id, shares (contracts), price, commission, when (epoch s UTC)."""

    exec_id: str
    order_id: int
    shares: float
    price: float
    commission: float
    time_s: int
    cum_qty: float
    avg_price: float

    @property
    def time_text(self) -> str:
        """``YYYYmmdd HH:MM:SS UTC`` (ib_async ``parseIBDatetime``)."""
        return f"{dt.datetime.fromtimestamp(self.time_s, dt.UTC):%Y%m%d %H:%M:%S} UTC"


@dataclass
class SimOrder:
    """One order of the book (quantities in contracts, prices in the contract currency)."""

    order_id: int
    perm_id: int
    client_id: int
    con_id: int
    action: str
    quantity: float
    order_type: str
    lmt_price: float | None
    aux_price: float | None
    tif: str
    oca_group: str
    oca_type: int
    account: str
    order_ref: str
    status: str = "Submitted"
    filled: float = 0.0
    avg_price: float = 0.0
    fills: list[SimFill] = field(default_factory=list)
    completed_time: str = ""
    completed_status: str = ""

    @property
    def remaining(self) -> float:
        return self.quantity - self.filled

    @property
    def final(self) -> bool:
        return self.status in ("Filled", "Cancelled", "Inactive")


#: ``(order, fill or None)`` listener: called after every status change / execution.
Listener = Callable[[SimOrder, SimFill | None], None]


class Exchange:
    """The book of one account (see the module docstring). Not thread-safe: the
    simulator's event loop is its only user."""

    def __init__(self, account: str, cash: float, commission: float = 0.0003) -> None:
        self.account = account
        self.cash = float(cash)
        self.commission = float(commission)
        self.orders: dict[int, SimOrder] = {}  # by perm id
        self.positions: dict[int, tuple[float, float]] = {}  # con id -> (qty, avg cost)
        self.contracts: dict[int, SimContract] = {}
        self.last_price: dict[int, float] = {}
        self.now_s = 0
        self.listeners: list[Listener] = []
        self._perm = itertools.count(1_000_001)
        self._exec = itertools.count(1)

    # ------------------------------------------------------------------ queries
    def by_ref(self, ref: str) -> list[SimOrder]:
        """Every order whose orderRef is ``ref`` (tests: no tag sent twice)."""
        return [o for o in self.orders.values() if o.order_ref == ref]

    def fills(self) -> list[SimFill]:
        return [f for o in self.orders.values() for f in o.fills]

    def find(self, client_id: int, order_id: int) -> SimOrder | None:
        for o in self.orders.values():
            if o.client_id == client_id and o.order_id == order_id:
                return o
        return None

    def _multiplier(self, con_id: int) -> float:
        c = self.contracts.get(con_id)
        return float(c.multiplier) if c is not None and c.multiplier else 1.0

    # ------------------------------------------------------------------ orders
    def place(self, o: SimOrder) -> None:
        """Take a new order: a MKT order fills now (see the module docstring)."""
        self.orders[o.perm_id] = o
        self._emit(o, None)
        if o.order_type == "MKT":
            px = self.last_price.get(o.con_id)
            if px is not None:
                self._fill(o, o.remaining, px)

    def new_perm_id(self) -> int:
        return next(self._perm)

    def cancel(self, o: SimOrder) -> bool:
        """Cancel ``o`` if it is still working; False when it is final already."""
        if o.final:
            return False
        o.status = "Cancelled"
        self._complete(o, "Cancelled")
        self._emit(o, None)
        return True

    def on_minute(
        self, con_id: int, end_s: int, op: float, hi: float, lo: float, cl: float
    ) -> None:
        """Match the working LMT/STP orders of ``con_id`` against the minute ending at
        ``end_s``, then take its close as the last price."""
        self.now_s = max(self.now_s, end_s - 60)
        for o in sorted(self.orders.values(), key=lambda x: x.order_id):
            if o.final or o.con_id != con_id or o.order_type == "MKT":
                continue
            px = _match(o, op, hi, lo)
            if px is not None:
                self._fill(o, o.remaining, px)
        self.now_s = end_s
        self.last_price[con_id] = cl

    def _fill(self, o: SimOrder, qty: float, price: float) -> None:
        mult = self._multiplier(o.con_id)
        comm = round(abs(qty) * price * mult * self.commission, 6)
        value = o.avg_price * o.filled + price * qty
        o.filled += qty
        o.avg_price = value / o.filled
        sign = 1.0 if o.action == "BUY" else -1.0
        self.cash -= sign * qty * price * mult + comm
        pos, cost = self.positions.get(o.con_id, (0.0, 0.0))
        new = pos + sign * qty
        if new == 0:
            cost = 0.0
        elif pos == 0 or (pos > 0) != (new > 0):
            cost = price * mult
        elif abs(new) > abs(pos):
            cost = (cost * abs(pos) + price * mult * qty) / abs(new)
        self.positions[o.con_id] = (new, cost)
        fill = SimFill(
            exec_id=f"0000e1a7.{next(self._exec):08d}.01.01",
            order_id=o.order_id,
            shares=qty,
            price=price,
            commission=comm,
            time_s=self.now_s,
            cum_qty=o.filled,
            avg_price=o.avg_price,
        )
        o.fills.append(fill)
        if o.remaining <= 1e-9:
            o.status = "Filled"
            self._complete(o, "Filled Size: " + str(o.filled))
        self._emit(o, fill)
        if o.status == "Filled" and o.oca_group:
            for other in list(self.orders.values()):
                if other is not o and other.oca_group == o.oca_group and not other.final:
                    self.cancel(other)

    def _complete(self, o: SimOrder, text: str) -> None:
        when = dt.datetime.fromtimestamp(self.now_s, dt.UTC)
        o.completed_time = f"{when:%Y%m%d %H:%M:%S} UTC"
        o.completed_status = text

    def _emit(self, o: SimOrder, fill: SimFill | None) -> None:
        for listener in list(self.listeners):
            listener(o, fill)

    # ------------------------------------------------------------------ account
    def account_values(self) -> list[tuple[str, str, str]]:
        """``(key, value, currency)`` rows of reqAccountUpdates (cash, net liquidation)."""
        currency = next((c.currency for c in self.contracts.values()), "USD")
        value = self.cash
        for con_id, (qty, _cost) in self.positions.items():
            px = self.last_price.get(con_id, 0.0)
            value += qty * px * self._multiplier(con_id)
        rows = [
            ("AccountCode", self.account, ""),
            ("AccountType", "INDIVIDUAL", ""),
            ("TotalCashValue", f"{self.cash:.2f}", currency),
            ("CashBalance", f"{self.cash:.2f}", currency),
            ("NetLiquidation", f"{value:.2f}", currency),
            ("AvailableFunds", f"{self.cash:.2f}", currency),
            ("BuyingPower", f"{max(self.cash, 0.0):.2f}", currency),
        ]
        return rows


def _match(o: SimOrder, op: float, hi: float, lo: float) -> float | None:
    """The fill price of a LMT/STP order on a minute (module docstring), or None."""
    buy = o.action == "BUY"
    if o.order_type == "LMT" and o.lmt_price is not None:
        lim = o.lmt_price
        if buy:
            return op if op <= lim else (lim if lo <= lim else None)
        return op if op >= lim else (lim if hi >= lim else None)
    if o.order_type == "STP" and o.aux_price is not None:
        stop = o.aux_price
        if buy:
            return op if op >= stop else (stop if hi >= stop else None)
        return op if op <= stop else (stop if lo <= stop else None)
    return None


def order_from(req: Any, perm_id: int, client_id: int, account: str) -> SimOrder:
    """A :class:`SimOrder` of a parsed placeOrder (``protocol.OrderRequest``)."""
    return SimOrder(
        order_id=req.order_id,
        perm_id=perm_id,
        client_id=client_id,
        con_id=req.contract.con_id,
        action=req.action,
        quantity=req.quantity,
        order_type=req.order_type,
        lmt_price=req.lmt_price,
        aux_price=req.aux_price,
        tif=req.tif or "DAY",
        oca_group=req.oca_group,
        oca_type=req.oca_type,
        account=req.account or account,
        order_ref=req.order_ref,
    )
