"""An entry cancelled after a partial fill (the stuck-entry rule of a live broker) keeps the
filled part as the position: the strategy manages it like a full entry (protective orders
sized to it) instead of leaving shares nobody watches."""

from __future__ import annotations

import logging
from types import SimpleNamespace
from typing import Any

import backtrader as bt

from mixbot.strategy.custom import CustomStrategy


class _Owner:
    """The attributes of a running CustomStrategy that ``notify_order`` reads."""

    _same = staticmethod(CustomStrategy._same)

    def __init__(self, entry: Any) -> None:
        self.entry_order = entry
        self.exit_order = None
        self.protect: list[Any] = []
        self.order_reason = {entry.ref: "entry"}
        self.order_tag = {entry.ref: "b:7:entry"}
        self.persist = None
        self.log = logging.getLogger("test")
        self.rt = SimpleNamespace(
            journal=SimpleNamespace(record=lambda *a, **k: None, ist=lambda t: t)
        )
        self.filled: list[float] = []

    def _bar_time(self) -> None:
        return None

    def _on_entry_fill(self, order: Any) -> None:
        self.filled.append(order.executed.size)
        self.entry_order = None


def _entry(status: int, executed: float) -> Any:
    return SimpleNamespace(
        ref=7,
        status=status,
        Submitted=bt.Order.Submitted,
        Accepted=bt.Order.Accepted,
        Completed=bt.Order.Completed,
        Canceled=bt.Order.Canceled,
        created=SimpleNamespace(size=140, price=None),
        executed=SimpleNamespace(size=executed, price=27000.0, comm=12.0),
        isbuy=lambda: True,
        getstatusname=lambda: bt.Order.Status[status],
        getordername=lambda: "Market",
    )


def test_partly_filled_entry_cancelled_becomes_the_position() -> None:
    order = _entry(bt.Order.Canceled, 60)
    s = _Owner(order)
    CustomStrategy.notify_order(s, order)  # type: ignore[arg-type]
    assert s.filled == [60] and s.entry_order is None


def test_unfilled_entry_cancelled_leaves_no_position() -> None:
    order = _entry(bt.Order.Canceled, 0)
    s = _Owner(order)
    CustomStrategy.notify_order(s, order)  # type: ignore[arg-type]
    assert s.filled == [] and s.entry_order is None
