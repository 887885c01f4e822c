"""Crash recovery: a restarted broker finds the orders of the process before it by their tag
in OpenAlgo's order book (adopted, never sent twice), executes the fills made meanwhile, and
decides provably absent ones (an entry is not chased, an exit is placed)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import backtrader as bt
import pytest
from tests.venues.openalgo.oa_rig import FILE

from mixbot.simulators.openalgo import Simulator
from mixbot.venues.openalgo.broker import OpenAlgoBroker
from mixbot.venues.openalgo.config import OpenAlgoConfig, OpenAlgoRest


class _Line(list):  # type: ignore[type-arg]
    def datetime(self, ago: int = 0) -> dt.datetime:
        return bt.num2date(self[ago])


class _Data:
    """A stand-in for the feed: a close and a bar count the test moves."""

    def __init__(self, price: float) -> None:
        self._name = "BANKNIFTY"
        self.close = [price]
        self.datetime = _Line([bt.date2num(dt.datetime(2019, 1, 1, 4, 0))])
        self.p = SimpleNamespace(sessionend=dt.time(23, 59, 59))
        self.n = 1
        self.date2num = bt.date2num

    def __len__(self) -> int:
        return self.n


@pytest.fixture
def sim(data_dir: Path) -> Iterator[Simulator]:
    s = Simulator([str(data_dir / FILE)], end="2019-01-01", wait_for_client=False).start()
    s.step(2)  # LTP 27299.35 (the 09:17 close)
    try:
        yield s
    finally:
        s.stop()


def _broker(sim: Simulator, known: set[str] = frozenset()) -> OpenAlgoBroker:  # type: ignore[assignment]
    rest = OpenAlgoRest(OpenAlgoConfig(sim.host, sim.ws_url, sim.api_key, "t"))
    b = OpenAlgoBroker(rest=rest, symbol="BANKNIFTY", exchange="NFO", known_tags=set(known))
    b.start()
    return b


def test_a_restart_adopts_its_orders_by_tag_and_sends_none_twice(sim: Simulator) -> None:
    data = _Data(27299.35)
    first = _broker(sim)
    first.buy(SimpleNamespace(), data, size=20, exectype=bt.Order.Limit, price=27200.0,
               tag="bot:1:tp")  # fmt: skip
    assert [o["order_status"] for o in sim.orders(tag="bot:1:tp")] == ["open"]
    del first  # the process dies; the order rests at OpenAlgo
    sim.step(3)  # 09:18..09:20: lows above 27200: still open
    assert sim.orders(tag="bot:1:tp")[0]["order_status"] == "open"
    sim.step(20)  # 09:34 trades at 27191.95: filled while the bot is down
    filled = sim.orders(tag="bot:1:tp")[0]
    assert filled["order_status"] == "complete"

    second = _broker(sim, known={"bot:1:tp", "bot:2:entry", "bot:2:exit"})
    tp = second.buy(SimpleNamespace(), data, size=20, exectype=bt.Order.Limit, price=27200.0,
                     tag="bot:1:tp")  # fmt: skip
    assert len(sim.orders(tag="bot:1:tp")) == 1  # adopted, not re-sent
    assert second.adopted[0][0] == "bot:1:tp" and "adopted" in second.adopted[0][1]
    data.n += 1  # the next bar: the broker reads the books
    second.next()
    assert tp.status == tp.Completed
    assert tp.executed.size == 20 and tp.executed.price == pytest.approx(filled["average_price"])
    assert filled["average_price"] == 27200.0  # the path crossed the limit inside the bar

    entry = second.buy(SimpleNamespace(), data, size=20, tag="bot:2:entry")
    assert entry.status == entry.Canceled and sim.orders(tag="bot:2:entry") == []
    exit_ = second.sell(SimpleNamespace(), data, size=20, tag="bot:2:exit")
    assert [o["pricetype"] for o in sim.orders(tag="bot:2:exit")] == ["MARKET"]
    assert exit_.alive()
    assert [a[1].split(" ")[0] for a in second.adopted] == ["adopted", "absent:", "absent:"]
