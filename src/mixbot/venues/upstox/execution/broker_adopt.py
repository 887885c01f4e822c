"""Restart side of :class:`~mixbot.venues.upstox.execution.broker.UpstoxBroker`: adopting the orders an
earlier process of the same bot sent before it died.

Upstox has no idempotency key, so after a crash the only link between the store's order
intents and the exchange is the client ``tag``. When the restarted strategy re-creates an
order whose tag the store already held at start (``known_tags``), the broker does NOT place
it: it looks the tag up (order history by tag, then the order book:
:meth:`~mixbot.venues.upstox.execution.orders.OrderApi.find_by_tag`) and

- found: attaches the Backtrader order to the venue order(s) (every slice of a sliced
  order: :mod:`~mixbot.venues.upstox.execution.broker_slices`) and queues their current rows,
  so the usual update path (:mod:`~mixbot.venues.upstox.execution.broker_updates`) executes every fill
  made while the bot was down and moves the order to its current status. A MARKET exit that
  the stuck-order rule had cancelled and re-sent (``<tag>:r1``, ``:r2`` ...) is followed to
  its newest link; an exit found cancelled with quantity left is re-sent at MARKET.
- provably absent (the look-up answered and the tag is not there: the process died between
  the intent and the send, or the order was from an earlier day): an entry is not chased
  (reported Canceled), an exit or a protective order is placed now.
- the look-up failed: the order stays pending and the next order-book poll attaches it by tag.

Every decision is kept in :attr:`BrokerAdoption.adopted` (tag, outcome) for the audit trail.
"""

from __future__ import annotations

import logging
import queue
from typing import TYPE_CHECKING, Any

import backtrader as bt

from mixbot.venues.upstox.execution.orders import OrderApi, order_bt_status
from mixbot.venues.upstox.http.errors import UpstoxError

if TYPE_CHECKING:
    from mixbot.venues.upstox.execution.broker_updates import VenueOrder

log = logging.getLogger(__name__)

#: Replacement links looked for after a tag (``<tag>:r1`` ... ``<tag>:r<MAX_LINKS>``).
MAX_LINKS = 9


class BrokerAdoption:
    """Adopts the venue orders of an earlier process (see the module docstring)."""

    if TYPE_CHECKING:  # provided by UpstoxBroker
        p: Any
        api: OrderApi
        updates: queue.Queue[dict[str, Any]]
        by_tag: dict[str, VenueOrder]
        by_id: dict[str, VenueOrder]
        known_tags: set[str]
        adopted: list[tuple[str, str]]
        _resync: bool

        positions: dict[Any, bt.Position]

        def _key(self, data: Any) -> str: ...
        def _poll(self, force: bool = False) -> None: ...
        def _drain(self) -> None: ...
        def _finish(self, order: bt.Order, status: str) -> None: ...
        def _attach(self, vo: VenueOrder, order_id: str, qty: int = 0) -> Any: ...
        def _place(
            self, vo: VenueOrder, side: str, qty: int, utype: str, price: float, trigger: float
        ) -> None: ...

    def _chain(self, tag: str) -> list[tuple[str, list[dict[str, Any]]]]:
        """``[(tag, rows), (tag:r1, rows) ...]`` as far as the venue knows them ([] = absent)."""
        chain: list[tuple[str, list[dict[str, Any]]]] = []
        rows = self.api.find_by_tag(tag)
        if not rows:
            return chain
        chain.append((tag, rows))
        for n in range(1, MAX_LINKS + 1):
            link = f"{tag}:r{n}"
            rows = self.api.find_by_tag(link)
            if not rows:
                break
            chain.append((link, rows))
        return chain

    def _adopt(
        self, vo: VenueOrder, side: str, qty: int, utype: str, price: float, trigger: float
    ) -> None:
        """Attach ``vo`` to the venue order(s) with its tag, or decide it was never received."""
        from mixbot.venues.upstox.execution.broker_updates import VenueOrder

        try:
            chain = self._chain(vo.tag)
        except UpstoxError as exc:
            log.error(
                "order %s (sent before the restart?) cannot be looked up: %s; kept pending, "
                "the next order-book poll attaches it by tag",
                vo.tag,
                exc,
            )
            self.adopted.append((vo.tag, "lookup failed"))
            self._resync = True
            return
        if not chain:
            if vo.kind == "entry":
                log.warning("entry %s never reached Upstox: not chased (Canceled)", vo.tag)
                self.adopted.append((vo.tag, "absent: entry not chased"))
                vo.final = True
                self._finish(vo.order, "Canceled")
            else:
                log.warning("%s order %s never reached Upstox: placing it now", vo.kind, vo.tag)
                self.adopted.append((vo.tag, "absent: placed now"))
                self._place(vo, side, qty, utype, price, trigger)
            return
        links = [vo]
        for n, (link_tag, _rows) in enumerate(chain[1:], start=1):
            link = VenueOrder(link_tag, vo.order, "exit", "MARKET", qty, vo.sent_at)
            link.replaced = n
            self.by_tag[link_tag] = link
            links[-1].superseded = True  # its fills count, its end does not end the order
            links.append(link)
        for link, (_tag, rows) in zip(links, chain):
            for row in rows:  # every slice of the tag
                oid = str(row.get("order_id") or "")
                if oid:
                    self._attach(link, oid, int(row.get("quantity") or 0))
            for row in rows:
                self.updates.put(row)
        last_rows = chain[-1][1]
        statuses = sorted({order_bt_status(r) for r in last_rows})
        last = links[-1]
        if last.kind == "exit" and statuses == ["Canceled"]:
            last.replace = True  # cancelled by the stuck rule, the re-send was lost with us
        outcome = f"adopted {[str(r.get('order_id')) for r in last_rows]} ({', '.join(statuses)})"
        log.warning("order %s was sent before the restart: %s", last.tag, outcome)
        self.adopted.append((vo.tag, outcome))
        self.known_tags.update(link.tag for link in links)

    def set_position(self, data: Any, size: float, price: float) -> None:
        """Set the position of ``data`` (shares, average price INR) from a restored checkpoint
        (adopted orders then bring it to what the bot's own orders did while it was down)."""
        self.positions[data] = bt.Position(size, price)

    def sync(self) -> None:
        """Read the order book now and apply every update (after adopting orders)."""
        self._poll(force=True)
        self._drain()

    def venue_position(self, data: Any) -> int | None:
        """Net quantity Upstox reports for ``data``'s instrument and this product, or None
        when the positions cannot be read."""
        try:
            rows = self.api.positions()
        except UpstoxError as exc:
            log.warning("positions could not be read: %s", exc)
            return None
        key, product = self._key(data), str(self.p.product).upper()
        qty = 0
        for row in rows:
            token = str(row.get("instrument_token") or row.get("instrument_key") or "")
            if token == key and str(row.get("product", product)).upper() == product:
                qty += int(row.get("quantity") or 0)
        return qty
