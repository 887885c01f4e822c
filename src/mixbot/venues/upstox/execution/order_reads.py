"""Read calls of :class:`~mixbot.venues.upstox.execution.orders.OrderApi` on the normal API host
(order book, history, details, trades, positions, holdings, funds).

Split out of :mod:`mixbot.venues.upstox.execution.orders` (``OrderApi`` derives from
:class:`OrderReads`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mixbot.venues.upstox.http.client import UpstoxClient
from mixbot.venues.upstox.http.order_endpoints import (
    FUNDS_PATH,
    HOLDINGS_PATH,
    ORDER_BOOK_PATH,
    ORDER_DETAILS_PATH,
    ORDER_HISTORY_PATH,
    ORDER_TRADES_PATH,
    POSITIONS_PATH,
    TRADES_PATH,
)
from mixbot.venues.upstox.http.order_transport import _data


class OrderReads:
    """The read calls (they use the client's own retries); mixed into ``OrderApi``."""

    client: UpstoxClient

    # ------------------------------------------------------------------ reads (normal host)

    def _get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        return _data(self.client.get(path, params=params))

    def order_book(self) -> list[dict[str, Any]]:
        """Today's orders (``GET /v2/order/retrieve-all``), latest status of each."""
        return list(self._get(ORDER_BOOK_PATH) or [])

    def order_history(
        self, order_id: str | None = None, tag: str | None = None
    ) -> list[dict[str, Any]]:
        """Status progression of an order by id and/or of every order with ``tag``
        (``GET /v2/order/history``)."""
        if not order_id and not tag:
            raise ValueError("order_history needs order_id or tag")
        params: dict[str, str] = {}
        if order_id:
            params["order_id"] = str(order_id)
        if tag:
            params["tag"] = str(tag)
        return list(self._get(ORDER_HISTORY_PATH, params) or [])

    def order_details(self, order_id: str) -> dict[str, Any]:
        """Latest status of one order (``GET /v2/order/details``)."""
        data = self._get(ORDER_DETAILS_PATH, {"order_id": str(order_id)})
        return dict(data or {})

    def trades_for_day(self) -> list[dict[str, Any]]:
        """Today's fills (``GET /v2/order/trades/get-trades-for-day``)."""
        return list(self._get(TRADES_PATH) or [])

    def order_trades(self, order_id: str) -> list[dict[str, Any]]:
        """The fills (exchange trades) of one order (``GET /v2/order/trades?order_id=``): a
        row per trade with ``quantity``, ``average_price`` (the trade's price, INR),
        ``exchange_timestamp`` (IST) and ``trade_id``."""
        return list(self._get(ORDER_TRADES_PATH, {"order_id": str(order_id)}) or [])

    def positions(self) -> list[dict[str, Any]]:
        """Short-term (intraday + today's delivery) positions
        (``GET /v2/portfolio/short-term-positions``); ``quantity`` is the net quantity."""
        return list(self._get(POSITIONS_PATH) or [])

    def holdings(self) -> list[dict[str, Any]]:
        """Long-term holdings (``GET /v2/portfolio/long-term-holdings``)."""
        return list(self._get(HOLDINGS_PATH) or [])

    def funds(self, segment: str | None = None) -> dict[str, Any]:
        """Funds and margin (``GET /v2/user/get-funds-and-margin``; ``segment`` SEC or COM)."""
        params = {"segment": segment} if segment else None
        return dict(self._get(FUNDS_PATH, params) or {})
