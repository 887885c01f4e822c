"""UpstoxBroker's order rules against the local Upstox simulator on real BANKNIFTY 1-minute
data: a stuck MARKET exit is cancelled and re-sent at MARKET, one-cancels-other at the venue,
a partial fill followed by a cancel, and an OCO leg that fills partly (the other leg is
reduced at the venue to the position left, or cancelled when that fails).

Holding a MARKET order pending: the simulator fills a MARKET order at the next replayed tick
and has no fault that keeps one from filling (``stall`` only silences the websockets, the
matching engine still runs; ``delay``/``order_errors``/``drop_order_responses`` act on the
HTTP answers). What it does offer: with ``speed=0`` the replay plays only while some
market-data client is subscribed (:mod:`mixbot.simulators.upstox.replay`). :class:`Tape`
drives it with mixbot's own market-data client (:class:`~mixbot.venues.upstox.ws.ws.FeedSocket`):
subscribed = the market moves, unsubscribed = the market stands still and every working
order stays exactly as it is. The broker's clock is a fake (``clock=lambda data: now[0]``),
so "pending past the timeout" needs no real waiting.

The partly filled OCO leg needs the market at given prices at given moments while the broker
runs: there the replay runs at a fixed speed and the prices are chosen from the day's tick
path, which the test computes exactly as the simulator does (:func:`oco_plan`).
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import backtrader as bt
import pytest
from tests.venues.upstox.sim_rig import Rig, Tape, _Data

from mixbot.venues.upstox.execution.orders import round_to_tick
from mixbot.venues.upstox.ws.ws import FeedSocket

sim_mod = pytest.importorskip("mixbot.simulators.upstox")

FILE = "nse_1min/BANKNIFTY_F1_2019H1.txt"
DAY = "2019-01-03"
LOT = 20  # BANKNIFTY lot size of the period (freeze quantity 1200)


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


# ---------------------------------------------------------------- OCO with a partial fill

OCO_SPEED = 1200  # simulated seconds per real second: 8 ticks per 50 ms
OCO_TICKS_PER_S = 8 * OCO_SPEED // 60


@dataclass(frozen=True)
class OcoPlan:
    """Prices for a long position's OCO legs, from the day's tick path (indices into it)."""

    tp: float  # take-profit: a new high of the day, met by ``hits`` ticks from ``first_hit``
    hits: int
    first_hit: int
    stop: float  # stop trigger: below every price until ``trigger`` (well after the hits)
    trigger: int


def day_ticks(sim: Any) -> list[Any]:
    """The day's ticks in replay order: the simulator's own synthesis (same seeds)."""
    rp = sim.replay
    return [tick for _, _, tick in rp._ticks(rp.series[0], rp.days[0])]


def oco_plan(prices: list[float], earliest: int, max_hits: int) -> OcoPlan:
    """A take-profit reached by 1..``max_hits`` ticks in a burst and not again, and a stop
    reached only ``gap`` ticks (2 s at :data:`OCO_SPEED`) after the burst, with ``after``
    ticks without a take-profit price after it (time for the broker's OCO cancel)."""
    gap, after, burst = 2 * OCO_TICKS_PER_S, OCO_TICKS_PER_S, 8
    for first in range(earliest, len(prices)):
        tp = prices[first]
        if max(prices[:first]) >= tp:
            continue
        hits = [i for i in range(first, first + burst) if prices[i] >= tp]
        if len(hits) > max_hits:
            continue
        stop = round_to_tick(min(prices[: hits[-1] + gap + 1]) - 0.05, 0.05)
        trigger = next(
            (i for i in range(hits[-1] + gap + 1, len(prices)) if prices[i] <= stop), None
        )
        if trigger is None or max(prices[hits[-1] + 1 : trigger + after + 1]) >= tp:
            continue
        return OcoPlan(tp, len(hits), first, stop, trigger)
    raise AssertionError("no take-profit/stop prices fit the day's ticks")


class OcoRun:
    """A long position of ``lots`` lots with a stop and a take-profit linked by ``oco=``,
    on a simulator replaying at :data:`OCO_SPEED` from the open; the take-profit fills one
    lot per tick (``partial_fill``) ``plan.hits`` times, then the market falls to the stop."""

    def __init__(self, make_sim: Callable[..., Any], lots: int, **rig: Any) -> None:
        self.sim = sim = make_sim(speed=OCO_SPEED)
        self.key = sim.instruments[0].key
        self.ticks = day_ticks(sim)
        self.ltts = [t.ltt for t in self.ticks]
        self.qty = lots * LOT
        self.plan = oco_plan([t.price for t in self.ticks], OCO_TICKS_PER_S // 2, lots - 1)
        self.rig = Rig(sim, **rig)
        self.data = _Data(float(sim.exchange.ltps()[self.key]))  # the previous close
        self.socket: FeedSocket | None = None
        self.positions: list[int] = []  # the exchange's net position at every look

    def index(self) -> int:
        """Index of the last tick the replay played."""
        return bisect.bisect_right(self.ltts, self.sim.now_ms()) - 1

    def net(self) -> int:
        net = sum(p["quantity"] for p in self.sim.exchange.positions())
        self.positions.append(net)
        return net

    def start(self) -> tuple[bt.Order, bt.Order]:
        """Buy before the open (the entry opens with the session and fills at the first
        tick), start the replay, then place the legs; return (stop, take_profit)."""
        rig, data = self.rig, self.data
        entry = rig.broker.buy(
            SimpleNamespace(), data, size=self.qty, exectype=bt.Order.Market, tag="t:5:entry"
        )
        self.socket = FeedSocket([self.key], "ltpc", on_frame=lambda f: None, max_attempts=3)
        self.socket.start()  # the first subscription starts the replay
        rig.settle(lambda: not entry.alive())
        assert entry.status == entry.Completed and rig.broker.getposition(data).size == self.qty
        stop = rig.broker.sell(
            SimpleNamespace(),
            data,
            size=self.qty,
            exectype=bt.Order.Stop,
            price=self.plan.stop,
            tag="t:5:sl",
        )
        tp = rig.broker.sell(
            SimpleNamespace(),
            data,
            size=self.qty,
            exectype=bt.Order.Limit,
            price=self.plan.tp,
            oco=stop,
            tag="t:5:tp",
        )
        self.sim.faults.partial_fill(0.01)  # one lot per tick
        assert self.index() < self.plan.first_hit, "too slow: the legs came after the market"
        assert (rig.exchange("t:5:sl")["quantity"], rig.exchange("t:5:tp")["quantity"]) == (
            self.qty,
            self.qty,
        )
        return stop, tp

    def close(self) -> None:
        if self.socket is not None:
            self.socket.stop()
        self.rig.close()


def test_oco_partial_fill_reduces_the_other_leg_at_the_exchange(
    make_sim: Callable[..., Any],
) -> None:
    run = OcoRun(make_sim, lots=5)
    rig, sim, plan = run.rig, run.sim, run.plan
    try:
        stop, tp = run.start()
        taken = plan.hits * LOT
        left = run.qty - taken

        # the take-profit fills partly; the broker reduces the stop before the market reaches it
        rig.settle(lambda: rig.exchange("t:5:tp")["filled_quantity"] == taken)
        soon = plan.trigger - OCO_TICKS_PER_S  # one second before the market reaches the stop
        rig.settle(lambda: rig.exchange("t:5:sl")["quantity"] != run.qty or run.index() >= soon)
        sl_row, tp_row = rig.exchange("t:5:sl"), rig.exchange("t:5:tp")
        assert sl_row["quantity"] == left == run.net()  # the stop sells what is left, no more
        assert run.index() < plan.trigger, "too slow: the market reached the stop already"
        assert (sl_row["status"], sl_row["filled_quantity"]) == ("trigger pending", 0)
        assert (tp_row["status"], tp_row["quantity"], tp_row["pending_quantity"]) == (
            "open",
            run.qty,
            left,
        )
        assert sim.exchange.count_orders(tag="t:5:sl") == 1  # modified, not replaced
        assert stop.alive() and tp.alive()
        assert tp.executed.size == -taken and "Partial" in rig.statuses(tp)
        # the stop's Backtrader order: created for the whole position, remsize = working
        assert (stop.created.size, stop.executed.size, stop.executed.remsize) == (
            -run.qty,
            0,
            -left,
        )
        assert rig.broker.getposition(run.data).size == left

        # then the market falls to the stop: it sells the rest, the take-profit is cancelled
        sim.faults.partial_fill(None)
        rig.settle(lambda: run.net() <= 0 and not stop.alive() and not tp.alive(), timeout=15)
        assert run.net() == 0 and min(run.positions) >= 0  # flat, never short
        fills = {o["tag"]: 0 for o in sim.exchange.orders()}
        tags = {o["order_id"]: o["tag"] for o in sim.exchange.orders()}
        for f in sim.exchange.fills():
            fills[tags[f.order_id]] += f.qty
        assert fills == {"t:5:entry": run.qty, "t:5:sl": left, "t:5:tp": taken}
        sl_row, tp_row = rig.exchange("t:5:sl"), rig.exchange("t:5:tp")
        assert (sl_row["status"], sl_row["filled_quantity"]) == ("complete", left)
        assert (tp_row["status"], tp_row["filled_quantity"]) == ("cancelled", taken)
        assert stop.status == stop.Completed and tp.status == tp.Canceled
        assert (stop.executed.size, stop.executed.remsize) == (-left, 0)
        assert tp.executed.size == -taken
        assert rig.broker.getposition(run.data).size == 0
        assert rig.statuses(stop)[-1] == "Completed" and rig.statuses(tp)[-1] == "Canceled"
    finally:
        run.close()


@pytest.mark.parametrize("refusal", ["modify_error", "not_modified"])
def test_oco_leg_that_cannot_be_reduced_is_cancelled(
    make_sim: Callable[..., Any], refusal: str
) -> None:
    # the modify fails (a 5xx, no retry left) or Upstox reports the order "not modified":
    # the stop would sell the whole position, more than is held: it is cancelled
    run = OcoRun(make_sim, lots=5, api={"max_unavailable": 0})
    rig, sim, plan = run.rig, run.sim, run.plan
    try:
        stop, tp = run.start()
        taken = plan.hits * LOT
        if refusal == "modify_error":
            sim.faults.order_errors(1)  # the next order call: the stop's modify
            rig.settle(lambda: rig.exchange("t:5:tp")["filled_quantity"] == taken)
        else:
            rig.settle(lambda: rig.exchange("t:5:sl")["quantity"] == run.qty - taken)
            refused = {**rig.exchange("t:5:sl"), "status": "not modified", "quantity": run.qty}
            rig.broker.updates.put(refused)
        soon = plan.trigger - OCO_TICKS_PER_S  # one second before the market reaches the stop
        rig.settle(lambda: not stop.alive() or run.index() >= soon)
        sl_row = rig.exchange("t:5:sl")
        assert (sl_row["status"], sl_row["filled_quantity"]) == ("cancelled", 0)
        assert stop.status == stop.Canceled and stop.executed.size == 0
        assert run.index() < plan.trigger, "too slow: the market reached the stop already"
        assert tp.alive() and tp.executed.size == -taken
        assert rig.exchange("t:5:tp")["pending_quantity"] == run.qty - taken == run.net()
        assert rig.broker.getposition(run.data).size == run.qty - taken
    finally:
        run.close()
