"""Sliced orders on the Upstox broker against the local simulator (real BANKNIFTY 1-minute
data): a quantity above the freeze quantity comes back as several Upstox orders, one
Backtrader order follows them all.

The simulator's freeze quantity is set to 400 on BANKNIFTY's lot of 20, so an order of 1,000
is sliced 400 + 400 + 200 (3 slices). The ``partial_fill`` fault fills one lot of an open
order per tick and the ``fill_limit`` fault stops the matching after an exact number of
fills, so the slices fill in parts, as many as the test says, however fast the replay runs;
the market is played and paused with the :class:`~tests.venues.upstox.sim_rig.Tape`, and
every assertion compares the broker with the simulator's order book and trade book.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import backtrader as bt
import pytest
from tests.venues.upstox.sim_rig import Rig, Tape, _Data

from mixbot.venues.upstox.execution.broker_fills import exchange_time

sim_mod = pytest.importorskip("mixbot.simulators.upstox")

FILE = "nse_1min/BANKNIFTY_F1_2019H1.txt"
DAY = "2019-01-03"
LOT = 20
FREEZE = 400
QTY = 1000  # 400 + 400 + 200


@pytest.fixture
def tape(data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Tape]:
    sim = sim_mod.Simulator(
        files=[data_dir / FILE],
        port=0,
        tls_dir=tmp_path / "tls",
        speed=0,
        start=DAY,
        end=DAY,
        freeze_quantity=FREEZE,
        cash=50_000_000.0,  # (the stop and the take-profit both sell 1,000: margin for both)
    ).start()
    for k, v in sim.env().items():
        monkeypatch.setenv(k, v)
    t = Tape(sim, sim.instruments[0].key)
    t.start()
    yield t
    t.stop()
    sim.stop()


def play_fills(tape: Tape, tag: str, n: int) -> None:
    """Let exactly ``n`` more fills happen (of any order), playing the market until they did."""
    sim = tape.sim
    target = len(sim.exchange.trades()) + n
    sim.faults.fill_limit(n)
    tape.until(lambda: len(sim.exchange.trades()) >= target, timeout=30)
    assert len(sim.exchange.trades()) == target
    assert book(sim, tag), f"no fill of {tag}"


def rows(sim: Any, tag: str) -> list[dict[str, Any]]:
    return sim.exchange.orders(tag=tag)


def filled(sim: Any, tag: str) -> int:
    return sum(int(r["filled_quantity"]) for r in rows(sim, tag))


def book(sim: Any, tag: str) -> list[dict[str, Any]]:
    """The simulator's trade book rows of the orders with ``tag``."""
    ids = {r["order_id"] for r in rows(sim, tag)}
    return [t for t in sim.exchange.trades() if t["order_id"] in ids]


def assert_fills_are_the_trade_book(rig: Rig, sim: Any, tag: str, order: bt.Order) -> None:
    """Every trade of the tag's slices is one broker fill, at its price and exchange time;
    the Backtrader order's executed size and average are the trade book's, to the paisa."""
    trades = book(sim, tag)
    mine = [f for f in rig.broker.fills if f["tag"] == tag]
    want = sorted(
        (t["order_id"], int(t["quantity"]), float(t["average_price"]), t["exchange_timestamp"])
        for t in trades
    )
    got = sorted((f["order_id"], f["qty"], f["price"], f["time"]) for f in mine)
    assert [(o, q, p) for o, q, p, _ in got] == [(o, q, p) for o, q, p, _ in want]
    assert [t for *_, t in got] == [exchange_time(t).isoformat() for *_, t in want]
    qty = sum(int(t["quantity"]) for t in trades)
    value = sum(int(t["quantity"]) * float(t["average_price"]) for t in trades)
    assert abs(order.executed.size) == qty
    assert round(order.executed.price * qty, 2) == round(value, 2)


def test_a_sliced_entry_fills_in_parts_and_a_cancel_reaches_every_slice(tape: Tape) -> None:
    sim = tape.sim
    sim.faults.partial_fill(0.01)  # one lot of each open order per tick
    rig = Rig(sim, entry_timeout_seconds=600)
    tag = "t:1:entry"
    try:
        data = _Data(tape.ltp)
        order = rig.broker.buy(SimpleNamespace(), data, size=QTY, exectype=bt.Order.Market, tag=tag)
        placed = rows(sim, tag)
        assert sorted(r["quantity"] for r in placed) == [200, 400, 400]
        vo = rig.broker.by_tag[tag]
        assert sorted(vo.slices) == sorted(r["order_id"] for r in placed)

        play_fills(tape, tag, 4)  # one slice has 2 lots, the others 1
        assert filled(sim, tag) == 4 * LOT
        rig.settle(lambda: abs(order.executed.size) == filled(sim, tag))
        assert order.alive() and rig.statuses(order)[-1] == "Partial"
        assert_fills_are_the_trade_book(rig, sim, tag, order)

        assert rig.broker.cancel(order)
        rig.settle(lambda: not order.alive())
        after = rows(sim, tag)
        assert {r["status"] for r in after if r["filled_quantity"] < r["quantity"]} == {"cancelled"}
        assert order.status == order.Canceled
        assert order.executed.remsize == QTY - filled(sim, tag)
        assert rig.broker.getposition(data).size == filled(sim, tag)
        assert_fills_are_the_trade_book(rig, sim, tag, order)
        assert len(rows(sim, tag)) == 3  # nothing sent again
    finally:
        rig.close()


def test_a_sliced_entry_completes_when_every_slice_does(tape: Tape) -> None:
    sim = tape.sim
    sim.faults.partial_fill(0.01)
    rig = Rig(sim, entry_timeout_seconds=600)
    tag = "t:2:entry"
    try:
        data = _Data(tape.ltp)
        order = rig.broker.buy(SimpleNamespace(), data, size=QTY, exectype=bt.Order.Market, tag=tag)
        sim.faults.fill_limit(None)
        tape.until(lambda: filled(sim, tag) == QTY, timeout=30)
        rig.settle(lambda: not order.alive())
        assert {r["status"] for r in rows(sim, tag)} == {"complete"}
        notes = rig.statuses(order)
        assert notes[-1] == "Completed" and notes.count("Completed") == 1
        assert "Partial" in notes
        assert_fills_are_the_trade_book(rig, sim, tag, order)
        assert rig.broker.getposition(data).size == QTY
    finally:
        rig.close()


def test_a_restarted_broker_adopts_every_slice_by_tag(tape: Tape) -> None:
    sim = tape.sim
    sim.faults.partial_fill(0.01)
    tag = "t:3:entry"
    first = Rig(sim, entry_timeout_seconds=600)
    data = _Data(tape.ltp)
    first.broker.buy(SimpleNamespace(), data, size=QTY, exectype=bt.Order.Market, tag=tag)
    first.client.close()  # the process dies: no stop, no last poll
    play_fills(tape, tag, 4)  # fills while nobody watches
    assert filled(sim, tag) == 4 * LOT

    rig = Rig(sim, entry_timeout_seconds=600, known_tags={tag})
    try:
        order = rig.broker.buy(SimpleNamespace(), data, size=QTY, exectype=bt.Order.Market, tag=tag)
        rig.settle(lambda: abs(order.executed.size) == filled(sim, tag))
        assert len(rows(sim, tag)) == 3  # adopted, not placed again
        assert sorted(rig.broker.by_tag[tag].slices) == sorted(
            r["order_id"] for r in rows(sim, tag)
        )
        assert_fills_are_the_trade_book(rig, sim, tag, order)
        assert rig.broker.cancel(order)
        rig.settle(lambda: not order.alive())
        assert order.status == order.Canceled
        assert all(r["status"] in ("cancelled", "complete") for r in rows(sim, tag))
        assert rig.broker.getposition(data).size == filled(sim, tag)
    finally:
        rig.close()


def working(sim: Any, tag: str) -> int:
    """Shares the tag's open slices still have working at the exchange."""
    return sum(
        int(r["quantity"]) - int(r["filled_quantity"])
        for r in rows(sim, tag)
        if r["status"] in ("open", "trigger pending")
    )


def test_a_sliced_take_profit_filling_partly_reduces_the_sliced_stop(tape: Tape) -> None:
    sim = tape.sim
    rig = Rig(sim, entry_timeout_seconds=600)
    try:
        data = _Data(tape.ltp)
        entry = rig.broker.buy(
            SimpleNamespace(), data, size=QTY, exectype=bt.Order.Market, tag="t:4:entry"
        )
        tape.until(lambda: filled(sim, "t:4:entry") == QTY)
        rig.settle(lambda: not entry.alive())
        sim.faults.fill_limit(0)  # nothing fills but what play_fills lets through
        sim.faults.partial_fill(0.5)  # a slice of 400 fills 200 per tick, of 200: 100
        ltp = tape.ltp
        stop = rig.broker.sell(
            SimpleNamespace(), data, size=QTY, exectype=bt.Order.Stop,
            price=round(ltp * 0.9, 1), tag="t:4:stop",
        )  # fmt: skip
        # a take-profit at the market (LIMIT SELL below the LTP fills at its price), in parts
        tp = rig.broker.sell(
            SimpleNamespace(), data, size=QTY, exectype=bt.Order.Limit,
            price=round(ltp * 0.995, 1), oco=stop, tag="t:4:tp",
        )  # fmt: skip
        assert len(rows(sim, "t:4:stop")) == 3 and len(rows(sim, "t:4:tp")) == 3
        rig.settle(lambda: all(r["status"] == "trigger pending" for r in rows(sim, "t:4:stop")))
        for n in (1, 2):  # 200 sold: the stop's slice of 200 goes; 400: one of 400 is modified
            play_fills(tape, "t:4:tp", 1)
            sold = filled(sim, "t:4:tp")
            assert sold == 200 * n
            rig.settle(
                lambda sold=sold: (
                    abs(tp.executed.size) == sold and working(sim, "t:4:stop") == QTY - sold
                )
            )
        # one slice of 200 cancelled whole, one of 400 modified down to 200, one untouched
        stops = sorted((r["quantity"], r["status"]) for r in rows(sim, "t:4:stop"))
        assert stops == [(200, "cancelled"), (200, "trigger pending"), (400, "trigger pending")]
        assert rig.broker.getposition(data).size == QTY - sold
        assert stop.alive() and abs(stop.executed.remsize) == QTY - sold
        assert_fills_are_the_trade_book(rig, sim, "t:4:tp", tp)
        assert tp.alive(), (
            [(r["quantity"], r["status"], r["status_message"]) for r in rows(sim, "t:4:tp")],
            [(x.qty, x.filled, x.status) for x in rig.broker.by_tag["t:4:tp"].slices.values()],
        )
        assert rig.broker.cancel(tp) and rig.broker.cancel(stop)
        rig.settle(lambda: not tp.alive() and not stop.alive())
        assert working(sim, "t:4:stop") == working(sim, "t:4:tp") == 0
    finally:
        rig.close()


def test_a_market_exit_filled_over_many_ticks_is_the_trade_book_to_the_paisa(tape: Tape) -> None:
    # the broker only polls (stream=False) and polls only after several fills: the order
    # book's average moves by several trades at once; the fills must still be the trades
    sim = tape.sim
    rig = Rig(sim, entry_timeout_seconds=600)
    try:
        data = _Data(tape.ltp)
        entry = rig.broker.buy(
            SimpleNamespace(), data, size=QTY, exectype=bt.Order.Market, tag="t:5:entry"
        )
        tape.until(lambda: filled(sim, "t:5:entry") == QTY)
        rig.settle(lambda: not entry.alive())
        sim.faults.partial_fill(0.01)
        exit_ = rig.broker.sell(
            SimpleNamespace(), data, size=QTY, exectype=bt.Order.Market, tag="t:5:exit"
        )
        assert {r["order_type"] for r in rows(sim, "t:5:exit")} == {"MARKET"}
        play_fills(tape, "t:5:exit", 9)  # several ticks, several prices, one poll
        prices = {float(t["average_price"]) for t in book(sim, "t:5:exit")}
        assert len(prices) > 1, "the test needs fills at different prices"
        rig.settle(lambda: abs(exit_.executed.size) == filled(sim, "t:5:exit"))
        assert_fills_are_the_trade_book(rig, sim, "t:5:exit", exit_)
        sim.faults.fill_limit(None)
        tape.until(lambda: filled(sim, "t:5:exit") == QTY, timeout=30)
        rig.settle(lambda: not exit_.alive())
        assert exit_.status == exit_.Completed
        assert_fills_are_the_trade_book(rig, sim, "t:5:exit", exit_)
        assert rig.broker.getposition(data).size == 0
    finally:
        rig.close()
