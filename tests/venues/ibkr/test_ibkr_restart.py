"""A restart finds its orders again by order ref: the IBKR broker of a process that died
(its connection dropped, its orders left at IB) is replaced by a new one with the stored
tags; re-created orders are adopted from IB (fills executed again, working orders followed
and cancellable), never sent twice; an entry that never reached IB is not chased, an exit
that never reached IB is sent now."""

from __future__ import annotations

import datetime as dt
import time
from types import SimpleNamespace
from typing import Any

import backtrader as bt
import pytest

pytest.importorskip("ib_async")

from mixbot.venues.ibkr.broker import IbkrBroker  # noqa: E402
from mixbot.venues.ibkr.config import IbkrConfig  # noqa: E402
from mixbot.venues.ibkr.session import IbkrSession  # noqa: E402


class _Line(list):  # type: ignore[type-arg]
    def datetime(self, ago: int = 0) -> dt.datetime:
        return bt.num2date(self[ago])


class _Data:
    """A stand-in for the feed: a name, a close, a bar time."""

    def __init__(self, price: float) -> None:
        self._name = "BANKNIFTY"
        self.close = [price]
        self.datetime = _Line([bt.date2num(dt.datetime(2019, 1, 2, 4, 0))])
        self.p = SimpleNamespace(sessionend=dt.time(23, 59, 59))
        self.date2num = bt.date2num

    def __len__(self) -> int:
        return 1


def _broker(sim: Any, known: set[str]) -> tuple[IbkrSession, IbkrBroker]:
    cfg = IbkrConfig(port=sim.port, client_id=21, sec_type="FUT", exchange="NSE", currency="INR")
    session = IbkrSession(cfg)
    broker = IbkrBroker(session=session, symbol="BANKNIFTY", known_tags=known)
    broker.start()
    return session, broker


def _settle(broker: IbkrBroker, cond: Any) -> None:
    """Apply updates until ``cond()`` (a hang guard of 20 s, not a timing)."""
    deadline = time.monotonic() + 20
    while not cond():
        assert time.monotonic() < deadline, "condition not met"
        broker.next()
        time.sleep(0.01)


def _order(
    broker: IbkrBroker, data: Any, side: str, tag: str, exectype: int, price: Any = None
) -> Any:
    fn = broker.buy if side == "BUY" else broker.sell
    return fn(SimpleNamespace(), data, size=20, exectype=exectype, price=price, tag=tag)


def test_restart_adopts_orders_by_order_ref(sim: Any) -> None:
    data = _Data(27_000.0)
    s1, b1 = _broker(sim, set())
    entry = _order(b1, data, "BUY", "r:1:entry", bt.Order.Market)
    stop = _order(b1, data, "SELL", "r:1:sl", bt.Order.Stop, 20_000.0)
    _settle(b1, lambda: entry.status == entry.Completed and stop.status == stop.Accepted)
    assert b1.getposition(data).size == 20
    s1.close()  # the process dies: its orders stay at IB

    known = {"r:1:entry", "r:1:sl", "r:2:entry", "r:2:exit"}
    s2, b2 = _broker(sim, known)
    try:
        e2 = _order(b2, data, "BUY", "r:1:entry", bt.Order.Market)
        st2 = _order(b2, data, "SELL", "r:1:sl", bt.Order.Stop, 20_000.0)
        _settle(b2, lambda: e2.status == e2.Completed and st2.status == st2.Accepted)
        assert e2.executed.size == 20 and e2.executed.price == entry.executed.price
        assert e2.executed.comm == pytest.approx(entry.executed.comm)
        assert b2.getposition(data).size == 20
        gone = _order(b2, data, "BUY", "r:2:entry", bt.Order.Market)
        assert gone.status == gone.Canceled  # never reached IB: not chased
        ex = _order(b2, data, "SELL", "r:2:exit", bt.Order.Market)
        _settle(b2, lambda: ex.status == ex.Completed)
        assert b2.getposition(data).size == 0
        assert b2.cancel(st2)
        _settle(b2, lambda: st2.status == st2.Canceled)
        outcomes = dict(b2.adopted)
        assert outcomes["r:2:entry"] == "absent: entry not chased"
        assert outcomes["r:2:exit"] == "absent: placed now"
        assert outcomes["r:1:sl"].startswith("adopted")
    finally:
        s2.close()
    counts = {ref: len(sim.exchange.by_ref(ref)) for ref in known}
    assert counts == {"r:1:entry": 1, "r:1:sl": 1, "r:2:entry": 0, "r:2:exit": 1}
    assert sim.exchange.by_ref("r:1:sl")[0].status == "Cancelled"
