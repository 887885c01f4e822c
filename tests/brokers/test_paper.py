"""Paper broker fill assumptions, checked with tiny Backtrader runs on real RELIANCE bars.

Rules under test (``mixbot.brokers.paper`` docstring): market orders fill at the next bar's
open; stops fill at the stop (or the open when the bar gaps through it); limits at the
limit (or the open when it gaps better); slippage ``slippage_bps`` against the trader,
never outside the bar's range, rounded to the tick against the trader; cash checked at
submission (Margin); one-cancels-other with the stop-loss first; Indian charges per fill.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

import backtrader as bt
import numpy as np
import pytest

from mixbot.brokers.charges import IndianEquityCharges
from mixbot.brokers.paper import make_broker
from mixbot.feeds.arrayfeed import ArrayFeed
from mixbot.feeds.series import BarSeries, prepare_series

BPS = 5.0
S = BPS / 10_000.0
TICK = 0.05
CASH = 1_000_000.0


def up(p: float) -> float:
    return round(math.ceil(p / TICK - 1e-9) * TICK, 10)


def down(p: float) -> float:
    return round(math.floor(p / TICK + 1e-9) * TICK, 10)


def slip_buy(price: float, high: float) -> float:
    """Expected buy fill: price + slippage, capped at the high, rounded up to the tick."""
    p = min(price * (1 + S), high)
    r = up(p)
    return r if r <= high else down(high)


def slip_sell(price: float, low: float) -> float:
    p = max(price * (1 - S), low)
    r = down(p)
    return r if r >= low else up(low)


@pytest.fixture(scope="module")
def rel(data_dir: Path) -> BarSeries:
    return prepare_series(
        data_dir / "nse_daily/RELIANCE.csv",
        interval_minutes=1440,
        date_from="2008-01-01",
        date_to="2016-12-31",
    )


def piece(s: BarSeries, a: int, b: int) -> BarSeries:
    arrays = {
        f.name: getattr(s, f.name)[a:b]
        for f in dataclasses.fields(s)
        if isinstance(getattr(s, f.name), np.ndarray)
    }
    return dataclasses.replace(s, **arrays)


class Scripted(bt.Strategy):
    """Calls ``plan(strategy, bar_index)`` on each bar and ``on_fill(strategy, order)`` on
    each completed order; records every order notification."""

    params = (("plan", None), ("on_fill", None), ("log", None))

    def next(self) -> None:
        if self.p.plan is not None:
            self.p.plan(self, len(self) - 1)

    def notify_order(self, order: bt.Order) -> None:
        if order.status in (order.Submitted, order.Accepted):
            return
        self.p.log.append(
            {
                "ref": order.ref,
                "status": order.getstatusname(),
                "buy": order.isbuy(),
                "price": order.executed.price,
                "size": order.executed.size,
                "comm": order.executed.comm,
                "dt": order.executed.dt,
                "cash": self.broker.getcash(),
            }
        )
        if order.status == order.Completed and self.p.on_fill is not None:
            self.p.on_fill(self, order)


def run(series: BarSeries, plan: Any = None, on_fill: Any = None) -> tuple[list[dict], Any]:
    log: list[dict] = []
    cerebro = bt.Cerebro(stdstats=False, runonce=False, quicknotify=True)
    cerebro.adddata(ArrayFeed(series=series))
    cerebro.broker = make_broker("paper", CASH, None, BPS, TICK, "delivery")
    cerebro.addstrategy(Scripted, plan=plan, on_fill=on_fill, log=log)
    strat = cerebro.run()[0]
    return log, strat


def bar_of(series: BarSeries, num: float) -> int:
    i = int(np.argmin(np.abs(series.num - num)))
    assert abs(series.num[i] - num) < 1e-6
    return i


def test_market_orders_fill_at_next_open_with_slippage_and_charges(rel: BarSeries) -> None:
    s = piece(rel, 0, 400)

    def plan(st, i):  # type: ignore[no-untyped-def]
        if i % 2 == 0 and not st.position:
            st.buy(size=17)
        elif st.position:
            st.close()

    log, strat = run(s, plan)
    fills = [r for r in log if r["status"] == "Completed"]
    assert len(fills) > 150
    charges = IndianEquityCharges.from_config(None, "delivery")
    cash = CASH
    for r in fills:
        j = bar_of(s, r["dt"])
        o, h, lo = s.open[j], s.high[j], s.low[j]
        if r["buy"]:
            assert j % 2 == 1  # ordered on bar j-1's close, filled on bar j
            assert r["price"] == pytest.approx(slip_buy(o, h), abs=1e-9)
            assert r["price"] >= min(o, down(h))
        else:
            assert r["price"] == pytest.approx(slip_sell(o, lo), abs=1e-9)
            assert r["price"] <= max(o, up(lo))
        assert lo <= r["price"] <= h
        assert abs(round(r["price"] / TICK) * TICK - r["price"]) < 1e-6
        side = "buy" if r["buy"] else "sell"
        want = charges.compute(side, 17, r["price"], "delivery").total
        assert r["comm"] == pytest.approx(want, abs=1e-9)
        cash += -r["size"] * r["price"] - r["comm"]
        assert r["cash"] == pytest.approx(cash, abs=1e-6)


def find(rel: BarSeries, cond, start: int = 5, n: int = 4) -> list[int]:  # type: ignore[no-untyped-def]
    out = [j for j in range(start, len(rel) - 2) if cond(j)]
    assert len(out) >= n, "no such bar in the data"
    return [out[k] for k in np.linspace(0, len(out) - 1, n).round().astype(int)]


def test_stop_loss_wins_when_one_bar_touches_both(rel: BarSeries) -> None:
    o, h, lo = rel.open, rel.high, rel.low
    wide = find(rel, lambda j: h[j] > o[j] * 1.015 and lo[j] < o[j] * 0.985)
    for j in wide:
        s = piece(rel, j - 4, j + 2)
        k = 4  # bar j in the slice
        sl = down((s.open[k] + s.low[k]) / 2)
        tp = up((s.open[k] + s.high[k]) / 2)
        assert s.low[k] <= sl < s.open[k] < tp <= s.high[k]
        refs: dict[str, int] = {}

        def plan(st, i, k=k):  # type: ignore[no-untyped-def]
            if i == k - 2:
                st.buy(size=10)

        def on_fill(st, order, sl=sl, tp=tp, refs=refs):  # type: ignore[no-untyped-def]
            if order.isbuy():
                a = st.sell(size=10, exectype=bt.Order.Stop, price=sl)
                b = st.sell(size=10, exectype=bt.Order.Limit, price=tp, oco=a)
                refs.update(sl=a.ref, tp=b.ref)

        log, strat = run(s, plan, on_fill)
        by_ref = {r["ref"]: r for r in log}
        assert by_ref[refs["sl"]]["status"] == "Completed"
        assert by_ref[refs["tp"]]["status"] == "Canceled"
        assert bar_of(s, by_ref[refs["sl"]]["dt"]) == k
        assert by_ref[refs["sl"]]["price"] == pytest.approx(slip_sell(sl, s.low[k]), abs=1e-9)
        assert strat.position.size == 0


def test_stop_that_gaps_fills_at_the_open(rel: BarSeries) -> None:
    o, lo = rel.open, rel.low
    gaps = find(rel, lambda j: o[j] < lo[j - 1] * 0.985 and o[j] > lo[j])
    for j in gaps:
        s = piece(rel, j - 4, j + 2)
        k = 4
        stop = down((s.open[k] + s.low[k - 1]) / 2)
        assert s.open[k] < stop < s.low[k - 1]
        ref: list[int] = []

        def plan(st, i, k=k):  # type: ignore[no-untyped-def]
            if i == k - 2:
                st.buy(size=10)

        def on_fill(st, order, stop=stop, ref=ref):  # type: ignore[no-untyped-def]
            if order.isbuy():
                ref.append(st.sell(size=10, exectype=bt.Order.Stop, price=stop).ref)

        log, _ = run(s, plan, on_fill)
        r = next(x for x in log if x["ref"] == ref[0])
        assert r["status"] == "Completed" and bar_of(s, r["dt"]) == k
        assert r["price"] == pytest.approx(slip_sell(s.open[k], s.low[k]), abs=1e-9)
        assert r["price"] < stop


def test_limit_sell_gapping_up_stays_inside_the_bar(rel: BarSeries) -> None:
    o, h, lo = rel.open, rel.high, rel.low
    # bars opening at (or within the slippage of) their low, after a gap up
    cases = find(rel, lambda j: o[j] * (1 - S) < lo[j] and lo[j] > h[j - 1] * 1.003, n=2)
    for j in cases:
        s = piece(rel, j - 4, j + 2)
        k = 4
        limit = down(s.high[k - 1])  # below the gap: the open is better than the limit
        ref: list[int] = []

        def plan(st, i, k=k):  # type: ignore[no-untyped-def]
            if i == k - 2:
                st.buy(size=10)

        def on_fill(st, order, limit=limit, ref=ref):  # type: ignore[no-untyped-def]
            if order.isbuy():
                ref.append(st.sell(size=10, exectype=bt.Order.Limit, price=limit).ref)

        log, _ = run(s, plan, on_fill)
        r = next(x for x in log if x["ref"] == ref[0])
        assert r["status"] == "Completed" and bar_of(s, r["dt"]) == k
        assert s.low[k] <= r["price"] <= s.high[k]
        assert r["price"] >= limit
        assert r["price"] == pytest.approx(slip_sell(s.open[k], s.low[k]), abs=1e-9)


def test_order_bigger_than_cash_is_rejected_margin(rel: BarSeries) -> None:
    s = piece(rel, 100, 110)
    too_many = int(CASH / s.close[2] * 1.5)

    def plan(st, i):  # type: ignore[no-untyped-def]
        if i == 2:
            st.buy(size=too_many)

    log, strat = run(s, plan)
    assert [r["status"] for r in log] == ["Margin"]
    assert strat.position.size == 0
    assert strat.broker.getcash() == CASH


def test_stop_limit_buy(rel: BarSeries) -> None:
    o, h, c = rel.open, rel.high, rel.close
    cases = find(rel, lambda j: h[j] > o[j] * 1.02 and abs(o[j] / c[j - 1] - 1) < 0.005)
    for j in cases:
        s = piece(rel, j - 3, j + 3)
        k = 3
        stop = up(s.open[k] * 1.01)
        limit = up(stop * 1.005)
        ref: list[int] = []

        def plan(st, i, k=k, stop=stop, limit=limit, ref=ref):  # type: ignore[no-untyped-def]
            if i == k - 1:
                o_ = st.buy(size=10, exectype=bt.Order.StopLimit, price=stop, plimit=limit)
                ref.append(o_.ref)

        log, _ = run(s, plan)
        r = next(x for x in log if x["ref"] == ref[0])
        assert r["status"] == "Completed" and bar_of(s, r["dt"]) == k
        assert stop <= r["price"] <= limit
        assert r["price"] <= s.high[k]
        assert r["price"] == pytest.approx(slip_buy(stop, min(s.high[k], limit)), abs=1e-9)


def test_stop_limit_not_reached_stays_pending(rel: BarSeries) -> None:
    s = piece(rel, 200, 206)
    stop = up(float(s.high[2:].max()) * 1.01)
    ref: list[int] = []

    def plan(st, i):  # type: ignore[no-untyped-def]
        if i == 1:
            ref.append(st.buy(size=5, exectype=bt.Order.StopLimit, price=stop, plimit=stop).ref)

    log, strat = run(s, plan)
    assert all(r["status"] != "Completed" for r in log)
    assert strat.position.size == 0


@pytest.mark.parametrize("kind", ["paper", "mock"])
def test_cancel_in_the_bar_the_orders_were_placed(rel: BarSeries, kind: str) -> None:
    """Protective orders placed on an entry fill and cancelled in the same bar (an exit
    signal on the fill bar) must never fill later and turn the position short."""
    s = piece(rel, 300, 340)
    refs: list[int] = []

    def plan(st, i):  # type: ignore[no-untyped-def]
        if i == 2:
            st.buy(size=10)

    def on_fill(st, order):  # type: ignore[no-untyped-def]
        if order.isbuy():
            # levels the next bars certainly reach: both would fill on the next bar
            a = st.sell(size=10, exectype=bt.Order.Stop, price=up(float(s.high.max()) * 2))
            b = st.sell(size=10, exectype=bt.Order.Limit, price=down(float(s.low.min()) / 2), oco=a)
            refs.extend([a.ref, b.ref])
            st.cancel(a)
            st.cancel(b)
            st.close()

    log = []
    cerebro = bt.Cerebro(stdstats=False, runonce=False, quicknotify=True)
    cerebro.adddata(ArrayFeed(series=s))
    cerebro.broker = make_broker(kind, CASH, None, BPS, TICK, "delivery")
    cerebro.addstrategy(Scripted, plan=plan, on_fill=on_fill, log=log)
    strat = cerebro.run()[0]
    status = {r["ref"]: r["status"] for r in log}
    assert [status[r] for r in refs] == ["Canceled", "Canceled"]
    assert strat.position.size == 0
    assert sum(r["size"] for r in log if r["status"] == "Completed") == 0


def test_mock_fills_every_order_at_the_signal_bars_close(rel: BarSeries) -> None:
    """``broker.type`` mock: each market order fills at the close of the bar it was sent on,
    unrounded, no slippage, zero charges; cash moves by exactly price x size."""
    s = piece(rel, 0, 200)

    def plan(st, i):  # type: ignore[no-untyped-def]
        if i % 3 == 0 and not st.position:
            st.buy(size=13)
        elif i % 3 == 1 and st.position:
            st.close()

    log: list[dict] = []
    cerebro = bt.Cerebro(stdstats=False, runonce=False, quicknotify=True)
    cerebro.adddata(ArrayFeed(series=s))
    cerebro.broker = make_broker("mock", CASH, None, BPS, TICK, "delivery")
    cerebro.addstrategy(Scripted, plan=plan, log=log)
    cerebro.run()
    fills = [r for r in log if r["status"] == "Completed"]
    assert len(fills) >= 130 and all(r["status"] == "Completed" for r in log)
    cash = CASH
    for r in fills:
        i = bar_of(s, r["dt"])
        signal_bar = 3 * (i // 3) + (0 if r["buy"] else 1)
        assert i == signal_bar  # filled on the bar the order was sent on
        assert r["price"] == float(s.close[i])  # at its close, exactly
        assert r["comm"] == 0.0
        cash -= r["size"] * r["price"]
        assert r["cash"] == pytest.approx(cash, abs=1e-6)
