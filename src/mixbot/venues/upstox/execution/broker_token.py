"""The daily token expiry, broker side (part of
:class:`~mixbot.venues.upstox.execution.broker.UpstoxBroker`).

While the session's :class:`~mixbot.venues.upstox.token_gate.TokenGate` is expired no order
is sent: a new order waits (it stays ``Submitted``, never ``Rejected`` for a dead token), a
cancel waits, the strategy enters nothing (:meth:`entry_block`). Each ``next()`` asks the
gate for a new token (at most every couple of seconds); when there is one, the waiting
orders are placed, the waiting cancels sent, and the order book and positions re-read
(orders that changed while the bot could not see them, trades made outside it).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mixbot.venues.upstox.execution.broker_updates import VenueOrder
    from mixbot.venues.upstox.execution.orders import OrderApi

log = logging.getLogger(__name__)


class BrokerToken:
    """Token-expiry handling of the Upstox broker (see the module docstring)."""

    if TYPE_CHECKING:  # provided by UpstoxBroker
        api: OrderApi
        by_tag: dict[str, VenueOrder]
        _resync: bool
        outside_due: bool

        def _place(
            self, vo: VenueOrder, side: str, qty: int, utype: str, price: float, trigger: float
        ) -> None: ...
        def _cancel_venue(self, vo: VenueOrder, replace: bool = False) -> None: ...
        def _refresh_funds(self, force: bool = False) -> None: ...

        cash: float
        startingcash: float

    #: orders waiting for a usable token: tag -> the arguments of ``_place``
    waiting: dict[str, tuple[str, int, str, float, float]]

    @property
    def gate(self) -> Any:
        """The session's token gate (None: a client without one, as in unit tests)."""
        return getattr(self.api.client, "gate", None)

    def token_expired(self) -> bool:
        """Upstox refused the token and no new one was taken up yet."""
        gate = self.gate
        return gate is not None and gate.expired

    def entry_block(self) -> str | None:
        """Why the strategy must not enter now (None: it may)."""
        gate = self.gate
        return gate.reason if gate is not None and gate.expired else None

    def hold(self, vo: VenueOrder, args: tuple[str, int, str, float, float]) -> None:
        """Keep ``vo`` unsent until the token is usable again."""
        self.waiting[vo.tag] = args
        log.warning("order %s waits for a new Upstox token (not sent)", vo.tag)

    def token_tick(self) -> None:
        """On each ``next()``: while expired, look for a new token; when renewed, send what
        waited and re-read the venue."""
        gate = self.gate
        if gate is None:
            return
        if gate.expired:
            gate.refresh()
        seen = getattr(self, "_renewals_seen", 0)
        if gate.expired or gate.renewals == seen:
            return  # (the feed's thread may have taken the new token up first)
        self._renewals_seen = gate.renewals
        self._resync = True
        self.outside_due = True
        self._refresh_funds(force=True)
        if self.startingcash <= 0:  # started with a dead token: no funds were read
            self.startingcash = self.cash
        waiting, self.waiting = self.waiting, {}
        for tag, args in waiting.items():
            vo = self.by_tag.get(tag)
            if vo is not None and not vo.final:
                log.warning("order %s: sending it with the new token", tag)
                self._place(vo, *args)
        for vo in self.by_tag.values():
            if vo.cancel_wanted and not vo.cancel_sent and not vo.final:
                self._cancel_venue(vo, replace=vo.replace)
