"""The order manager's snapshot is plain JSON and its restore re-creates the same orders
under the same client tags, the take-profit linked one-cancels-other to the stop."""

from __future__ import annotations

import datetime as dt
import json
from types import SimpleNamespace
from typing import Any

import backtrader as bt

from mixbot.orders.manager import OrderManager


class _Host:
    """Places orders as plain objects with Backtrader's fields; holds a position."""

    def __init__(self, position: float = 0.0) -> None:
        self.placed: list[dict[str, Any]] = []
        self.position = position
        self.cancelled: list[int] = []

    def place_order(
        self, side: str, size: float, exectype: int, price: float | None, oco: Any, tag: str
    ) -> Any:
        ref = len(self.placed) + 1
        self.placed.append(
            {
                "side": side,
                "size": size,
                "exectype": exectype,
                "price": price,
                "tag": tag,
                "oco": None if oco is None else oco.ref,
            }
        )
        return SimpleNamespace(
            ref=ref,
            exectype=exectype,
            created=SimpleNamespace(size=size if side == "BUY" else -size, price=price),
            executed=SimpleNamespace(size=0.0, price=0.0, comm=0.0),
            isbuy=lambda: side == "BUY",
            alive=lambda: ref not in self.cancelled,
        )

    def cancel(self, order: Any) -> None:
        self.cancelled.append(order.ref)

    def position_size(self) -> float:
        return self.position

    def bar_index(self) -> int:
        return 41

    def bar_time(self) -> dt.datetime:
        return dt.datetime(2019, 3, 4, 10, 15)

    def fill_time(self, order: Any, latest: bool = False) -> dt.datetime:
        return self.bar_time()


def _filled(order: Any, price: float, size: float) -> Any:
    return SimpleNamespace(
        ref=order.ref,
        status=bt.Order.Completed,
        Submitted=bt.Order.Submitted,
        Accepted=bt.Order.Accepted,
        Completed=bt.Order.Completed,
        Partial=bt.Order.Partial,
        executed=SimpleNamespace(size=size, price=price, comm=20.0),
    )


def test_snapshot_is_json_and_restore_resends_the_protective_pair() -> None:
    host = _Host()
    om = OrderManager(host, "bot", 0.05, 2.0, 4.0)
    entry = om.enter(10)
    fill = om.on_order(_filled(entry, 259.825, 10))
    host.position = 10
    assert fill is not None
    om.protect_entry(fill)  # type: ignore[arg-type]
    snap = json.loads(json.dumps(om.snapshot()))  # plain JSON, no datetimes or orders
    assert [(o["slot"], o["tag"], o["exectype"], o["oco"]) for o in snap["orders"]] == [
        ("protect", "bot:41:sl", "Stop", None),
        ("protect", "bot:41:tp", "Limit", "bot:41:sl"),
    ]
    # stop 2 % under 259.825 = 254.6285 rounded DOWN to 254.60; target 4 % over = 270.218
    # rounded UP to 270.25
    assert [o["price"] for o in snap["orders"]] == [254.6, 270.25]
    assert snap["open_trade"]["entry_time"] == "2019-03-04T10:15:00"

    host2 = _Host(position=10)
    om2 = OrderManager(host2, "bot", 0.05, 2.0, 4.0)
    om2.restore(snap)
    assert [(p["tag"], p["side"], p["size"], p["price"]) for p in host2.placed] == [
        ("bot:41:sl", "SELL", 10, 254.6),
        ("bot:41:tp", "SELL", 10, 270.25),
    ]
    assert host2.placed[1]["oco"] == 1  # the take-profit cancels with the re-sent stop
    assert om2.open_trade is not None
    assert om2.open_trade["entry_time"] == dt.datetime(2019, 3, 4, 10, 15)
    assert om2.snapshot() == snap

    # the stop fills: the take-profit is cancelled and the trade closes
    host2.position = 0
    stop = SimpleNamespace(ref=1)
    done = om2.on_order(_filled(stop, 254.6, 10))
    assert host2.cancelled == [2]
    trade = done.trade  # type: ignore[union-attr]
    assert trade is not None and trade.exit_reason == "stop_loss"
    assert round(trade.pnl_gross, 6) == round((254.6 - 259.825) * 10, 6)
    assert om2.pos_state is None and om2.open_trade is None and not om2.protect
