"""``IbkrBroker``: a Backtrader live broker on Interactive Brokers (broker type ``ibkr``).

Orders (``ib_async`` ``placeOrder``; the tag is the order's ``orderRef``):

======================  ==================================================================
Backtrader order        IB order
======================  ==================================================================
Market (and Close)      ``MKT``
Limit                   ``LMT`` at the order's price
Stop                    ``STP`` with ``auxPrice`` = the stop price
======================  ==================================================================

Others are rejected. Quantities: Backtrader sizes are units (shares; for futures the
underlying units of ``trading.lot_size``); IB quantities are contracts, so the size is
divided by the contract's ``multiplier`` (an order that is not a whole number of contracts
is rejected). OCO: each Stop/Limit order without ``oco`` opens an IB OCA group named after
its tag (``ocaType`` 1: the others are cancelled when one fills); an order with
``oco=other`` joins ``other``'s group. IB cancels the siblings when one fills; an explicit
cancel of one member cancels the others too (Backtrader's OCO rule).

Updates come on the session's loop (``orderStatusEvent``, ``commissionReportEvent``,
``errorEvent``) into a queue that :meth:`next` (each engine cycle) applies: each execution
becomes one ``order.execute`` at the execution's price and time with its commission (so a
fill is applied when its ``commissionReport`` arrives; TWS sends it right after
``execDetails``); ``Filled`` / ``Cancelled`` / ``Inactive`` (and order errors) end the
Backtrader order (Completed / Canceled / Rejected).

Cash and value: cash starts from the account's ``TotalCashValue`` (``venue_cash``) and then
follows the bot's own fills (price x units + commission), like a stock account; value is
cash plus the position marked to the last close. Crash recovery: :mod:`.adopt`.
"""

from __future__ import annotations

import collections
import datetime as dt
import logging
import queue
import time
from dataclasses import dataclass, field
from typing import Any

import backtrader as bt

from mixbot.venues.ibkr.adopt import BrokerAdoption

log = logging.getLogger(__name__)

#: Seconds a fill waits for its commission report after IB said Filled.
COMMISSION_WAIT_S = 5.0

FINAL = {
    "Filled": "Completed",
    "Cancelled": "Canceled",
    "ApiCancelled": "Canceled",
    "Inactive": "Rejected",
}


@dataclass
class VenueOrder:
    """A Backtrader order and what IB knows of it."""

    tag: str
    order: bt.Order
    kind: str  # entry / exit / protect
    ib_type: str
    qty: float  # contracts
    price: float | None
    trade: Any = None  # the ib_async Trade
    execs: set[str] = field(default_factory=set)
    final: bool = False
    cancel_sent: bool = False
    filled_at: float | None = None  # monotonic time IB said Filled (commission fallback)


class IbkrBroker(bt.BrokerBase, BrokerAdoption):  # type: ignore[misc]
    """Backtrader broker on IB (see the module docstring).

    Params:
        session: the :class:`~mixbot.venues.ibkr.session.IbkrSession`.
        symbol: ``data.symbol``; its contract comes from the session.
        known_tags: tags an earlier process may have sent (adopted, never re-sent blindly).
        tag_prefix: ``"<bot_id>:"``.
    """

    params = (("session", None), ("symbol", ""), ("known_tags", ()), ("tag_prefix", ""))

    venue_cash = True
    adopts_orders = True

    def __init__(self, **kwargs: Any) -> None:
        super().__init__()
        if self.p.session is None:
            raise ValueError("IbkrBroker: session is required")
        self.s = self.p.session
        self.notifs: collections.deque[bt.Order] = collections.deque()
        self.updates: queue.Queue[tuple[Any, ...]] = queue.Queue()
        self.positions: dict[Any, bt.Position] = {}
        self.by_tag: dict[str, VenueOrder] = {}
        self.by_trade: dict[int, VenueOrder] = {}  # id(trade.order) -> VenueOrder
        self.open_orders: dict[int, bt.Order] = {}
        self.oca: dict[int, str] = {}  # bt ref -> OCA group
        self.cash = 0.0
        self.startingcash = 0.0
        self.contract: Any = None
        self.multiplier = 1.0
        self.known_tags: set[str] = set(self.p.known_tags or ())
        self.adopted: list[tuple[str, str]] = []

    # ------------------------------------------------------------------ life cycle
    def start(self) -> None:
        """Connect, read the contract and the cash, hook the order events.

        Raises:
            IbkrError: IB not reachable or the contract unknown.
        """
        super().start()
        self.contract = self.s.contract(self.p.symbol)
        self.multiplier = float(self.contract.multiplier or 1) or 1.0
        cash = self.s.account_value("TotalCashValue")
        self.cash = self.startingcash = float(cash or 0.0)
        self.s.call(self._hook)

    def _hook(self) -> None:
        ib = self.s.ib
        ib.orderStatusEvent += self._on_status
        ib.commissionReportEvent += self._on_commission
        ib.errorEvent += self._on_error

    def _unhook(self) -> None:
        ib = self.s.ib
        ib.orderStatusEvent -= self._on_status
        ib.commissionReportEvent -= self._on_commission
        ib.errorEvent -= self._on_error

    def stop(self) -> None:
        try:
            self.s.call(self._unhook, timeout=5)
        except Exception:  # noqa: BLE001 - stopping anyway
            pass
        self._drain()
        super().stop()

    # ------------------------------------------------------------------ session-loop side
    def _on_status(self, trade: Any) -> None:
        self.updates.put(("status", trade, trade.orderStatus.status))

    def _on_commission(self, trade: Any, fill: Any, report: Any) -> None:
        self.updates.put(("fill", trade, fill, float(report.commission or 0.0)))

    def _on_error(self, req_id: int, code: int, text: str, contract: Any = None) -> None:
        if req_id > 0 and code not in (202,) and not 2100 <= code < 2200:
            self.updates.put(("error", req_id, code, text))

    # ------------------------------------------------------------------ accounting
    def _pos(self, data: Any) -> bt.Position:
        pos = self.positions.get(data)
        if pos is None:
            pos = self.positions[data] = bt.Position(0, 0.0)
        return pos

    def getcash(self) -> float:
        return self.cash

    def getvalue(self, datas: Any = None) -> float:
        value = self.cash
        for data, pos in self.positions.items():
            if pos.size and len(data):
                value += pos.size * data.close[0]
        return value

    def getposition(self, data: Any, clone: bool = True) -> bt.Position:
        pos = self._pos(data)
        return pos.clone() if clone else pos

    @property
    def pending(self) -> list[bt.Order]:
        return list(self.open_orders.values())

    def get_notification(self) -> bt.Order | None:
        try:
            return self.notifs.popleft()
        except IndexError:
            return None

    def notify(self, order: bt.Order) -> None:
        self.notifs.append(order.clone())

    # ------------------------------------------------------------------ orders
    def buy(self, owner: Any, data: Any, size: float, price: float | None = None,
            plimit: float | None = None, exectype: int | None = None, valid: Any = None,
            tradeid: int = 0, oco: bt.Order | None = None, trailamount: Any = None,
            trailpercent: Any = None, parent: Any = None, transmit: bool = True,
            **kwargs: Any) -> bt.Order:  # fmt: skip
        """Backtrader's ``buy``: a BuyOrder sent to IB at once."""
        return self._make(bt.BuyOrder, owner, data, size, price, exectype, tradeid, oco, kwargs)

    def sell(self, owner: Any, data: Any, size: float, price: float | None = None,
             plimit: float | None = None, exectype: int | None = None, valid: Any = None,
             tradeid: int = 0, oco: bt.Order | None = None, trailamount: Any = None,
             trailpercent: Any = None, parent: Any = None, transmit: bool = True,
             **kwargs: Any) -> bt.Order:  # fmt: skip
        """Backtrader's ``sell``: a SellOrder sent to IB at once."""
        return self._make(bt.SellOrder, owner, data, size, price, exectype, tradeid, oco, kwargs)

    def _make(self, cls: type, owner: Any, data: Any, size: float, price: float | None,
              exectype: int | None, tradeid: int, oco: bt.Order | None,
              info: dict[str, Any]) -> bt.Order:  # fmt: skip
        order = cls(owner=owner, data=data, size=size, price=price, exectype=exectype,
                    tradeid=tradeid, oco=oco)  # fmt: skip
        order.addinfo(**info)
        return self._submit(order, oco)

    def _submit(self, order: bt.Order, oco: bt.Order | None) -> bt.Order:
        order.addcomminfo(self.getcommissioninfo(order.data))
        tag = str(order.info.get("tag") or f"mixbot-{order.ref}")
        pos = self._pos(order.data).size
        qty = abs(float(order.size)) / self.multiplier
        if order.exectype == bt.Order.Stop:
            kind, ib_type = "protect", "STP"
        elif order.exectype == bt.Order.Limit:
            kind, ib_type = "protect", "LMT"
        elif order.exectype in (None, bt.Order.Market, bt.Order.Close):
            entry = pos == 0 or (pos > 0) == order.isbuy()
            kind, ib_type = ("entry" if entry else "exit"), "MKT"
        else:
            return self._refuse(order, tag, f"{order.getordername()} orders are not supported")
        if abs(qty - round(qty)) > 1e-9 or round(qty) <= 0:
            return self._refuse(
                order, tag, f"{abs(order.size):g} units is not a whole number of contracts "
                f"(multiplier {self.multiplier:g})",
            )  # fmt: skip
        if ib_type != "MKT":
            self.oca[order.ref] = self.oca.get(oco.ref, tag) if oco is not None else tag
        order.submit(self)
        self.notify(order)
        self.open_orders[order.ref] = order
        price = float(order.price) if ib_type != "MKT" else None
        vo = VenueOrder(tag, order, kind, ib_type, float(round(qty)), price)
        self.by_tag[tag] = vo
        if tag in self.known_tags:
            self._adopt(vo)
        else:
            self._place(vo)
        return order

    def _refuse(self, order: bt.Order, tag: str, why: str) -> bt.Order:
        log.error("order %s refused: %s", tag, why)
        order.reject(self)
        self.notify(order)
        return order

    def _ib_order(self, vo: VenueOrder) -> Any:
        from ib_async import LimitOrder, MarketOrder, StopOrder

        action = "BUY" if vo.order.isbuy() else "SELL"
        o: Any
        if vo.ib_type == "MKT":
            o = MarketOrder(action, vo.qty)
        elif vo.ib_type == "LMT":
            o = LimitOrder(action, vo.qty, float(vo.price or 0.0))
        else:
            o = StopOrder(action, vo.qty, float(vo.price or 0.0))
        o.orderRef = vo.tag
        o.tif = "DAY" if vo.ib_type == "MKT" else "GTC"
        if vo.order.ref in self.oca:
            o.ocaGroup, o.ocaType = self.oca[vo.order.ref], 1
        if self.s.cfg.account:
            o.account = self.s.cfg.account
        return o

    def _place(self, vo: VenueOrder) -> None:
        """Send ``vo`` (posted to the session loop: keeps the bar's order of messages)."""
        ib_order = self._ib_order(vo)

        def send() -> None:
            vo.trade = self.s.ib.placeOrder(self.contract, ib_order)
            self.by_trade[id(vo.trade.order)] = vo

        self.s.post(send)
        log.info("order %s placed: %s %g %s", vo.tag, ib_order.action, vo.qty, vo.ib_type)

    def cancel(self, order: bt.Order) -> bool:
        """Cancel ``order`` at IB, and the other live members of its OCA group."""
        if order.ref not in self.open_orders or not order.alive():
            return False
        group = self.oca.get(order.ref)
        for vo in list(self.by_tag.values()):
            same = vo.order.ref == order.ref
            sibling = group is not None and self.oca.get(vo.order.ref) == group
            if (same or sibling) and not vo.final and vo.order.alive():
                self._cancel_venue(vo)
        return True

    def _cancel_venue(self, vo: VenueOrder) -> None:
        if vo.cancel_sent:
            return
        vo.cancel_sent = True

        def send() -> None:
            if vo.trade is not None and not vo.trade.isDone():
                self.s.ib.cancelOrder(vo.trade.order)

        self.s.post(send)

    # ------------------------------------------------------------------ updates
    def next(self) -> None:
        self._drain()
        self._late_fills()

    def _late_fills(self, wait_s: float = COMMISSION_WAIT_S) -> None:
        """Executions of orders IB reported Filled whose commission report did not come
        within ``wait_s`` seconds: applied with the commission known (0 if none)."""
        now = time.monotonic()
        for vo in list(self.by_tag.values()):
            if vo.final or vo.filled_at is None or now - vo.filled_at < wait_s:
                continue
            for f in list(vo.trade.fills):
                if f.execution.execId not in vo.execs:
                    log.warning("order %s: no commission report for %s", vo.tag, f.execution.execId)
                    self._execute(vo, f, float(f.commissionReport.commission or 0.0))

    def _drain(self) -> None:
        while True:
            try:
                item = self.updates.get_nowait()
            except queue.Empty:
                return
            kind = item[0]
            if kind == "fill":
                vo = self.by_trade.get(id(item[1].order))
                if vo is not None:
                    self._execute(vo, item[2], item[3])
            elif kind == "status":
                vo = self.by_trade.get(id(item[1].order))
                if vo is not None:
                    self._status(vo, item[2])
            elif kind == "error":
                self._order_error(*item[1:])

    def _execute(self, vo: VenueOrder, fill: Any, commission: float) -> None:
        """Apply one execution (contracts at price, commission in the account currency)."""
        ex = fill.execution
        if ex.execId in vo.execs or vo.final:
            return
        vo.execs.add(ex.execId)
        order = vo.order
        units = float(ex.shares) * self.multiplier * (1 if order.isbuy() else -1)
        price = float(ex.price)
        pos = self._pos(order.data)
        psize, pprice, opened, closed = pos.update(units, price)
        comminfo = order.comminfo
        closedvalue = comminfo.getoperationcost(closed, pprice) if closed else 0.0
        openedvalue = comminfo.getoperationcost(opened, price) if opened else 0.0
        pnl = comminfo.profitandloss(-closed, pprice, price) if closed else 0.0
        when = ex.time if isinstance(ex.time, dt.datetime) else None
        dtn = bt.date2num(when.astimezone(dt.UTC).replace(tzinfo=None)) if when else (
            order.data.datetime[0] if len(order.data) else 0.0
        )  # fmt: skip
        cclose = commission * abs(closed) / abs(units) if units else 0.0
        order.execute(dtn, units, price, closed, closedvalue, cclose, opened, openedvalue,
                      commission - cclose, comminfo.margin, pnl, psize, pprice)  # fmt: skip
        self.cash -= units * price + commission
        if abs(order.executed.remsize) < 1e-9:
            vo.final = True
            order.completed()
            self.open_orders.pop(order.ref, None)
        else:
            order.partial()
        self.notify(order)

    def _status(self, vo: VenueOrder, status: str) -> None:
        order = vo.order
        if vo.final or not order.alive():
            return
        if status == "Filled" and vo.filled_at is None:
            vo.filled_at = time.monotonic()
        if status in ("Submitted", "PreSubmitted") and order.status == bt.Order.Submitted:
            order.accept(self)
            self.notify(order)
        elif status in FINAL and status != "Filled":
            self._finish(vo, FINAL[status])

    def _finish(self, vo: VenueOrder, status: str) -> None:
        order = vo.order
        vo.final = True
        if status == "Canceled":
            order.cancel()
        else:
            order.reject(self)
        self.notify(order)
        self.open_orders.pop(order.ref, None)

    def _order_error(self, order_id: int, code: int, text: str) -> None:
        for vo in self.by_tag.values():
            if vo.trade is not None and vo.trade.order.orderId == order_id and not vo.final:
                log.error("order %s: IB error %s: %s", vo.tag, code, text)
                if code in (161, 10147):
                    continue  # cancel of an order that is done: its status tells the end
                if vo.trade.isDone() and not vo.execs:
                    self._finish(vo, "Rejected")
