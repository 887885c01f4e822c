"""An entry cancelled after a partial fill (the stuck-entry rule of a live broker) keeps the
filled part as the position: the order manager manages it like a full entry (protective
orders sized to it) instead of leaving shares nobody watches."""

from __future__ import annotations

import datetime as dt
import logging
from types import SimpleNamespace
from typing import Any

import backtrader as bt

from mixbot.orders.manager import EntryFilled, OrderManager


class _Host:
    """The strategy side of the order manager: records the orders placed."""

    def __init__(self) -> None:
        self.placed: list[tuple[str, float, int, float | None, str]] = []

    def place_order(
        self, side: str, size: float, exectype: int, price: float | None, oco: Any, tag: str
    ) -> Any:
        self.placed.append((side, size, exectype, price, tag))
        return SimpleNamespace(ref=100 + len(self.placed), alive=lambda: True)

    def cancel(self, order: Any) -> None:
        pass

    def position_size(self) -> float:
        return 0.0

    def bar_index(self) -> int:
        return 8

    def bar_time(self) -> dt.datetime:
        return dt.datetime(2019, 1, 2, 4, 0)

    def fill_time(self, order: Any, latest: bool = False) -> dt.datetime:
        return self.bar_time()


def _entry(status: int, executed: float) -> Any:
    return SimpleNamespace(
        ref=7,
        status=status,
        Submitted=bt.Order.Submitted,
        Accepted=bt.Order.Accepted,
        Completed=bt.Order.Completed,
        Partial=bt.Order.Partial,
        Canceled=bt.Order.Canceled,
        created=SimpleNamespace(size=140, price=None),
        executed=SimpleNamespace(size=executed, price=27000.0, comm=12.0),
        isbuy=lambda: True,
        alive=lambda: False,
        getstatusname=lambda: bt.Order.Status[status],
        getordername=lambda: "Market",
    )


def _manager(order: Any, host: _Host) -> OrderManager:
    om = OrderManager(host, "b", 0.05, 1.0, 2.0, log=logging.getLogger("test"))
    om.entry_order = order
    om.signal_bar = 7
    om.order_reason[order.ref] = "entry"
    om.order_tag[order.ref] = "b:7:entry"
    return om


def test_partly_filled_entry_cancelled_becomes_the_position() -> None:
    order = _entry(bt.Order.Canceled, 60)
    host = _Host()
    om = _manager(order, host)
    fill = om.on_order(order)
    assert isinstance(fill, EntryFilled)
    assert (fill.size, fill.price, fill.tag) == (60, 27000.0, "b:7:entry")
    assert om.entry_order is None and om.pos_state is not None and om.pos_state.size == 60
    assert om.open_trade is not None and om.open_trade["size"] == 60
    om.protect_entry(fill)
    # stop 1 % under 27000 = 26730, take-profit 2 % over = 27540, both for the 60 shares
    assert host.placed == [
        ("SELL", 60, bt.Order.Stop, 26730.0, "b:7:sl"),
        ("SELL", 60, bt.Order.Limit, 27540.0, "b:7:tp"),
    ]


def test_unfilled_entry_cancelled_leaves_no_position() -> None:
    order = _entry(bt.Order.Canceled, 0)
    host = _Host()
    om = _manager(order, host)
    assert om.on_order(order) is None
    assert om.entry_order is None and om.pos_state is None and om.open_trade is None
    assert host.placed == []
