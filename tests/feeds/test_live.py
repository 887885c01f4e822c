"""LiveFeed / ReplayFeed behaviour: status notifications, empty-queue loads, an idle feed
sleeping instead of spinning, and the replay clock (speed). Paced replays run on a
:class:`~mixbot.clock.ManualClock`: their waits are asserted exactly, never timed."""

from __future__ import annotations

import dataclasses
import queue
import threading
import time
from pathlib import Path
from typing import Any

import backtrader as bt
import numpy as np
import pytest

from mixbot.clock import ManualClock
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


def run_replay(series: BarSeries, **params) -> tuple[list[str], list[tuple], list[float]]:  # type: ignore[no-untyped-def,type-arg]
    """Run a replay; return the statuses, the bars and the waits (seconds) it asked its clock
    for (a ManualClock: waits take no real time)."""
    statuses: list[str] = []
    bars: list[tuple] = []  # type: ignore[type-arg]
    clock = params.pop("clock", None) or ManualClock()
    cerebro = bt.Cerebro(stdstats=False, preload=False, runonce=False, quicknotify=True)
    cerebro.adddata(ReplayFeed(series=series, clock=clock, **params))
    cerebro.addstrategy(Recorder, statuses=statuses, bars=bars)
    cerebro.run()
    return statuses, bars, clock.waits


class SpyQueue(queue.Queue):  # type: ignore[type-arg]
    """A queue that records the timeout of each ``get``."""

    def __init__(self) -> None:
        super().__init__()
        self.timeouts: list[float | None] = []
        self.empty_gets = 0
        self.idle = threading.Condition()

    def get(self, block: bool = True, timeout: float | None = None) -> Any:
        self.timeouts.append(timeout if block else 0.0)
        try:
            return super().get(block, timeout)
        except queue.Empty:
            with self.idle:
                self.empty_gets += 1
                self.idle.notify_all()
            raise

    def wait_empty_gets(self, n: int, guard_s: float = 60.0) -> None:
        """Block until ``n`` gets came back empty (``guard_s``: only a hang guard)."""
        with self.idle:
            assert self.idle.wait_for(lambda: self.empty_gets >= n, guard_s), "hang guard"


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
    feed._q = spy = SpyQueue()
    assert feed._load() is None
    assert spy.timeouts == [0.05]  # one blocking wait of qcheck on the queue, then it gives up
    feed.push_status(feed.CONNECTED)
    assert feed._load() is None  # a status is not a bar
    assert feed.state_name == "CONNECTED"
    feed.push_end()
    assert feed._load() is False
    assert feed.state_name == "DISCONNECTED"


def test_idle_live_feed_uses_almost_no_cpu() -> None:
    """Counted in engine-loop turns, not wall seconds: over 3 idle turns every wait is a
    blocking ``get`` of qcheck, and the process's own CPU time (a busy machine does not add to
    it) stays far below what a spinning loop burns."""
    feed = LiveFeed(qcheck=0.5)
    spy = SpyQueue()
    start = feed.start

    def start_with_spy() -> None:
        start()
        feed._q = spy

    feed.start = start_with_spy  # type: ignore[method-assign]
    cerebro = bt.Cerebro(stdstats=False, preload=False, runonce=False, quicknotify=True)
    cerebro.adddata(feed)
    cerebro.addstrategy(Recorder, statuses=[], bars=[])
    th = threading.Thread(target=cerebro.run, daemon=True)
    th.start()
    spy.wait_empty_gets(1)  # the engine loop is running and idle
    c0, n0 = time.process_time(), len(spy.timeouts)
    spy.wait_empty_gets(4)
    cpu, turns = time.process_time() - c0, spy.timeouts[n0:]
    cerebro.runstop()
    feed.push_end()
    th.join(timeout=60)
    assert not th.is_alive(), "cerebro did not stop on runstop + push_end"
    assert len(turns) >= 3 and set(turns) == {0.5}, turns  # only blocking waits of qcheck
    assert cpu < 0.3, f"idle feed burnt {cpu:.2f} s CPU in {len(turns)} idle turns of 0.5 s"


def test_speed_paces_the_replay(minute_bars: BarSeries) -> None:
    s = head(minute_bars, 4)  # 3 one-minute gaps
    _, bars, fast = run_replay(s, interval_minutes=1, speed=0)
    _, bars2, paced = run_replay(s, interval_minutes=1, speed=600)
    assert bars == bars2 and len(bars) == 4
    assert fast == []  # speed 0 never waits
    assert paced == pytest.approx([0.1, 0.1, 0.1])  # 3 gaps x 60 s / 600


def test_epoch_aligns_paced_replays_on_the_clock(minute_bars: BarSeries) -> None:
    """With an epoch, bar k is due at epoch + (replayed time up to k) / speed on the clock:
    a late start waits less, so bots that replay the same minutes release bars together."""
    s = head(minute_bars, 4)
    clock = ManualClock(start=1_000.0)
    _, bars, waits = run_replay(s, interval_minutes=1, speed=600, epoch=1_002.0, clock=clock)
    assert len(bars) == 4 and waits == pytest.approx([2.0, 0.1, 0.1, 0.1])
    late = ManualClock(start=1_002.15)  # started 0.15 s after the epoch: bar 1 is overdue
    _, bars2, waits2 = run_replay(s, interval_minutes=1, speed=600, epoch=1_002.0, clock=late)
    assert bars2 == bars and waits2 == pytest.approx([0.05, 0.1])


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
    _, bars, waits = run_replay(s, interval_minutes=1, speed=600)
    assert len(bars) == 3
    # 2 x 60 s / 600 (the overnight gap counts as one minute), not 17 h / 600
    assert waits == pytest.approx([0.1, 0.1])
