"""UpstoxBroker's order rules against the local Upstox simulator on real BANKNIFTY 1-minute
data: a stuck MARKET exit is cancelled and re-sent at MARKET, one-cancels-other at the venue,
and a partial fill followed by a cancel.

Holding a MARKET order pending: the simulator fills a MARKET order at the next replayed tick
and has no fault that keeps one from filling (``stall`` only silences the websockets, the
matching engine still runs; ``delay``/``order_errors``/``drop_order_responses`` act on the
HTTP answers). What it does offer: with ``speed=0`` the replay plays only while some
market-data client is subscribed (:mod:`mixbot.venues.upstox.sim.replay`). :class:`Tape`
drives it with mixbot's own market-data client (:class:`~mixbot.venues.upstox.ws.FeedSocket`):
subscribed = the market moves, unsubscribed = the market stands still and every working
order stays exactly as it is. The broker's clock is a fake (``clock=lambda data: now[0]``),
so "pending past the timeout" needs no real waiting.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import backtrader as bt
import pytest

from mixbot.venues.upstox.broker import UpstoxBroker
from mixbot.venues.upstox.client import UpstoxClient
from mixbot.venues.upstox.orders import OrderApi, round_to_tick
from mixbot.venues.upstox.ws import FeedSocket

sim_mod = pytest.importorskip("mixbot.venues.upstox.sim")

FILE = "nse_1min/BANKNIFTY_F1_2019H1.txt"
DAY = "2019-01-03"
LOT = 20  # BANKNIFTY lot size of the period (freeze quantity 1200)


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
        """Unsubscribe and wait until the replay stands still (no tick is matched after)."""
        self.socket.unsubscribe([self.key])
        last, still_since = -1, time.monotonic()
        while time.monotonic() - still_since < 0.15:
            now = self.sim.now_ms()
            if now != last:
                last, still_since = now, time.monotonic()
            time.sleep(0.01)

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


@pytest.fixture
def make_sim(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[..., Any]]:
    sims: list[Any] = []

    def make(**kw: Any) -> Any:
        kw = {"speed": 0, "start": DAY, "end": DAY, **kw}
        sim = sim_mod.Simulator(files=[data_dir / FILE], port=0, tls_dir=tmp_path / "tls", **kw)
        sims.append(sim.start())
        for k, v in sim.env().items():
            monkeypatch.setenv(k, v)
        return sim

    yield make
    for sim in sims:
        sim.stop()


@pytest.fixture
def tape(make_sim: Callable[..., Any]) -> Iterator[Tape]:
    sim = make_sim()
    t = Tape(sim, sim.instruments[0].key)
    t.start()
    yield t
    t.stop()


class Rig:
    """An UpstoxBroker on the simulator with a fake clock (``now``, seconds)."""

    def __init__(self, sim: Any, **params: Any) -> None:
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
            order_api=OrderApi(self.client),
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


def test_stuck_market_exit_is_cancelled_and_resent_at_market(tape: Tape) -> None:
    sim = tape.sim
    rig = Rig(sim)
    try:
        data = _Data(tape.ltp)
        rig.go_long(tape, data, 2 * LOT, "t:1:entry")
        exit_ = rig.broker.sell(
            SimpleNamespace(), data, size=2 * LOT, exectype=bt.Order.Market, tag="t:1:exit"
        )
        first = rig.exchange("t:1:exit")
        assert first["order_type"] == "MARKET" and first["transaction_type"] == "SELL"
        assert first["quantity"] == 2 * LOT

        # the market stands still: the MARKET exit stays open at the exchange
        rig.now[0] += 29
        for _ in range(3):
            rig.broker.next()
        assert exit_.alive() and rig.exchange("t:1:exit")["status"] == "open"
        assert sim.exchange.count_orders(tag="t:1:exit:r1") == 0  # not before the timeout

        rig.now[0] += 2  # 31 s > exit_timeout_seconds
        rig.settle(lambda: sim.exchange.count_orders(tag="t:1:exit:r1") == 1)
        old = rig.exchange("t:1:exit")
        assert (old["status"], old["filled_quantity"]) == ("cancelled", 0)
        new = rig.exchange("t:1:exit:r1")
        assert (new["order_type"], new["transaction_type"], new["quantity"]) == (
            "MARKET",
            "SELL",
            2 * LOT,
        )
        assert exit_.alive()  # the Backtrader exit lives on through its replacement

        tape.until(lambda: rig.exchange("t:1:exit:r1")["status"] == "complete")
        rig.settle(lambda: not exit_.alive())
        assert exit_.status == exit_.Completed
        assert exit_.executed.size == -2 * LOT
        assert rig.broker.getposition(data).size == 0
        fills = [f for f in sim.exchange.fills() if f.order_id == new["order_id"]]
        assert sum(f.qty for f in fills) == 2 * LOT
        assert exit_.executed.price == pytest.approx(
            sum(f.qty * f.price for f in fills) / (2 * LOT)
        )
        assert not [f for f in sim.exchange.fills() if f.order_id == old["order_id"]]
        # exactly one replacement, the position at the exchange is flat
        assert sim.exchange.count_orders(tag="t:1:exit:r1") == 1
        assert not [o for o in sim.exchange.orders() if ":r2" in str(o["tag"])]
        assert sum(p["quantity"] for p in sim.exchange.positions()) == 0
        notes = rig.statuses(exit_)
        assert notes[0] == "Submitted" and notes[-1] == "Completed"
        assert "Canceled" not in notes and notes.count("Completed") == 1
    finally:
        rig.close()


def test_exit_stuck_twice_is_resent_as_r2(tape: Tape) -> None:
    sim = tape.sim
    rig = Rig(sim)
    try:
        data = _Data(tape.ltp)
        rig.go_long(tape, data, LOT, "t:4:entry")
        exit_ = rig.broker.sell(
            SimpleNamespace(), data, size=LOT, exectype=bt.Order.Market, tag="t:4:exit"
        )
        rig.now[0] += 31
        rig.settle(lambda: sim.exchange.count_orders(tag="t:4:exit:r1") == 1)
        rig.now[0] += 31  # the replacement is stuck too (the market still stands still)
        rig.settle(lambda: rig.exchange("t:4:exit:r1")["status"] == "cancelled")
        rig.settle(lambda: len([o for o in sim.exchange.orders() if o["tag"] != "t:4:entry"]) == 3)
        tags = [o["tag"] for o in sim.exchange.orders()]
        assert tags == ["t:4:entry", "t:4:exit", "t:4:exit:r1", "t:4:exit:r2"]
        tape.until(lambda: rig.exchange("t:4:exit:r2")["status"] == "complete")
        rig.settle(lambda: not exit_.alive())
        assert exit_.status == exit_.Completed and exit_.executed.size == -LOT
    finally:
        rig.close()


@pytest.mark.parametrize("winner", ["take_profit", "stop"])
def test_oco_fill_cancels_the_other_at_the_exchange(tape: Tape, winner: str) -> None:
    sim = tape.sim
    rig = Rig(sim)
    try:
        data = _Data(tape.ltp)
        rig.go_long(tape, data, 2 * LOT, "t:2:entry")
        ltp = tape.ltp
        # the winner is marketable at once; the loser is 300 points away
        if winner == "stop":  # a SELL SL-M triggers when the price is <= its trigger
            stop_px, tp_px = ltp + 20, ltp + 300
        else:  # a SELL LIMIT fills when the price is >= its limit
            stop_px, tp_px = ltp - 300, ltp - 20
        stop = rig.broker.sell(
            SimpleNamespace(),
            data,
            size=2 * LOT,
            exectype=bt.Order.Stop,
            price=round_to_tick(stop_px, 0.05),
            tag="t:2:sl",
        )
        tp = rig.broker.sell(
            SimpleNamespace(),
            data,
            size=2 * LOT,
            exectype=bt.Order.Limit,
            price=round_to_tick(tp_px, 0.05),
            oco=stop,
            tag="t:2:tp",
        )
        assert rig.exchange("t:2:sl")["order_type"] == "SL-M"
        assert rig.exchange("t:2:tp")["order_type"] == "LIMIT"
        rig.settle(lambda: True)
        assert stop.alive() and tp.alive()

        win_order, win_tag, lose_order, lose_tag = (
            (stop, "t:2:sl", tp, "t:2:tp") if winner == "stop" else (tp, "t:2:tp", stop, "t:2:sl")
        )
        tape.until(lambda: rig.exchange(win_tag)["status"] == "complete")
        # the market stands still now: only the broker can cancel the other one
        assert rig.exchange(lose_tag)["status"] in ("open", "trigger pending")
        rig.settle(lambda: not stop.alive() and not tp.alive())

        assert win_order.status == win_order.Completed
        assert win_order.executed.size == -2 * LOT
        assert lose_order.status == lose_order.Canceled
        assert lose_order.executed.size == 0
        lost = rig.exchange(lose_tag)
        assert (lost["status"], lost["filled_quantity"]) == ("cancelled", 0)
        assert rig.exchange(win_tag)["filled_quantity"] == 2 * LOT
        assert sim.exchange.count_orders(tag=lose_tag) == 1  # cancelled, not re-sent
        assert sim.exchange.count_orders(tag=win_tag) == 1
        assert rig.broker.getposition(data).size == 0
        assert sum(p["quantity"] for p in sim.exchange.positions()) == 0
        assert rig.statuses(win_order)[-1] == "Completed"
        assert rig.statuses(lose_order)[-1] == "Canceled"
        assert "Completed" not in rig.statuses(lose_order)
    finally:
        rig.close()


def test_partial_fill_then_cancel_keeps_the_filled_quantity(
    make_sim: Callable[..., Any],
) -> None:
    # partial fills are paced by the wall clock: at speed 60 a 1-minute bar (8 ticks) lasts
    # one second, and the partial_fill fault fills one lot per tick, so an order of 20 lots
    # needs ~2.5 s to complete; the broker reacts within a few polls
    sim = make_sim(speed=60, wait_for_client=False)
    key = sim.instruments[0].key
    Tape._wait(lambda: sim.exchange.session_open and sim.now_ms() > 0, 10)
    time.sleep(0.3)
    sim.faults.partial_fill(0.01)  # 1 % of 400 -> the minimum: one lot per tick
    rig = Rig(sim, entry_timeout_seconds=60)
    qty = 20 * LOT
    try:
        data = _Data(float(sim.exchange.ltps()[key]))
        order = rig.broker.buy(
            SimpleNamespace(), data, size=qty, exectype=bt.Order.Market, tag="t:3:entry"
        )
        assert rig.exchange("t:3:entry")["order_type"] == "LIMIT"
        rig.settle(lambda: order.executed.size > 0)
        assert order.alive() and rig.statuses(order)[-1] == "Partial"
        rig.now[0] += 61  # the entry is stuck: the broker cancels it, the fills are kept
        rig.settle(lambda: not order.alive())

        row = rig.exchange("t:3:entry")
        assert row["status"] == "cancelled"
        assert 0 < row["filled_quantity"] < qty
        assert order.status == order.Canceled
        assert order.executed.size == row["filled_quantity"]
        assert order.executed.remsize == qty - row["filled_quantity"]
        fills = [f for f in sim.exchange.fills() if f.order_id == row["order_id"]]
        assert sum(f.qty for f in fills) == row["filled_quantity"]
        assert all(f.qty == LOT for f in fills)
        assert rig.broker.getposition(data).size == row["filled_quantity"]
        assert sim.exchange.count_orders(tag="t:3:entry") == 1
        notes = rig.statuses(order)
        assert notes[0] == "Submitted" and "Partial" in notes and notes[-1] == "Canceled"
        assert notes.index("Partial") < notes.index("Canceled")
        assert "Completed" not in notes
    finally:
        rig.close()
