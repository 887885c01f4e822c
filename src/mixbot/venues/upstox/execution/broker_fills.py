"""Exact fills of :class:`~mixbot.venues.upstox.execution.broker.UpstoxBroker`: each exchange trade
of an order becomes one Backtrader execution, at the trade's price and time.

An order update (portfolio stream or order book) carries the order's CUMULATIVE
``filled_quantity`` and ``average_price`` and its last ``exchange_timestamp``. Two trades
that happened between two updates (a poll after a reconnect, a restart) show as one change
of the average, whose increment price is not on the tick and whose time is the later trade's.
So when a slice's filled quantity grows, its trades are read (``GET /v2/order/trades?
order_id=``, Upstox API docs "Get Order Trades": one row per trade with ``quantity``,
``average_price`` = the trade's price and ``exchange_timestamp``), in exchange order, and the
ones not executed yet are executed one by one: the store's fills, the Backtrader order's
average and the trade record then equal the venue's trade book to the paisa, with the
exchange's times (IST, to the second, as Upstox gives them).

Which trades are new is decided by quantity, not by id: the trades are sorted by
``(exchange_timestamp, trade_id)`` and the first ones covering the quantity already executed
are skipped (a restarted bot executes them all again from zero, and the store keeps only
what it did not hold). When the trade book is behind the update (or cannot be read), the
rest is executed at the increment price of the averages, ``(avg * filled - value executed)
/ rest``, at the update's time, and a warning is logged.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import backtrader as bt

from mixbot.venues.upstox.execution.order_rules import round_to_tick
from mixbot.venues.upstox.http.errors import UpstoxError

if TYPE_CHECKING:
    from mixbot.venues.upstox.execution.broker_slices import Slice
    from mixbot.venues.upstox.execution.orders import OrderApi

log = logging.getLogger(__name__)

IST = ZoneInfo("Asia/Kolkata")


def exchange_time(value: Any) -> dt.datetime | None:
    """An Upstox timestamp (``"YYYY-MM-DD HH:MM:SS"`` IST, or ISO-8601 with an offset) as a
    naive UTC datetime; None when absent or not a time."""
    if not value:
        return None
    try:
        when = dt.datetime.fromisoformat(str(value).strip())
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=IST)
    return when.astimezone(dt.UTC).replace(tzinfo=None)


def new_trades(trades: Sequence[Mapping[str, Any]], done: int) -> list[tuple[int, float, Any]]:
    """The parts of ``trades`` (one order's trade-book rows) beyond the first ``done`` shares,
    in exchange order, as ``(qty, price INR, exchange_timestamp)``."""
    rows = sorted(
        trades, key=lambda t: (str(t.get("exchange_timestamp") or ""), str(t.get("trade_id")))
    )
    out: list[tuple[int, float, Any]] = []
    cum = 0
    for t in rows:
        qty = int(t.get("quantity") or 0)
        before, cum = cum, cum + qty
        if qty <= 0 or cum <= done:
            continue
        part = cum - max(before, done)
        out.append((part, float(t.get("average_price") or 0.0), t.get("exchange_timestamp")))
    return out


class BrokerFills:
    """Turns a slice's fill increase into exact executions (see the module docstring)."""

    if TYPE_CHECKING:  # provided by UpstoxBroker
        p: Any
        api: OrderApi

    def _slice_fills(
        self, s: Slice, row: Mapping[str, Any], data: Any
    ) -> list[tuple[int, float, float]]:
        """The executions that bring slice ``s`` to the row's filled quantity, as ``(qty,
        price INR, when)`` with ``when`` a Backtrader date number (UTC); ``s.filled`` and
        ``s.value`` advance by them."""
        filled = int(row.get("filled_quantity") or 0)
        if filled <= s.filled:
            return []
        try:
            trades = self.api.order_trades(s.order_id)
        except UpstoxError as exc:
            log.warning("trades of order %s could not be read: %s", s.order_id, exc)
            trades = []
        out: list[tuple[int, float, float]] = []
        for qty, price, ts in new_trades(trades, s.filled):
            out.append((qty, price, self._when(ts, data)))
            s.filled += qty
            s.value += qty * price
        if s.filled < filled:
            rest = filled - s.filled
            avg = float(row.get("average_price") or 0.0)
            px = (avg * filled - s.value) / rest
            # the increment's price derived from two averages: "nearest" (half-up) removes the
            # division's noise; it is an executed price, no side to round against
            px = round_to_tick(px, float(self.p.tick_size), "nearest") if px > 0 else avg
            log.warning(
                "order %s: %d filled beyond its trade book: executed at %.2f from the averages",
                s.order_id,
                rest,
                px,
            )
            out.append((rest, px, self._when(row.get("exchange_timestamp"), data)))
            s.filled, s.value = filled, s.value + rest * px
        return out

    @staticmethod
    def _when(ts: Any, data: Any) -> float:
        """Backtrader date number (UTC) of an exchange timestamp, else of the current bar."""
        when = exchange_time(ts)
        if when is not None:
            return float(bt.date2num(when))
        if len(data):
            return float(data.datetime[0])
        return float(bt.date2num(dt.datetime.now(dt.UTC).replace(tzinfo=None)))


__all__ = ["IST", "BrokerFills", "exchange_time", "new_trades"]
