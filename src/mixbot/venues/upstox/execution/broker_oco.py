"""One-cancels-other side of :class:`~mixbot.venues.upstox.execution.broker.UpstoxBroker`: keeping the
legs of an OCO group (typically a protective ``SL-M`` stop and a take-profit ``LIMIT`` for
the same position, linked with ``oco=``) consistent at Upstox, which has no OCO order.

The rule, applied after every fill of a leg (:meth:`BrokerOco._oco_fill`): each live leg may
have at most ``W = min(created size - fills of the whole group, position it closes)`` shares
working at Upstox, the position it closes being the long for a SELL leg, the short for a BUY
leg, 0 for a leg that would open or add. So the legs together never sell more than the
position, whichever of them fills next:

- a leg completes (its whole remaining size filled): the others are cancelled;
- a leg fills partly: each other leg working more than ``W`` is reduced to ``W`` with
  ``OrderApi.modify`` (Upstox's modify takes the order's TOTAL quantity: its filled part
  plus ``W``), or cancelled when ``W`` is 0; a sliced leg loses whole slices first, then
  one slice is modified (:meth:`~mixbot.venues.upstox.execution.broker_slices.BrokerSlices._reduce_slices`);
- the reduction fails (``UpstoxError``, or a later ``not modified`` row: the exchange refused
  it): the leg is cancelled when what it has working exceeds the position it closes (it could
  over-sell, i.e. turn the position short); otherwise it is kept as it is (it cannot over-sell
  alone, and the cancel on completion still applies) and the error is logged. A cancel of an
  OCO leg that failed is retried every ``poll_interval`` seconds (:meth:`BrokerOco._oco_retry`).

What the Backtrader order of a reduced leg reports: ``order.size`` and ``order.created.size``
stay what the strategy asked for (Backtrader's record of the request); ``order.executed.size``
is what filled; ``order.executed.remsize`` is what is still working at Upstox (the reduction
is taken off it), so a reduced stop that fills its rest ends ``Completed`` with ``remsize`` 0
and ``|executed.size| < |created.size|``: the difference is what the OCO rule took away.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

import backtrader as bt

from mixbot.venues.upstox.execution.orders import OrderApi

if TYPE_CHECKING:
    from collections.abc import Mapping

    from mixbot.venues.upstox.execution.broker_slices import Slice
    from mixbot.venues.upstox.execution.broker_updates import VenueOrder

log = logging.getLogger(__name__)


class BrokerOco:
    """Sizes and cancels the legs of OCO groups at Upstox (see the module docstring)."""

    if TYPE_CHECKING:  # provided by UpstoxBroker
        p: Any
        api: OrderApi
        by_tag: dict[str, VenueOrder]
        oco: dict[int, list[bt.Order]]

        def _pos(self, data: Any) -> bt.Position: ...
        def cancel(self, order: bt.Order) -> bool: ...
        def _cancel_venue(self, vo: VenueOrder, replace: bool = False) -> None: ...
        def _reduce_slices(self, vo: VenueOrder, excess: int) -> tuple[int, str | None]: ...

    _oco_last_retry = 0.0

    def _oco_fill(self, order: bt.Order) -> None:
        """``order`` just filled (partly): apply the rule to the other legs of its group."""
        group = self.oco.get(order.ref)
        if not group:
            return
        done = not order.executed.remsize
        group_filled = sum(abs(int(o.executed.size)) for o in group)
        for leg in group:
            if leg.ref == order.ref or not leg.alive():
                continue
            if done:
                self.cancel(leg)  # as _finish does when Upstox reports the order complete
            else:
                self._oco_resize(leg, group_filled)

    def _oco_live(self, leg: bt.Order) -> VenueOrder | None:
        """The venue order working for ``leg`` (None: none, or being cancelled)."""
        for vo in self.by_tag.values():
            if vo.order.ref == leg.ref and not vo.final and not vo.superseded:
                return None if vo.cancel_wanted else vo
        return None

    def _oco_closable(self, leg: bt.Order) -> int:
        """Shares of the current position that ``leg`` closes (0: it would open or add)."""
        pos = int(self._pos(leg.data).size)
        return max(0, -pos) if leg.isbuy() else max(0, pos)

    def _oco_resize(self, leg: bt.Order, group_filled: int) -> None:
        vo = self._oco_live(leg)
        if vo is None:
            return
        working = vo.qty - vo.filled
        want = max(0, min(abs(int(leg.created.size)) - group_filled, self._oco_closable(leg)))
        if want >= working:
            return
        if want == 0:
            log.warning("OCO %s: nothing left for it to close: cancelled", vo.tag)
            self.cancel(leg)
            return
        if vo.order_id is None:
            self._oco_refused(vo, "its Upstox order id is not known yet")
            return
        taken, why = self._reduce_slices(vo, working - want)
        if taken:
            log.warning(
                "OCO %s: the other leg filled: reduced from %d to %d working (%d filled)",
                vo.tag,
                working,
                working - taken,
                vo.filled,
            )
            self._oco_set_qty(vo, vo.qty - taken)
        if why is not None:
            self._oco_refused(vo, why)

    def _oco_set_qty(self, vo: VenueOrder, total: int) -> None:
        """Upstox now holds ``total`` (filled included) for ``vo``: take the difference off
        the Backtrader order's ``executed.remsize`` (see the module docstring)."""
        change = vo.qty - total  # > 0: reduced
        vo.qty = total
        vo.order.executed.remsize += change if vo.order.issell() else -change

    def _oco_refused(self, vo: VenueOrder, why: str) -> None:
        """The reduction of ``vo`` did not happen: cancel it if it could over-sell."""
        working = vo.qty - vo.filled
        held = self._oco_closable(vo.order)
        if working > held:
            log.error(
                "OCO %s could not be reduced (%s): %d working > %d held: cancelled, the rest "
                "of the position keeps only the other leg(s)",
                vo.tag,
                why,
                working,
                held,
            )
            self.cancel(vo.order)
        else:
            log.error(
                "OCO %s could not be reduced (%s): kept, its %d working cannot exceed the %d held",
                vo.tag,
                why,
                working,
                held,
            )

    def _oco_row(self, vo: VenueOrder, s: Slice, row: Mapping[str, Any]) -> None:
        """A ``not modified`` row of a slice of an OCO leg: the exchange refused a reduction."""
        if vo.order.ref not in self.oco:
            return
        if str(row.get("status") or "").strip().lower() != "not modified":
            return
        qty = int(row.get("quantity") or 0)
        if qty > s.qty:
            back = qty - s.qty
            s.qty = qty
            self._oco_set_qty(vo, vo.qty + back)  # back to what Upstox holds
            self._oco_refused(vo, "not modified by the exchange")

    def _oco_retry(self) -> None:
        """Send again the cancels of OCO legs that failed (throttled by ``poll_interval``)."""
        now = time.monotonic()
        if now - self._oco_last_retry < float(self.p.poll_interval):
            return
        self._oco_last_retry = now
        for vo in list(self.by_tag.values()):
            if (
                vo.cancel_wanted
                and not vo.cancel_sent
                and not vo.final
                and vo.order_id is not None
                and vo.order.ref in self.oco
            ):
                self._cancel_venue(vo, replace=vo.replace)
