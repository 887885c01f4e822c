"""Sliced orders of :class:`~mixbot.venues.upstox.execution.broker.UpstoxBroker`: one Backtrader
order, several Upstox orders.

Upstox's ``POST /v3/order/place`` with ``slice: true`` splits a quantity above the
instrument's freeze quantity (the exchange's largest quantity per order, e.g. BANKNIFTY
options and futures) into several orders and answers with all their ids
(``data.order_ids``, Upstox API docs "Place Order V3"); every slice carries the request's
``tag``. Below the freeze quantity the answer is one id, so the broker always asks for
slicing. Each slice is accounted on its own (:class:`Slice`: status, filled quantity,
average price) and the Backtrader order follows the whole:

- it is Accepted when the first slice is open, Partial while any slice has filled and any is
  still open, and it ends only when EVERY slice is final: Completed when nothing is left
  (all slices complete, or the OCO rule took the rest off), Canceled when a slice was
  cancelled with quantity left, Rejected when none of that applies;
- its fill price is the size-weighted average of all fills of all slices (each fill is
  executed on its own in Backtrader, whose ``executed.price`` is that average);
- a cancel (the strategy's, the stuck-order rule's, a panic's) is sent for every open slice;
  a slice whose cancel failed is retried like an unsent cancel;
- an OCO reduction (:mod:`~mixbot.venues.upstox.execution.broker_oco`) to ``W`` working
  cancels whole slices (largest working first) while they fit in the excess, then modifies
  one slice's quantity down by what is left (Upstox's modify acts on one order id);
- after a restart (:mod:`~mixbot.venues.upstox.execution.broker_adopt`) or a lost place
  answer, every order with the tag is attached: the look-up by tag returns all slices.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mixbot.venues.upstox.http.errors import UpstoxError

if TYPE_CHECKING:
    from mixbot.venues.upstox.execution.broker_updates import VenueOrder
    from mixbot.venues.upstox.execution.orders import OrderApi

log = logging.getLogger(__name__)


@dataclass
class Slice:
    """One Upstox order (a slice) of a :class:`VenueOrder`.

    Attributes:
        order_id: Upstox's order id.
        qty: the slice's quantity at Upstox (shares); 0 until an order row tells it.
        filled: shares filled so far, as executed in Backtrader.
        value: INR value of those fills (sum of quantity x price).
        status: its Backtrader status name (``Submitted`` until a row says otherwise).
        final: complete, cancelled or rejected at Upstox.
        cancel_sent: a cancel of it was accepted (or is on its way).
    """

    order_id: str
    qty: int = 0
    filled: int = 0
    value: float = 0.0
    status: str = "Submitted"
    final: bool = False
    cancel_sent: bool = False

    @property
    def working(self) -> int:
        """Shares still working at Upstox (0 when final or the quantity is unknown)."""
        return 0 if self.final else max(0, self.qty - self.filled)


def aggregate_status(slices: list[Slice]) -> str:
    """The status of a venue order from its slices' statuses (Backtrader names)."""
    statuses = {s.status for s in slices}
    if not slices or statuses == {"Submitted"}:
        return "Submitted"
    if all(s.final for s in slices):
        for name in ("Completed", "Canceled", "Rejected"):
            if statuses == {name}:
                return name
        return "Canceled" if "Canceled" in statuses else "Rejected"
    if any(s.filled for s in slices):
        return "Partial"
    return "Accepted"


class BrokerSlices:
    """Attaches, cancels and reduces the slices of venue orders (see the module docstring)."""

    if TYPE_CHECKING:  # provided by UpstoxBroker
        api: OrderApi
        by_id: dict[str, VenueOrder]
        _resync: bool

    def _attach(self, vo: VenueOrder, order_id: str, qty: int = 0) -> Slice:
        """Register slice ``order_id`` of ``vo`` (idempotent); ``qty`` when known."""
        s = vo.slices.get(order_id)
        if s is None:
            s = vo.slices[order_id] = Slice(order_id, qty)
            self.by_id[order_id] = vo
            if vo.order_id is None:
                vo.order_id = order_id
                vo.order.addinfo(broker_order_id=order_id)
            vo.order.addinfo(broker_order_ids=list(vo.slices))
        elif qty and not s.qty:
            s.qty = qty
        return s

    def _attach_tag(self, vo: VenueOrder, first: str) -> None:
        """A row of ``vo``'s tag with an order id not seen yet (the place answer was lost):
        attach every order with the tag, so no slice is missed when they end."""
        try:
            rows = self.api.find_by_tag(vo.tag)
        except UpstoxError as exc:
            log.warning("slices of %s could not be listed (%s): attaching %s", vo.tag, exc, first)
            rows = []
        self._attach(vo, first)
        for row in rows:
            oid = str(row.get("order_id") or "")
            if oid:
                self._attach(vo, oid, int(row.get("quantity") or 0))

    def _cancel_slices(self, vo: VenueOrder) -> None:
        """Send a cancel for every open slice of ``vo`` not being cancelled yet."""
        for s in vo.slices.values():
            if s.final or s.cancel_sent:
                continue
            s.cancel_sent = True
            try:
                ack = self.api.cancel(s.order_id)
            except UpstoxError as exc:
                log.error("cancel of %s (%s) failed: %s", vo.tag, s.order_id, exc)
                s.cancel_sent = False
                continue
            if ack.already_final:
                log.info("cancel of %s (%s): already %s", vo.tag, s.order_id, ack.final_status)
                self._resync = True
        vo.cancel_sent = all(s.final or s.cancel_sent for s in vo.slices.values())

    def _reduce_slices(self, vo: VenueOrder, excess: int) -> tuple[int, str | None]:
        """Take ``excess`` shares off what ``vo`` has working: cancel whole slices (largest
        working first) while they fit, then lower one slice's quantity (Upstox's modify takes
        the slice's TOTAL quantity, its filled part included).

        Returns:
            ``(taken, why)``: the shares taken off (also after a failure: what was done stays
            done), and None when all of ``excess`` was, else why not.
        """
        live = sorted(
            (s for s in vo.slices.values() if not s.final and not s.cancel_sent),
            key=lambda s: s.working,
            reverse=True,
        )
        if any(not s.qty for s in live):
            return 0, "the quantity of a slice is not known yet"
        taken = 0
        for s in live:
            if excess - taken <= 0:
                break
            if s.working <= excess - taken:
                s.cancel_sent = True
                try:
                    self.api.cancel(s.order_id)
                except UpstoxError as exc:
                    s.cancel_sent = False
                    return taken, f"cancel of slice {s.order_id}: {exc}"
                taken += s.working
        left = excess - taken
        if left <= 0:
            return taken, None
        one = next((s for s in live if not s.cancel_sent and s.working > left), None)
        if one is None:
            return taken, f"no slice holds the {left} shares left to take off"
        try:
            self.api.modify(
                one.order_id,
                order_type=vo.upstox_type,
                price=vo.price,
                trigger_price=vo.trigger,
                qty=one.qty - left,
            )
        except (UpstoxError, ValueError) as exc:
            return taken, f"modify of slice {one.order_id}: {exc}"
        one.qty -= left
        return excess, None


__all__ = ["BrokerSlices", "Slice", "aggregate_status"]
