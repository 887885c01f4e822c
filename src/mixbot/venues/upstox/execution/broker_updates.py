"""Order-update side of :class:`~mixbot.venues.upstox.execution.broker.UpstoxBroker`: the order-book
poll, the update queue drain, applying an Upstox order update to its slice (the new fills,
exact from the trade book: :mod:`~mixbot.venues.upstox.execution.broker_fills`; the status;
the Backtrader order's end when every slice is final:
:mod:`~mixbot.venues.upstox.execution.broker_slices`), executing fills on the position at
the exchange's fill time, re-sending a stuck exit at MARKET, and the stuck-order check;
plus :class:`VenueOrder`. Each fill of a leg of
a one-cancels-other group is passed on to :mod:`~mixbot.venues.upstox.execution.broker_oco`.

Split out of :mod:`mixbot.venues.upstox.execution.broker` (``UpstoxBroker`` derives from
:class:`BrokerUpdates`; ``broker`` re-exports :class:`VenueOrder`).
"""

from __future__ import annotations

import logging
import queue
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import backtrader as bt

from mixbot.venues.upstox.execution.broker_slices import Slice, aggregate_status
from mixbot.venues.upstox.execution.orders import (
    BT_FINAL,
    OrderApi,
    StuckAction,
    StuckOrderPolicy,
    order_bt_status,
)
from mixbot.venues.upstox.http.errors import UpstoxError

log = logging.getLogger(__name__)


@dataclass
class VenueOrder:
    """The Upstox order(s) behind a Backtrader order under one tag: one order, or the slices
    of one sliced request (:mod:`~mixbot.venues.upstox.execution.broker_slices`); a re-sent
    stuck exit has one of these per link."""

    tag: str
    order: bt.Order
    kind: str  # "entry", "exit" (MARKET exit) or "protect" (stop / take-profit)
    upstox_type: str
    qty: int  # the total quantity at Upstox over all slices (an OCO reduction lowers it)
    sent_at: float
    price: float = 0.0  # LIMIT price / SL-M trigger as sent (a modify repeats them)
    trigger: float = 0.0
    order_id: str | None = None  # the first slice's id (None: no id known yet)
    slices: dict[str, Slice] = field(default_factory=dict)  # order id -> slice
    status: str = "Submitted"
    final: bool = False
    cancel_sent: bool = False
    cancel_wanted: bool = False  # asked before its order id was known
    replace: bool = False
    replaced: int = 0
    superseded: bool = False  # an earlier link of a re-sent exit: its end does not end the order
    history: list[str] = field(default_factory=list)

    @property
    def filled(self) -> int:
        """Shares filled over all slices (as executed in Backtrader)."""
        return sum(s.filled for s in self.slices.values())


class BrokerUpdates:
    """Applies Upstox order updates to the Backtrader orders of an ``UpstoxBroker``."""

    if TYPE_CHECKING:  # provided by UpstoxBroker
        p: Any
        api: OrderApi
        policy: StuckOrderPolicy
        updates: queue.Queue[dict[str, Any]]
        by_tag: dict[str, VenueOrder]
        by_id: dict[str, VenueOrder]
        fills: list[dict[str, Any]]
        _resync: bool
        _last_poll: float
        _funds_dirty: bool

        def _pos(self, data: Any) -> bt.Position: ...
        def note_foreign_update(self, row: Mapping[str, Any]) -> None: ...
        def _now(self, data: Any) -> float: ...
        def notify(self, order: bt.Order) -> None: ...
        def getcommissioninfo(self, data: Any) -> Any: ...
        def _finish(self, order: bt.Order, status: str) -> None: ...
        def _cancel_venue(self, vo: VenueOrder, replace: bool = False) -> None: ...
        def _oco_fill(self, order: bt.Order) -> None: ...
        def _oco_row(self, vo: VenueOrder, s: Slice, row: Mapping[str, Any]) -> None: ...
        def _attach_tag(self, vo: VenueOrder, first: str) -> None: ...
        def _slice_fills(
            self, s: Slice, row: Mapping[str, Any], data: Any
        ) -> list[tuple[int, float, float]]: ...
        def _place(
            self, vo: VenueOrder, side: str, qty: int, utype: str, price: float, trigger: float
        ) -> None: ...

    def _poll(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last_poll < float(self.p.poll_interval):
            return
        self._last_poll = now
        try:
            rows = self.api.order_book()
        except UpstoxError as exc:
            log.warning("order book poll failed: %s", exc)
            return
        self._resync = False
        for row in rows:
            self.updates.put(row)

    def _drain(self) -> None:
        while True:
            try:
                row = self.updates.get_nowait()
            except queue.Empty:
                return
            try:
                self._apply(row)
            except Exception:
                log.exception("order update could not be applied: %r", row)

    def _apply(self, row: Mapping[str, Any]) -> None:
        """One Upstox order row (stream update or order-book line): the slice's new fills,
        its status, and the Backtrader order's when every slice is final."""
        oid = str(row.get("order_id") or "")
        vo = self.by_id.get(oid) if oid else None
        if vo is None:
            vo = self.by_tag.get(str(row.get("tag") or ""))
            if vo is None:  # not ours (another app, or an earlier session)
                self.note_foreign_update(row)
                return
            if not oid:
                return
            self._attach_tag(vo, oid)
            if vo.cancel_wanted:
                self._cancel_venue(vo, replace=vo.replace)
        s = vo.slices[oid]
        if vo.final or s.final:
            return
        if not s.qty:
            s.qty = int(row.get("quantity") or 0)
        status = order_bt_status(row)
        vo.history.append(f"{oid}:{row.get('status')}")
        order = vo.order
        for qty, price, when in self._slice_fills(s, row, order.data):
            self._execute(order, qty, price, row, when)
        self._oco_row(vo, s, row)
        if order.status == order.Submitted and status in ("Accepted", "Partial"):
            order.accept(self)
            self.notify(order)
        s.status = status
        s.final = status in BT_FINAL
        vo.status = aggregate_status(list(vo.slices.values()))
        if not s.final or not all(x.final for x in vo.slices.values()):
            return
        vo.final = True
        if vo.superseded:
            return
        if vo.status == "Completed" or (order.alive() and order.executed.remsize == 0):
            self._finish(order, "Completed")
        elif vo.status == "Canceled" and vo.replace:
            self._replace(vo)
        elif vo.status == "Canceled":
            self._finish(order, "Canceled")
        else:
            log.error("order %s %s: %s", vo.tag, row.get("status"), row.get("status_message"))
            self._finish(order, "Rejected")

    def _execute(
        self, order: bt.Order, qty: int, price: float, row: Mapping[str, Any], when: float
    ) -> None:
        """Execute ``qty`` shares of ``order`` at ``price`` INR at ``when`` (a Backtrader date
        number, UTC: the exchange's time of the fill) on the position."""
        size = qty if order.isbuy() else -qty
        data = order.data
        position = self._pos(data)
        pprice_orig = position.price
        psize, pprice, opened, closed = position.update(size, price)
        comminfo = order.comminfo or self.getcommissioninfo(data)
        closedvalue = comminfo.getoperationcost(closed, pprice_orig)
        closedcomm = comminfo.getcommission(closed, price)
        openedvalue = comminfo.getoperationcost(opened, price)
        openedcomm = comminfo.getcommission(opened, price)
        pnl = comminfo.profitandloss(-closed, pprice_orig, price)
        order.execute(
            when,
            size,
            price,
            closed,
            closedvalue,
            closedcomm,
            opened,
            openedvalue,
            openedcomm,
            0.0,
            pnl,
            psize,
            pprice,
        )
        # Order.execute already marks Partial/Completed: completion is decided by the venue's
        # final status (applied by the caller), so keep the order live until then
        order.status = order.Accepted
        if order.executed.remsize:
            order.partial()
            self.notify(order)
        self._funds_dirty = True
        self.fills.append(
            {
                "order_id": str(row.get("order_id")),
                "tag": row.get("tag"),
                "qty": qty,
                "price": price,
                "time": bt.num2date(when).isoformat(),
            }
        )
        log.info(
            "fill %s: %+d @ %.2f (position %s @ %.2f)", row.get("tag"), size, price, psize, pprice
        )
        self._oco_fill(order)  # the other legs of its OCO group, if any

    def _replace(self, vo: VenueOrder) -> None:
        order = vo.order
        rest = int(round(abs(order.executed.remsize)))
        if rest <= 0:
            self._finish(order, "Completed")
            return
        n = vo.replaced + 1
        base = re.sub(r":r\d+$", "", vo.tag) if vo.replaced else vo.tag
        new = VenueOrder(f"{base}:r{n}", order, "exit", "MARKET", rest, self._now(order.data))
        new.replaced = n
        self.by_tag[new.tag] = new
        log.warning("exit %s stuck: re-sending %d at MARKET as %s", vo.tag, rest, new.tag)
        self._place(new, "BUY" if order.isbuy() else "SELL", rest, "MARKET", 0.0, 0.0)

    def _check_stuck(self) -> None:
        for vo in list(self.by_tag.values()):
            if vo.final or vo.cancel_sent or vo.kind == "protect":
                continue
            age = self._now(vo.order.data) - vo.sent_at
            role = "entry" if vo.kind == "entry" else "exit"
            decision = self.policy.decide(
                role=role, status=vo.status, age_s=age, qty=vo.qty, filled_qty=vo.filled
            )
            if decision.action is StuckAction.WAIT:
                continue
            log.warning("order %s: %s", vo.tag, decision.reason)
            self._cancel_venue(vo, replace=decision.action is StuckAction.CANCEL_AND_REPLACE_MARKET)
