"""``OpenAlgoBroker``: a Backtrader live broker on OpenAlgo's order API (REST, polled).

Order mapping (one OpenAlgo order per Backtrader order, ``placeorder``):

====================  ==========================================================
Backtrader            OpenAlgo ``pricetype``
====================  ==========================================================
Market (and Close)    ``MARKET``
Limit                 ``LIMIT`` at the order's price
Stop                  ``SL-M`` with ``trigger_price`` = the stop price
StopLimit, trailing   refused (Rejected, logged): not supported by this bridge yet
====================  ==========================================================

Product: ``trading.product`` intraday -> ``MIS``; delivery -> ``CNC`` on NSE/BSE, ``NRML``
on derivative exchanges (NFO, BFO, MCX, CDS). Every order carries the config's
``strategy`` name and the bot's client ``tag`` (``tag=<tag>`` in the JSON body; see
:mod:`.broker_adopt` for what a restart does with it).

Fills and statuses: the order book (``orderbook``) and trade book (``tradebook``) are read
once per NEW BAR while orders are pending (the strategy only acts on bars; applying venue
news at bar boundaries also makes a replayed session fill exactly like a backtest, whose
broker reports fills on the next bar too), and at :meth:`stop`. An order's new fills are
its trade-book quantity beyond what was executed, at the size-weighted price of the new
trades. OCO groups: when a leg completes, the other legs are cancelled at OpenAlgo.

Cash is ``funds().availablecash`` (refreshed after fills); value is cash plus the open
positions marked to the last close (a cash account: OpenAlgo reports no single "value").
Position: from the bot's own fills (a restart restores it from the checkpoint);
:meth:`venue_position` reads ``positionbook``. Times: epoch/UTC; prices INR; sizes units.
"""

from __future__ import annotations

import collections
import logging
from dataclasses import dataclass, field
from typing import Any

import backtrader as bt

from mixbot.venues.openalgo.broker_adopt import AdoptMixin
from mixbot.venues.openalgo.config import OpenAlgoError

log = logging.getLogger(__name__)
DERIVATIVES = ("NFO", "BFO", "MCX", "CDS", "BCD", "NCDEX")


def product_code(product: str, exchange: str) -> str:
    """OpenAlgo product of mixbot's ``trading.product`` on ``exchange``."""
    if product == "intraday":
        return "MIS"
    return "NRML" if exchange in DERIVATIVES else "CNC"


@dataclass
class VenueOrder:
    """One Backtrader order's venue side: tag, order id, filled units, filled value INR."""

    tag: str
    order: bt.Order
    body: dict[str, Any]
    order_id: str | None = None
    filled: int = 0
    value: float = 0.0
    final: bool = False
    oco: list[bt.Order] = field(default_factory=list)


class OpenAlgoBroker(AdoptMixin, bt.BrokerBase):  # type: ignore[misc]
    """Backtrader broker on OpenAlgo (see the module docstring).

    Params:
        rest: :class:`~mixbot.venues.openalgo.config.OpenAlgoRest`.
        symbol, exchange: the instrument (OpenAlgo symbol and exchange).
        product: OpenAlgo product (``MIS``, ``CNC``, ``NRML``).
        strategy: the strategy name sent with each order.
        known_tags: tags an earlier process of this bot may have sent (adopted, not re-sent).
    """

    params = (
        ("rest", None),
        ("symbol", None),
        ("exchange", "NSE"),
        ("product", "MIS"),
        ("strategy", "mixbot"),
        ("known_tags", ()),
    )
    venue_cash = True
    adopts_orders = True

    def __init__(self, **kwargs: Any) -> None:
        super().__init__()
        if self.p.rest is None or not self.p.symbol:
            raise ValueError("OpenAlgoBroker: rest and symbol are required")
        self.rest = self.p.rest
        self.notifs: collections.deque[bt.Order] = collections.deque()
        self.positions: dict[Any, bt.Position] = {}
        self.by_tag: dict[str, VenueOrder] = {}
        self.open_orders: dict[int, VenueOrder] = {}
        self.known_tags: set[str] = set(self.p.known_tags or ())
        self.adopted: list[tuple[str, str]] = []
        self.cash = self.startingcash = 0.0
        self._seen_len: int | None = None

    # ------------------------------------------------------------------ accounting
    def start(self) -> None:
        super().start()
        self._refresh_funds()
        self.startingcash = self.cash

    def stop(self) -> None:
        if self.open_orders:
            self._poll()
        super().stop()

    def _refresh_funds(self) -> None:
        try:
            data = self.rest.call("funds").get("data") or {}
            self.cash = float(data.get("availablecash") or 0.0)
        except (OpenAlgoError, ValueError) as exc:
            log.warning("funds could not be read: %s (keeping %.2f)", exc, self.cash)

    def getcash(self) -> float:
        return self.cash

    def getvalue(self, datas: Any = None) -> float:
        return self.cash + sum(
            pos.size * float(d.close[0]) for d, pos in self.positions.items() if pos.size and len(d)
        )

    def _pos(self, data: Any) -> bt.Position:
        return self.positions.setdefault(data, bt.Position(0, 0.0))

    def getposition(self, data: Any, clone: bool = True) -> bt.Position:
        pos = self._pos(data)
        return pos.clone() if clone else pos

    def set_position(self, data: Any, size: float, price: float) -> None:
        """Restore the position in ``data`` (units, average INR) from a checkpoint."""
        self.positions[data] = bt.Position(size, price)

    @property
    def pending(self) -> list[bt.Order]:
        return [vo.order for vo in self.open_orders.values()]

    def get_notification(self) -> bt.Order | None:
        return self.notifs.popleft() if self.notifs else None

    def notify(self, order: bt.Order) -> None:
        self.notifs.append(order.clone())

    # ------------------------------------------------------------------ orders
    def buy(self, owner: Any, data: Any, size: float, price: float | None = None,
            plimit: float | None = None, exectype: int | None = None, valid: Any = None,
            tradeid: int = 0, oco: Any = None, trailamount: Any = None,
            trailpercent: Any = None, parent: Any = None, transmit: bool = True,
            **kwargs: Any) -> bt.Order:  # fmt: skip
        """Backtrader's ``buy``: a BuyOrder sent to OpenAlgo at once."""
        o = bt.BuyOrder(owner=owner, data=data, size=size, price=price, pricelimit=plimit,
                        exectype=exectype, valid=valid, tradeid=tradeid, oco=oco,
                        trailamount=trailamount, trailpercent=trailpercent)  # fmt: skip
        o.addinfo(**kwargs)
        return self._submit(o, oco)

    def sell(self, owner: Any, data: Any, size: float, price: float | None = None,
             plimit: float | None = None, exectype: int | None = None, valid: Any = None,
             tradeid: int = 0, oco: Any = None, trailamount: Any = None,
             trailpercent: Any = None, parent: Any = None, transmit: bool = True,
             **kwargs: Any) -> bt.Order:  # fmt: skip
        """Backtrader's ``sell``: a SellOrder sent to OpenAlgo at once."""
        o = bt.SellOrder(owner=owner, data=data, size=size, price=price, pricelimit=plimit,
                         exectype=exectype, valid=valid, tradeid=tradeid, oco=oco,
                         trailamount=trailamount, trailpercent=trailpercent)  # fmt: skip
        o.addinfo(**kwargs)
        return self._submit(o, oco)

    def _body(self, order: bt.Order, tag: str) -> dict[str, Any] | None:
        body: dict[str, Any] = {
            "strategy": self.p.strategy, "symbol": self.p.symbol, "exchange": self.p.exchange,
            "action": "BUY" if order.isbuy() else "SELL", "product": self.p.product,
            "quantity": int(round(abs(order.size))), "tag": tag,
        }  # fmt: skip
        if order.exectype in (None, bt.Order.Market, bt.Order.Close):
            body["price_type"] = "MARKET"
        elif order.exectype == bt.Order.Limit:
            body.update(price_type="LIMIT", price=round(float(order.price), 2))
        elif order.exectype == bt.Order.Stop:
            body.update(price_type="SL-M", trigger_price=round(float(order.price), 2))
        else:
            return None
        return body

    def _submit(self, order: bt.Order, oco: Any) -> bt.Order:
        order.addcomminfo(self.getcommissioninfo(order.data))
        tag = str(order.info.get("tag") or f"mixbot-{order.ref}")
        body = self._body(order, tag)
        if body is None:
            log.error(
                "order %s: %s orders are not supported on OpenAlgo yet", tag, order.getordername()
            )
            order.reject(self)
            self.notify(order)
            return order
        order.submit(self)
        self.notify(order)
        vo = VenueOrder(tag, order, body)
        if oco is not None:
            group = next((v for v in self.open_orders.values() if v.order.ref == oco.ref), None)
            if group is not None:
                vo.oco, group.oco = [oco, *group.oco], [*group.oco, order]
        self.by_tag[tag] = vo
        self.open_orders[order.ref] = vo
        if tag in self.known_tags:
            self._adopt(vo)
        else:
            self._place(vo)
        return order

    def _place(self, vo: VenueOrder) -> None:
        try:
            res = self.rest.call("placeorder", **vo.body)
        except OpenAlgoError as exc:
            log.error("order %s refused: %s", vo.tag, exc)
            self._finish(vo, "Rejected")
            return
        vo.order_id = str(res.get("orderid") or "")
        self.known_tags.add(vo.tag)
        vo.order.accept(self)
        self.notify(vo.order)
        log.info("order %s placed: %s %s %s -> %s", vo.tag, vo.body["action"],
                 vo.body["quantity"], vo.body["price_type"], vo.order_id)  # fmt: skip

    def cancel(self, order: bt.Order) -> bool:
        vo = self.open_orders.get(order.ref)
        if vo is None or vo.final or not vo.order_id:
            return False
        try:
            self.rest.call("cancelorder", order_id=vo.order_id, strategy=self.p.strategy)
        except OpenAlgoError as exc:  # e.g. it filled meanwhile: the next poll tells
            log.warning("cancel of %s: %s", vo.tag, exc)
        return True

    # ------------------------------------------------------------------ updates
    def next(self) -> None:
        lens = max((len(vo.order.data) for vo in self.open_orders.values()), default=None)
        if lens is None or lens == self._seen_len:
            return
        self._seen_len = lens
        self._poll()

    def _poll(self) -> None:
        """Read the order and trade books once; apply fills and final statuses."""
        try:
            rows = (self.rest.call("orderbook").get("data") or {}).get("orders") or []
            trades = self.rest.call("tradebook").get("data") or []
        except OpenAlgoError as exc:
            log.warning("order book could not be read: %s (next bar again)", exc)
            return
        self._attach_by_tag(rows)
        by_id = {str(r.get("orderid")): r for r in rows}
        filled = False
        for vo in list(self.open_orders.values()):
            if not vo.order_id:
                continue
            mine = [t for t in trades if str(t.get("orderid")) == vo.order_id]
            qty = sum(int(float(t.get("quantity") or 0)) for t in mine)
            value = sum(
                int(float(t.get("quantity") or 0)) * float(t.get("average_price") or 0)
                for t in mine
            )
            if qty > vo.filled:
                self._execute(vo, qty - vo.filled, (value - vo.value) / (qty - vo.filled))
                vo.filled, vo.value, filled = qty, value, True
            status = str((by_id.get(vo.order_id) or {}).get("order_status") or "").lower()
            if status == "complete" and vo.filled >= int(vo.body["quantity"]):
                self._finish(vo, "Completed")
            elif status == "cancelled":
                self._finish(vo, "Canceled")
            elif status == "rejected":
                self._finish(vo, "Rejected")
        if filled:
            self._refresh_funds()

    def _execute(self, vo: VenueOrder, qty: int, price: float) -> None:
        order = vo.order
        size = qty if order.isbuy() else -qty
        data = order.data
        position = self._pos(data)
        pprice_orig = position.price
        psize, pprice, opened, closed = position.update(size, price)
        ci = order.comminfo or self.getcommissioninfo(data)
        when = float(data.datetime[0]) if len(data) else 0.0
        order.execute(when, size, price, closed, ci.getoperationcost(closed, pprice_orig),
                      ci.getcommission(closed, price), opened, ci.getoperationcost(opened, price),
                      ci.getcommission(opened, price), 0.0,
                      ci.profitandloss(-closed, pprice_orig, price), psize, pprice)  # fmt: skip
        if order.executed.remsize:
            order.partial()
            self.notify(order)

    def _finish(self, vo: VenueOrder, status: str) -> None:
        vo.final = True
        self.open_orders.pop(vo.order.ref, None)
        order = vo.order
        if status == "Completed" and order.status == order.Completed:
            pass  # Backtrader's execute() completes an order filled in full
        elif not order.alive():
            return
        else:
            {"Completed": order.completed, "Canceled": order.cancel}.get(
                status, lambda: order.reject(self)
            )()
        self.notify(order)
        if status == "Completed":
            for other in vo.oco:
                if other.alive():
                    self.cancel(other)
