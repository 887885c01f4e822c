"""Restart side of :class:`~mixbot.venues.openalgo.broker.OpenAlgoBroker`: orders an earlier
process of the same bot sent are found again by their tag, never sent twice.

OpenAlgo's ``placeorder`` has no idempotency key. Every order of the bot carries its client
tag as the extra body field ``tag``; the OpenAlgo simulator echoes it in ``orderbook`` rows.
(Whether a real OpenAlgo server keeps an unknown body field is NOT documented: its order
book comes from the broker behind it. On a server that does not echo ``tag`` a restart
cannot prove an order absent: see the README's "crash recovery" note.)

When the restarted strategy re-creates an order whose tag the store already held
(``known_tags``), the broker reads the order book and

- found (a row with that ``tag``): the Backtrader order is attached to that order id; the
  next poll executes every fill made while the bot was down and moves it to its status;
- absent (the order book answered and has no such tag): an entry is not chased (Canceled),
  an exit or a protective order is placed now;
- the order book cannot be read: the order is Rejected with the reason logged (nothing is
  sent blindly).

Every decision is kept in ``adopted`` as ``(tag, outcome)``.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from mixbot.venues.openalgo.config import OpenAlgoError

if TYPE_CHECKING:
    from mixbot.venues.openalgo.broker import VenueOrder

log = logging.getLogger(__name__)


class AdoptMixin:
    """Adoption by tag (see the module docstring)."""

    if TYPE_CHECKING:
        rest: Any
        p: Any
        adopted: list[tuple[str, str]]
        by_tag: dict[str, VenueOrder]

        def _place(self, vo: VenueOrder) -> None: ...
        def _finish(self, vo: VenueOrder, status: str) -> None: ...
        def notify(self, order: Any) -> None: ...

    def _rows(self) -> list[dict[str, Any]]:
        return list((self.rest.call("orderbook").get("data") or {}).get("orders") or [])

    def _attach_by_tag(self, rows: list[dict[str, Any]]) -> None:
        """Give order ids to orders that have none yet but whose tag is in ``rows``."""
        for row in rows:
            vo = self.by_tag.get(str(row.get("tag") or ""))
            if vo is not None and not vo.order_id and not vo.final:
                vo.order_id = str(row.get("orderid"))

    def _adopt(self, vo: VenueOrder) -> None:
        try:
            rows = self._rows()
        except OpenAlgoError as exc:
            log.error("order %s (sent before the restart?) cannot be looked up: %s", vo.tag, exc)
            self.adopted.append((vo.tag, "lookup failed: rejected"))
            self._finish(vo, "Rejected")
            return
        mine = [r for r in rows if str(r.get("tag") or "") == vo.tag]
        if mine:
            row = mine[-1]
            vo.order_id = str(row.get("orderid"))
            vo.order.accept(self)
            self.notify(vo.order)
            outcome = f"adopted {vo.order_id} ({row.get('order_status')})"
            log.warning("order %s was sent before the restart: %s", vo.tag, outcome)
            self.adopted.append((vo.tag, outcome))
            return
        kind = str(vo.tag).rsplit(":", 1)[-1]
        if kind == "entry" or vo.tag.endswith("entry"):
            log.warning("entry %s never reached OpenAlgo: not chased (Canceled)", vo.tag)
            self.adopted.append((vo.tag, "absent: entry not chased"))
            self._finish(vo, "Canceled")
            return
        log.warning("order %s never reached OpenAlgo: placing it now", vo.tag)
        self.adopted.append((vo.tag, "absent: placed now"))
        self._place(vo)

    def sync(self) -> None:
        """Read the order and trade books now and apply what changed."""
        self._poll()  # type: ignore[attr-defined]

    def venue_position(self, data: Any) -> float | None:
        """Net quantity OpenAlgo's ``positionbook`` reports for the instrument and product,
        or None when it cannot be read."""
        try:
            rows = self.rest.call("positionbook").get("data") or []
        except OpenAlgoError as exc:
            log.warning("positions could not be read: %s", exc)
            return None
        key = (self.p.symbol, self.p.exchange, self.p.product)
        return float(sum(float(r.get("quantity") or 0) for r in rows
                         if (r.get("symbol"), r.get("exchange"), r.get("product")) == key))  # fmt: skip
