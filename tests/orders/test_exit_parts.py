"""A trade closed by several orders: a take-profit that fills partly, then the stop for the
rest. The trade record carries each part; its exit price, PnL and charges are the sums over
the parts; its exit time is the last fill's (the venue's time, not the bar's). And a
checkpoint taken between the parts keeps the first one."""

from __future__ import annotations

import datetime as dt
import json
from types import SimpleNamespace
from typing import Any

import backtrader as bt
from tests.orders.test_order_manager import _Host

from mixbot.orders.manager import OrderManager
from mixbot.strategy.recovery import before_live_fills


class _TimedHost(_Host):
    """The host whose fills carry their own time (``order.when``), like the Upstox broker's."""

    def fill_time(self, order: Any, latest: bool = False) -> dt.datetime:
        return getattr(order, "when", None) or self.bar_time()


def _note(
    order: Any, status: int, size: float, price: float, comm: float, when: dt.datetime
) -> Any:
    return SimpleNamespace(
        ref=order.ref,
        status=status,
        Submitted=bt.Order.Submitted,
        Accepted=bt.Order.Accepted,
        Completed=bt.Order.Completed,
        Partial=bt.Order.Partial,
        executed=SimpleNamespace(size=size, price=price, comm=comm),
        when=when,
    )


T0 = dt.datetime(2019, 3, 4, 4, 0, 0)


def _long_with_protection(host: _TimedHost) -> tuple[OrderManager, Any, Any]:
    om = OrderManager(host, "bot", 0.05, 2.0, 4.0)
    entry = om.enter(100)
    fill = om.on_order(_note(entry, bt.Order.Completed, 100, 250.0, 30.0, T0))
    host.position = 100
    om.protect_entry(fill)  # type: ignore[arg-type]
    stop, tp = om.protect
    return om, stop, tp


def test_a_partly_filled_take_profit_then_the_stop_is_one_trade_of_two_parts() -> None:
    host = _TimedHost()
    om, stop, tp = _long_with_protection(host)
    assert om.open_trade is not None and om.open_trade["entry_time"] == T0

    t1 = T0 + dt.timedelta(minutes=7, seconds=13)
    host.position = 60
    tp.executed = SimpleNamespace(size=-40, price=260.0, comm=11.0)  # (the broker's live order)
    assert om.on_order(_note(tp, bt.Order.Partial, -40, 260.0, 11.0, t1)) is None
    assert om.protect == [stop, tp]  # a partial fill leaves every slot as it was

    snap = json.loads(json.dumps(om.snapshot()))  # a checkpoint between the parts
    tp_spec = next(o for o in snap["orders"] if o["role"] == "take_profit")
    assert (tp_spec["filled"], tp_spec["filled_price"]) == (40.0, 260.0)
    om2 = OrderManager(host, "bot", 0.05, 2.0, 4.0)
    om2.restore(snap)
    stop2 = om2.protect[0]  # the re-sent stop

    t2 = T0 + dt.timedelta(minutes=9, seconds=2)
    host.position = 0
    done = om2.on_order(_note(stop2, bt.Order.Completed, -60, 245.0, 17.0, t2))
    trade = done.trade  # type: ignore[union-attr]
    assert trade is not None and trade.exit_reason == "stop_loss"
    assert trade.size == 100 and trade.entry_time == T0 and trade.exit_time == t2
    assert [(p["role"], p["qty"], p["price"], p["charges"]) for p in trade.exit_parts] == [
        ("take_profit", 40.0, 260.0, 11.0),
        ("stop_loss", 60.0, 245.0, 17.0),
    ]
    assert trade.exit_parts[0]["time"] == t1.isoformat(timespec="milliseconds")
    assert trade.exit_price == (40 * 260.0 + 60 * 245.0) / 100  # 251.0
    assert trade.pnl_gross == 40 * (260.0 - 250.0) + 60 * (245.0 - 250.0)  # 100.0
    assert trade.charges == 30.0 + 11.0 + 17.0
    assert trade.pnl_net == trade.pnl_gross - trade.charges


def test_a_part_notified_again_after_a_restart_counts_once() -> None:
    host = _TimedHost()
    om, stop, tp = _long_with_protection(host)
    t1 = T0 + dt.timedelta(minutes=1)
    host.position = 80
    om.on_order(_note(tp, bt.Order.Partial, -20, 260.0, 5.0, t1))
    om.on_order(_note(tp, bt.Order.Partial, -20, 260.0, 5.0, t1))  # re-executed from zero
    host.position = 0
    done = om.on_order(
        _note(tp, bt.Order.Completed, -100, 260.5, 25.0, t1 + dt.timedelta(seconds=4))
    )
    trade = done.trade  # type: ignore[union-attr]
    assert trade is not None and len(trade.exit_parts) == 1
    assert trade.exit_price == 260.5 and trade.charges == 30.0 + 25.0


def test_the_position_before_the_live_orders_fills() -> None:
    # 100 held at 251 = 60 bought at 250 before, 40 at 252.5 by the live (partial) entry
    assert before_live_fills(
        100, 251.0, [{"side": "BUY", "filled": 40, "filled_price": 252.5}]
    ) == (
        60,
        250.0,
    )
    # 60 held after a live exit sold 40: 100 before it, at the same average
    assert before_live_fills(60, 250.0, [{"side": "SELL", "filled": 40, "filled_price": 260}]) == (
        100,
        250.0,
    )
    assert before_live_fills(40, 252.5, [{"side": "BUY", "filled": 40, "filled_price": 252.5}]) == (
        0,
        0.0,
    )
