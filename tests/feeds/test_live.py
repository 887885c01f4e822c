"""LiveFeed / ReplayFeed behaviour: status notifications, empty-queue loads, an idle feed
sleeping instead of spinning, and the replay clock (speed)."""

from __future__ import annotations

import dataclasses
import threading
import time
from pathlib import Path

import backtrader as bt
import numpy as np
import pytest

from mixbot.feeds.live import LiveFeed
from mixbot.feeds.replay import ReplayFeed
from mixbot.feeds.series import BarSeries, prepare_series


@pytest.fixture(scope="module")
def minute_bars(data_dir: Path) -> BarSeries:
    return prepare_series(
        data_dir / "nse_1min/BANKNIFTY_F1_2019H1.txt",
        interval_minutes=1,
        date_from="2019-01-02",
        date_to="2019-01-02",
        aggregate=False,
    )


def head(s: BarSeries, n: int) -> BarSeries:
    arrays = {
        f.name: getattr(s, f.name)[:n]
        for f in dataclasses.fields(s)
        if isinstance(getattr(s, f.name), np.ndarray)
    }
    return dataclasses.replace(s, **arrays)


class Recorder(bt.Strategy):
    params = (("statuses", None), ("bars", None))

    def notify_data(self, data, status, *args, **kwargs):  # type: ignore[no-untyped-def]
        self.p.statuses.append(data._getstatusname(status))

    def next(self) -> None:
        d = self.data
        self.p.bars.append((d.datetime[0], d.open[0], d.high[0], d.low[0], d.close[0], d.volume[0]))


def run_replay(series: BarSeries, **params) -> tuple[list[str], list[tuple], float]:  # type: ignore[no-untyped-def,type-arg]
    statuses: list[str] = []
    bars: list[tuple] = []  # type: ignore[type-arg]
    cerebro = bt.Cerebro(stdstats=False, preload=False, runonce=False, quicknotify=True)
    cerebro.adddata(ReplayFeed(series=series, **params))
    cerebro.addstrategy(Recorder, statuses=statuses, bars=bars)
    t0 = time.perf_counter()
    cerebro.run()
    return statuses, bars, time.perf_counter() - t0


def test_replay_reports_connected_live_disconnected(minute_bars: BarSeries) -> None:
    s = head(minute_bars, 30)
    statuses, bars, _ = run_replay(s, interval_minutes=1, speed=0)
    assert statuses == ["CONNECTED", "LIVE", "DISCONNECTED"]
    assert len(bars) == 30
    got = np.array(bars)
    assert np.allclose(got[:, 0], s.num, atol=1e-9)
    assert np.array_equal(got[:, 4], s.close) and np.array_equal(got[:, 5], s.volume)


def test_replay_aggregates_to_the_interval(minute_bars: BarSeries) -> None:
    s = head(minute_bars, 30)  # 09:16 .. 09:45: six 5-minute bars
    _, bars, _ = run_replay(s, interval_minutes=5, speed=0, as_ticks=True)
    assert len(bars) == 6
    got = np.array(bars)
    assert np.array_equal(got[:, 2], s.high.reshape(6, 5).max(axis=1))
    assert np.array_equal(got[:, 4], s.close[4::5])
    assert np.allclose(got[:, 0], s.num[4::5], atol=1e-9)


def test_load_returns_none_when_queue_is_empty() -> None:
    feed = LiveFeed(qcheck=0.05)
    feed.start()  # no producer: nothing will ever arrive
    t0 = time.perf_counter()
    assert feed._load() is None
    waited = time.perf_counter() - t0
    assert 0.04 <= waited < 0.5  # it waits qcheck on the queue, then gives up
    feed.push_status(feed.CONNECTED)
    assert feed._load() is None  # a status is not a bar
    assert feed.state_name == "CONNECTED"
    feed.push_end()
    assert feed._load() is False
    assert feed.state_name == "DISCONNECTED"


def test_idle_live_feed_uses_almost_no_cpu() -> None:
    feed = LiveFeed(qcheck=0.5)
    cerebro = bt.Cerebro(stdstats=False, preload=False, runonce=False, quicknotify=True)
    cerebro.adddata(feed)
    cerebro.addstrategy(Recorder, statuses=[], bars=[])
    th = threading.Thread(target=cerebro.run, daemon=True)
    th.start()
    time.sleep(0.3)  # let it start
    c0, w0 = time.process_time(), time.perf_counter()
    time.sleep(1.5)
    cpu, wall = time.process_time() - c0, time.perf_counter() - w0
    cerebro.runstop()
    feed.push_end()
    th.join(timeout=5)
    assert not th.is_alive(), "cerebro did not stop on runstop + push_end"
    assert wall >= 1.5
    assert cpu < 0.3, f"idle feed burnt {cpu:.2f} s CPU in {wall:.2f} s"


def test_speed_paces_the_replay(minute_bars: BarSeries) -> None:
    s = head(minute_bars, 4)  # 3 one-minute gaps
    _, bars, fast = run_replay(s, interval_minutes=1, speed=0)
    _, bars2, paced = run_replay(s, interval_minutes=1, speed=600)
    assert bars == bars2 and len(bars) == 4
    # 3 gaps x 60 s / 600 = 0.3 s
    assert 0.29 <= paced < 0.29 + 1.0
    assert fast < paced - 0.2


def test_speed_skips_the_night(minute_bars: BarSeries, data_dir: Path) -> None:
    """Between sessions the replay waits at most one bar's worth, not the whole night."""
    two_days = prepare_series(
        data_dir / "nse_1min/BANKNIFTY_F1_2019H1.txt",
        interval_minutes=1,
        date_from="2019-01-02",
        date_to="2019-01-03",
        aggregate=False,
    )
    local_days = two_days.num.astype(int)
    last_of_day1 = int(np.flatnonzero(local_days == local_days[0])[-1])
    s = dataclasses.replace(
        two_days,
        **{
            f.name: getattr(two_days, f.name)[last_of_day1 - 1 : last_of_day1 + 2]
            for f in dataclasses.fields(two_days)
            if isinstance(getattr(two_days, f.name), np.ndarray)
        },
    )
    assert len(s) == 3
    _, bars, wall = run_replay(s, interval_minutes=1, speed=600)
    assert len(bars) == 3
    # about 2 x 60 s / 600 = 0.2 s (the overnight gap counts as one minute), not 17 h / 600
    assert wall < 1.2
