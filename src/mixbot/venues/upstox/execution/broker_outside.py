"""Positions and orders the bot did not make (a manual trade in the Upstox app, another app on
the same account): found, reported, never adopted. Part of
:class:`~mixbot.venues.upstox.execution.broker.UpstoxBroker`.

The broker's position is the bot's own only: it starts flat (or from the restored checkpoint)
and moves with the fills of the bot's orders. What Upstox reports beyond it for the bot's
instrument and product is OUTSIDE: ``venue net quantity - own quantity`` shares, plus the open
orders on that instrument whose tag is not the bot's. The check (:meth:`check_outside`, one
positions call and one order-book call) runs when :attr:`outside_due` is set: at start, after
every (re)connect of the portfolio stream, and when an update of an order that is not the
bot's arrives for its instrument. The strategy reads :attr:`outside_state` on each bar.

The two venue calls and the bot's own fills are not one snapshot: a fill of the bot's order
between them looks like an outside quantity for a moment. So an observation that differs from
the one before is checked again on the next bar, and only two equal observations in a row
change :attr:`outside_state` (the state reported); :attr:`outside_seen` is the latest
observation, which ``refuse`` already acts on (a moment's false alarm costs one entry, never
an adoption).

What the bot then does is the config's choice (``broker.outside_positions``): ``ignore``
(default ``refuse``): leave it alone and keep it out of the bot's sizing and limits (it is not
part of the bot's position, orders or value), or ``refuse``: no new entries until it is gone.
Either way it is reported (an ``outside_position`` event and audit row per change).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mixbot.venues.upstox.execution.orders import OrderApi
from mixbot.venues.upstox.http.errors import UpstoxError

if TYPE_CHECKING:
    import backtrader as bt

log = logging.getLogger(__name__)

#: Upstox order statuses after which an order is no longer open.
_DONE = {"complete", "cancelled", "rejected"}


@dataclass(frozen=True)
class OutsideState:
    """What the venue holds for the bot's instrument that the bot did not make.

    Attributes:
        qty: outside net quantity, shares (venue net minus the bot's own; signed).
        orders: open orders on the instrument without the bot's tag:
            ``"<order id> <side> <qty> (<tag or no tag>)"``.
    """

    qty: int = 0
    orders: tuple[str, ...] = field(default_factory=tuple)

    @property
    def clear(self) -> bool:
        """Nothing outside the bot."""
        return not self.qty and not self.orders

    def describe(self, symbol: str) -> str:
        """One sentence for logs, refusals and events."""
        parts = []
        if self.qty:
            parts.append(f"a position of {self.qty:+d} {symbol}")
        if self.orders:
            parts.append(f"{len(self.orders)} open order(s) ({'; '.join(self.orders)})")
        return " and ".join(parts) + " not opened by this bot"


class BrokerOutside:
    """The outside check of :class:`~mixbot.venues.upstox.execution.broker.UpstoxBroker`."""

    if TYPE_CHECKING:  # provided by UpstoxBroker
        p: Any
        api: OrderApi
        positions: dict[Any, bt.Position]

        def _key(self, data: Any) -> str: ...

    outside_due: bool = True
    outside_state: OutsideState | None = None
    outside_seen: OutsideState | None = None

    def _own_tag(self, tag: Any) -> bool:
        prefix = str(self.p.tag_prefix or "")
        return bool(prefix) and str(tag or "").startswith(prefix)

    def note_foreign_update(self, row: Mapping[str, Any]) -> None:
        """An order update that is not the bot's: check again when it is on its instrument."""
        token = str(row.get("instrument_token") or row.get("instrument_key") or "")
        key = self.p.instrument_key
        keys = {str(k) for k in key.values()} if isinstance(key, Mapping) else {str(key)}
        if token in keys and not self._own_tag(row.get("tag")):
            self.outside_due = True

    def check_outside(self, data: Any) -> OutsideState | None:
        """Compare the venue's position and open orders for ``data``'s instrument with the
        bot's own; returns the observation and sets :attr:`outside_seen` (and
        :attr:`outside_state` when it repeats the one before: see the module docstring).
        None: the venue could not be read (checked again later)."""
        key, product = self._key(data), str(self.p.product).upper()
        try:
            rows = self.api.positions()
            book = self.api.order_book()
        except UpstoxError as exc:
            log.warning("positions/orders outside the bot could not be read: %s", exc)
            return None
        self.outside_due = False
        net = 0
        for row in rows:
            token = str(row.get("instrument_token") or row.get("instrument_key") or "")
            if token == key and str(row.get("product", product)).upper() == product:
                net += int(row.get("quantity") or 0)
        pos = self.positions.get(data)
        own = int(round(pos.size)) if pos is not None else 0
        orders = tuple(
            f"{o.get('order_id')} {o.get('transaction_type')} {o.get('quantity')} "
            f"({o.get('tag') or 'no tag'})"
            for o in book
            if str(o.get("instrument_token") or "") == key
            and str(o.get("status") or "").lower() not in _DONE
            and not self._own_tag(o.get("tag"))
        )
        state = OutsideState(net - own, orders)
        if state != self.outside_seen:
            self.outside_seen = state
            self.outside_due = True  # confirm on the next bar
        elif state != self.outside_state:
            if not state.clear:
                log.warning("Upstox holds %s", state.describe(key))
            self.outside_state = state
        return state
