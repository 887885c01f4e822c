"""The Binance feed: only closed candles reach the strategy (never the opening update of the
candle in progress), equal to the file's bars; a dropped socket is back-filled from REST
klines so the bars after it are the bars of a run without it. The test drives the
simulator's clock (speed 0)."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import backtrader as bt
import pytest
from tests.venues.binance.rig import wait_until

from mixbot.venues.binance.config import BinanceConfig
from mixbot.venues.binance.feed import BinanceFeed


def _run(sim: Any, stop_after: dt.date | None, **kw: Any) -> tuple[BinanceFeed, list[Any], Any]:
    bc = BinanceConfig.from_dict({"api_url": sim.api_url, "ws_url": sim.ws_url,
                                  "close_grace_s": None})  # fmt: skip
    feed = BinanceFeed(symbol="BTCUSDT", binance=bc, stop_after=stop_after, qcheck=0.1,
                       backoff_initial=0.05, **kw)  # fmt: skip
    bars: list[Any] = []

    class Rec(bt.Strategy):
        def next(self) -> None:
            d = self.data
            bars.append((bt.num2date(d.datetime[0]), d.open[0], d.high[0], d.low[0],
                         d.close[0], d.volume[0]))  # fmt: skip

    cerebro = bt.Cerebro(stdstats=False, preload=False, runonce=False)
    cerebro.adddata(feed)
    cerebro.addstrategy(Rec)
    th = threading.Thread(target=cerebro.run, daemon=True)
    th.start()
    return feed, bars, th


def _file_bars(sim: Any, start_ms: int, end_ms: int) -> list[Any]:
    b = sim.bars
    out = []
    for i in range(len(b.open_ms)):
        t = int(b.open_ms[i])
        if start_ms <= t < end_ms:
            o, h, lo, c, v = (float(x) for x in b.ohlcv[i])
            out.append((dt.datetime(1970, 1, 1) + dt.timedelta(milliseconds=t + 60_000),
                        o, h, lo, c, v))  # fmt: skip
    return out


def test_only_closed_candles_are_emitted(sim_factory: Any) -> None:
    sim = sim_factory(start="2023-03-02T00:00")
    feed, bars, th = _run(sim, None)
    try:
        assert sim.wait_for(lambda: sim.streams.subscribes >= 1, 30)
        sim.step(5)  # five candles closed, the sixth opened (its first update is out)
        assert wait_until(lambda: len(bars) == 5)
        assert feed._pending is not None and feed._pending[0] == 1677715500000  # 00:05 open
        sim.step(1)
        assert wait_until(lambda: len(bars) == 6)
    finally:
        feed.stop()
        th.join(30)
    want = _file_bars(sim, 1677715200000, 1677715560000)
    assert [b[0] for b in bars] == [w[0] for w in want]
    for got, w in zip(bars, want, strict=True):
        assert got[1:] == pytest.approx(w[1:])  # the closed candle, not an open-only update


def test_a_dropped_socket_is_back_filled_and_the_feed_ends_after_its_day(sim_factory: Any) -> None:
    sim = sim_factory(start="2023-03-02T23:00", end="2023-03-02")
    feed, bars, th = _run(sim, dt.date(2023, 3, 2), lookback_bars=30)
    assert sim.wait_for(lambda: sim.streams.subscribes >= 1, 30)
    sim.step(20)
    n = len(_file_bars(sim, 1677796200000, 1677799200000))  # 30 warm-up + 20 live minutes
    assert n >= 45 and wait_until(lambda: len(bars) == n)  # (the loader drops zero-volume ones)
    sim.drop_sockets()
    sim.step(15)  # while the feed reconnects: these come from REST klines
    assert sim.wait_for(lambda: sim.streams.subscribes >= 2, 30)
    while not sim.finished:
        sim.step(10)
    th.join(60)
    assert not th.is_alive(), "the feed did not end after data.to"
    assert feed.reconnects >= 1 and feed.backfilled_minutes >= 1
    want = _file_bars(sim, 1677796200000, 1677801540000)  # 22:30 .. 23:58 opens
    assert [b[0] for b in bars] == [w[0] for w in want]
    assert bars[-1][0] == dt.datetime(2023, 3, 2, 23, 59)
