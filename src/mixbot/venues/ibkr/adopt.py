"""Restart side of :class:`~mixbot.venues.ibkr.broker.IbkrBroker`: the orders an earlier
process of the bot sent are found again by their ``orderRef`` (the bot's tag), never sent
twice.

At connect, ib_async loads what TWS knows of the account: the open orders of this client id
(``reqOpenOrders``), the completed orders (``reqCompletedOrders``: filled and cancelled ones,
with their ``orderRef``) and the day's executions (``reqExecutions``, each with the
``orderRef`` of its order and its commission report). When the restarted strategy re-creates
an order whose tag the store held at start (``known_tags``), the broker does not place it:

- found (a trade with that orderRef): the Backtrader order is attached to it, every
  execution of that orderRef is executed again from zero (the store keeps only what it did
  not hold) and the order takes its current state (working, Completed, Canceled);
- provably absent (the look-up answered without it: the process died between the intent
  and the send): an entry is not chased (Canceled), an exit or protective order is placed now.

Every decision is kept in ``adopted`` as ``(tag, outcome)`` for the audit trail.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import backtrader as bt

if TYPE_CHECKING:
    from mixbot.venues.ibkr.broker import VenueOrder

log = logging.getLogger(__name__)


class BrokerAdoption:
    """Adopts the IB orders of an earlier process (see the module docstring)."""

    if TYPE_CHECKING:  # provided by IbkrBroker
        s: Any
        by_trade: dict[int, VenueOrder]
        known_tags: set[str]
        adopted: list[tuple[str, str]]
        positions: dict[Any, bt.Position]
        contract: Any

        def _place(self, vo: VenueOrder) -> None: ...
        def _finish(self, vo: VenueOrder, status: str) -> None: ...
        def _execute(self, vo: VenueOrder, fill: Any, commission: float) -> None: ...
        def _status(self, vo: VenueOrder, status: str) -> None: ...

    def _lookup(self, tag: str) -> tuple[Any, list[Any]]:
        """``(trade or None, fills)`` with orderRef ``tag`` as ib_async holds them (on the
        session loop; an open order wins over a completed copy of it)."""

        def read() -> tuple[Any, list[Any]]:
            ib = self.s.ib
            trades = [t for t in ib.trades() if t.order.orderRef == tag]
            trades.sort(key=lambda t: (t.isDone(), -t.order.orderId))
            fills = [f for f in ib.fills() if f.execution.orderRef == tag]
            return (trades[0] if trades else None), fills

        result: tuple[Any, list[Any]] = self.s.call(read)
        return result

    def _adopt(self, vo: VenueOrder) -> None:
        """Attach ``vo`` to the IB order with its tag, or decide it never reached IB."""
        trade, fills = self._lookup(vo.tag)
        if trade is None and not fills:
            if vo.kind == "entry":
                log.warning("entry %s never reached IB: not chased (Canceled)", vo.tag)
                self.adopted.append((vo.tag, "absent: entry not chased"))
                self._finish(vo, "Canceled")
            else:
                log.warning("%s order %s never reached IB: placing it now", vo.kind, vo.tag)
                self.adopted.append((vo.tag, "absent: placed now"))
                self._place(vo)
            return
        vo.trade = trade
        if trade is not None:
            self.by_trade[id(trade.order)] = vo
        for f in sorted(fills, key=lambda f: f.execution.execId):
            self._execute(vo, f, float(f.commissionReport.commission or 0.0))
        status = trade.orderStatus.status if trade is not None else "Filled"
        if not vo.final:
            self._status(vo, status)
        outcome = f"adopted orderRef {vo.tag} ({status}, {len(fills)} executions)"
        log.warning("order %s was sent before the restart: %s", vo.tag, outcome)
        self.adopted.append((vo.tag, outcome))

    def set_position(self, data: Any, size: float, price: float) -> None:
        """Set the position of ``data`` (units, average price) from a restored checkpoint;
        adopted orders then bring it to what the bot's own orders did while it was down."""
        self.positions[data] = bt.Position(size, price)

    def sync(self) -> None:
        """Apply every update received so far (after adopting orders)."""
        self._drain()  # type: ignore[attr-defined]

    def venue_position(self, data: Any) -> float | None:
        """The net position IB reports for the contract, in units (contracts x multiplier),
        or None when it cannot be read."""
        con_id = getattr(self.contract, "conId", None)
        mult = float(getattr(self.contract, "multiplier", "") or 1) or 1.0

        def read() -> float:
            return sum(p.position for p in self.s.ib.positions() if p.contract.conId == con_id)

        try:
            return float(self.s.call(read)) * mult
        except Exception as exc:  # noqa: BLE001 - unknown is a valid answer
            log.warning("IB positions could not be read: %s", exc)
            return None
