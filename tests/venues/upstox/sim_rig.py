"""The broker rig of the order-rule tests: the Upstox broker on the local simulator with a
fake clock, and a :class:`Tape` that plays and pauses the simulator's speed-0 replay through
a market-data subscription (see ``test_broker_rules``'s docstring for why)."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import backtrader as bt

from mixbot.venues.upstox.execution.broker import UpstoxBroker
from mixbot.venues.upstox.execution.orders import OrderApi
from mixbot.venues.upstox.http.client import UpstoxClient
from mixbot.venues.upstox.ws.ws import FeedSocket


class _Line(list):  # type: ignore[type-arg]
    def datetime(self, ago: int = 0) -> dt.datetime:
        return bt.num2date(self[ago])


class _Data:
    """A stand-in for the feed: a name, an LTP (:attr:`last_price`), a close."""

    def __init__(self, price: float) -> None:
        self._name = "BANKNIFTY"
        self.last_price = price
        self.close = [price]
        self.datetime = _Line([bt.date2num(dt.datetime(2019, 1, 3, 4, 0))])
        self.p = SimpleNamespace(sessionend=dt.time(23, 59, 59))
        self.date2num = bt.date2num

    def __len__(self) -> int:
        return 1


class Tape:
    """Plays / pauses the simulator's speed-0 replay through a market-data subscription."""

    def __init__(self, sim: Any, key: str) -> None:
        self.sim, self.key = sim, key
        self.ticks = 0
        self.socket = FeedSocket([key], "ltpc", on_frame=self._frame, max_attempts=3)

    def _frame(self, frame: Any) -> None:
        self.ticks += len(frame.ticks)

    def start(self) -> None:
        """Connect (the replay starts at the first subscription), play into the session."""
        self.socket.start()
        self._wait(lambda: self.sim.exchange.session_open and self.ticks > 0, 10)
        self.pause()

    def stop(self) -> None:
        self.socket.stop()

    @property
    def ltp(self) -> float:
        return float(self.sim.exchange.ltps()[self.key])

    def play(self) -> None:
        self._wait(lambda: self.socket.connected, 10)
        self.socket.subscribe([self.key], "ltpc")

    def pause(self) -> None:
        """Unsubscribe and wait until the replay waits for a subscriber (no tick is matched
        after): the simulator says so, no quiet period is timed."""
        self.socket.unsubscribe([self.key])
        self._wait(lambda: self.sim.replay.idle, 30)

    def until(self, cond: Callable[[], bool], timeout: float = 10.0) -> None:
        """Play until ``cond()`` holds, then pause (fails after ``timeout`` seconds)."""
        self.play()
        try:
            self._wait(cond, timeout)
        finally:
            self.pause()

    @staticmethod
    def _wait(cond: Callable[[], bool], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not cond():
            assert time.monotonic() < deadline, "condition not reached in time"
            time.sleep(0.005)


class Rig:
    """An UpstoxBroker on the simulator with a fake clock (``now``, seconds)."""

    def __init__(self, sim: Any, api: dict[str, Any] | None = None, **params: Any) -> None:
        self.sim = sim
        self.now = [1000.0]
        self.client = UpstoxClient()
        params = {
            "exit_timeout_seconds": 30,
            "entry_timeout_seconds": 120,
            "entry_buffer_pct": 0.5,  # entries fill at once: LIMIT 0.5 % through the market
            **params,
        }
        self.broker = UpstoxBroker(
            order_api=OrderApi(self.client, **(api or {})),
            instrument_key=sim.instruments[0].key,
            poll_interval=0,
            stream=False,
            clock=lambda data: self.now[0],
            **params,
        )
        self.broker.start()
        self.notes: list[tuple[int, str]] = []

    def close(self) -> None:
        self.broker.stop()
        self.client.close()

    def settle(self, cond: Callable[[], bool], timeout: float = 10.0) -> None:
        """Call ``broker.next()`` until ``cond()`` holds."""
        deadline = time.monotonic() + timeout
        while True:
            self.broker.next()
            self._collect()
            if cond():
                return
            assert time.monotonic() < deadline, "broker did not settle in time"
            time.sleep(0.02)

    def _collect(self) -> None:
        while (n := self.broker.get_notification()) is not None:
            self.notes.append((n.ref, n.getstatusname()))

    def statuses(self, order: bt.Order) -> list[str]:
        self._collect()
        return [s for ref, s in self.notes if ref == order.ref]

    def exchange(self, tag: str) -> dict[str, Any]:
        (row,) = self.sim.exchange.orders(tag=tag)
        return row

    def go_long(self, tape: Tape, data: _Data, qty: int, tag: str) -> bt.Order:
        """Buy ``qty`` (an entry: LIMIT through the market) and wait for the fill."""
        data.last_price = tape.ltp
        order = self.broker.buy(
            SimpleNamespace(), data, size=qty, exectype=bt.Order.Market, tag=tag
        )
        tape.until(lambda: self.exchange(tag)["status"] == "complete")
        self.settle(lambda: not order.alive())
        assert order.status == order.Completed
        assert self.broker.getposition(data).size == qty
        return order
