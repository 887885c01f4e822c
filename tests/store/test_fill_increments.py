"""Fills reach the store as increments: Backtrader reports an order's executed size, price
and commission CUMULATIVELY (a live broker notifies Partial, Partial, ..., Completed), and a
restarted process may be told the same fill again (an order adopted from the venue)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import backtrader as bt
import pytest

from mixbot.store.repository import Store
from mixbot.strategy.persistence import Persistence

T = dt.datetime(2019, 1, 1, 4, 0)


def _order(status: int, size: float, price: float, comm: float) -> Any:
    """A notified order clone: cumulative ``executed`` (size, average price, commission)."""
    return SimpleNamespace(
        status=status,
        Partial=bt.Order.Partial,
        Completed=bt.Order.Completed,
        executed=SimpleNamespace(size=size, price=price, comm=comm),
        created=SimpleNamespace(size=10.0, price=None),
        info={"broker_order_id": "OID-1"},
        isbuy=lambda: True,
        getstatusname=lambda: bt.Order.Status[status],
    )


@pytest.fixture
def store(tmp_path: Path) -> Any:
    s = Store(f"sqlite:///{tmp_path / 's.sqlite'}", "inc", "live")
    s.register("h", "cfg.json")
    s.record_intent(
        "inc:1:entry",
        symbol="X",
        role="entry",
        side="BUY",
        order_type="Market",
        qty=20,
        price=None,
        bar_index=1,
        bar_time=T,
    )
    yield s
    s.close()


def test_cumulative_partials_become_increments(store: Store) -> None:
    p = Persistence(store, "X")
    p.on_order(_order(bt.Order.Partial, 5, 100.0, 1.0), "inc:1:entry", T)
    p.on_order(_order(bt.Order.Partial, 5, 100.0, 1.0), "inc:1:entry", T)  # told twice
    p.on_order(_order(bt.Order.Completed, 20, 101.5, 4.0), "inc:1:entry", T)
    assert store.fills() == []  # noted: they commit with the bar's unit of work
    p.flush()
    fills = [(f["seq"], f["qty"], f["price"], f["commission"]) for f in store.fills()]
    # 5 @ 100, then 15 @ (20*101.5 - 5*100) / 15 = 102.0
    assert fills == [(1, 5.0, 100.0, 1.0), (2, 15.0, pytest.approx(102.0), 3.0)]
    row = store.orders()[0]
    assert row["qty_filled"] == 20.0 and row["avg_fill_price"] == pytest.approx(101.5)
    assert row["status"] == "Completed" and row["broker_order_id"] == "OID-1"


def test_a_restarted_process_adds_only_what_is_new(store: Store) -> None:
    first = Persistence(store, "X")
    first.on_order(_order(bt.Order.Partial, 5, 100.0, 1.0), "inc:1:entry", T)
    first.flush()
    again = Persistence(store, "X")  # a new process: knows nothing but the store
    again.on_order(_order(bt.Order.Partial, 5, 100.0, 1.0), "inc:1:entry", T)
    again.flush()
    assert len(store.fills()) == 1
    again.on_order(_order(bt.Order.Completed, 20, 101.5, 4.0), "inc:1:entry", T)
    again.flush()
    assert [f["qty"] for f in store.fills()] == [5.0, 15.0]
    assert store.fill_totals("inc:1:entry") == (20.0, pytest.approx(2030.0), 4.0, 2)
