"""The polling feed: only closed bars (the simulator serves the bar in progress, partial),
the same aggregator as a replay, the stale flag, the end after ``stop_after``."""

from __future__ import annotations

import datetime as dt
import queue
from pathlib import Path
from typing import Any

from yahoo_rig import MINUTE, ist

from mixbot.clock import ManualClock
from mixbot.feeds.loaders import load_bars
from mixbot.venues.yahoo.client import ChartClient
from mixbot.venues.yahoo.feed import YahooFeed, poll_seconds


def feed_on(clock: ManualClock, minutes: int, **kw: Any) -> YahooFeed:
    """A feed driven from the test thread (no producer thread): warm-up done."""
    feed = YahooFeed(
        symbol="BANKNIFTY.NS",
        interval_minutes=minutes,
        client_factory=lambda sleep: ChartClient(sleep=sleep, retry_waits=(1.0,)),
        clock=clock,
        stale_after_s=120.0,
        **kw,
    )
    feed._client = feed._make_client()
    feed._warm_up()
    return feed


def drain(feed: YahooFeed) -> tuple[list[Any], list[Any]]:
    """(bars, other items) queued so far."""
    bars, other = [], []
    while True:
        try:
            item = feed._q.get_nowait()
        except queue.Empty:
            return bars, other
        (bars if isinstance(item, tuple) and item[0] == "bar" else other).append(item)


def utc(day: str, hhmm: str) -> dt.datetime:
    return dt.datetime.fromtimestamp(ist(day, hhmm), dt.UTC).replace(tzinfo=None)


def test_poll_intervals_from_the_bar_size() -> None:
    assert [poll_seconds(m) for m in (1, 5, 15, 60, 1440)] == [5.0, 25.0, 60.0, 60.0, 60.0]


def test_only_closed_bars_are_emitted(make_sim: Any, data_dir: Path) -> None:
    sim = make_sim("2019-01-02", "2019-01-04", daily=False)
    sim.clock.set_time(ist("2019-01-02", "09:12"))
    clock = ManualClock()
    feed = feed_on(clock, 1)
    assert drain(feed)[0] == [] and feed.state_name == "NONE"  # statuses are still queued
    sim.clock.set_time(ist("2019-01-02", "10:02") + 30)
    feed._poll()
    bars, _ = drain(feed)
    # 09:16 .. 10:02 IST: the minute in progress (10:02-10:03, served partial) is held back
    file = load_bars(data_dir / MINUTE).frame.loc[
        utc("2019-01-02", "09:16") : utc("2019-01-02", "10:02")
    ]
    assert [b[1] for b in bars] == list(file.index)
    assert [b[2:7] for b in bars] == [tuple(r) for r in file.to_numpy().tolist()]
    sim.clock.set_time(ist("2019-01-02", "10:03"))
    feed._poll()
    bars, _ = drain(feed)
    assert [b[1] for b in bars] == [utc("2019-01-02", "10:03")]
    assert feed.stale_reason is None


def test_five_minute_bars_through_the_aggregator(make_sim: Any) -> None:
    sim = make_sim("2019-01-02", "2019-01-04", daily=False)
    sim.clock.set_time(ist("2019-01-02", "09:12"))
    feed = feed_on(ManualClock(), 5)
    sim.clock.set_time(ist("2019-01-02", "09:44") + 50)
    feed._poll()
    ends = [b[1] for b in drain(feed)[0]]
    assert ends == [utc("2019-01-02", t) for t in ("09:20", "09:25", "09:30", "09:35", "09:40")]
    sim.clock.set_time(ist("2019-01-02", "15:45"))  # after the close: the day's last bar too
    feed._poll()
    ends = [b[1] for b in drain(feed)[0]]
    assert ends[-1] == utc("2019-01-02", "15:30") and len(ends) == 70


def test_stale_flag(make_sim: Any) -> None:
    sim = make_sim("2019-01-02", "2019-01-04", daily=False)
    sim.clock.set_time(ist("2019-01-02", "10:00"))
    clock = ManualClock()
    feed = feed_on(clock, 1)
    feed._poll()
    assert feed.stale_reason is None
    clock.advance(200)  # Yahoo still answers, but its last trade time does not move
    feed._poll()
    assert "has not moved" in (feed.stale_reason or "")
    sim.clock.advance(60)
    feed._poll()
    assert feed.stale_reason is None
    sim.stop()  # Yahoo gone: the poll fails (after the client's retry), the feed says so
    feed._poll()
    _, other = drain(feed)
    assert feed.failed_polls == 1
    assert ("status", feed.CONNBROKEN) in other
    assert "feed not live" in (feed.stale_reason or "")


def test_feed_ends_after_stop_after(make_sim: Any) -> None:
    sim = make_sim("2019-01-02", "2019-01-04", daily=False)
    sim.clock.set_time(ist("2019-01-03", "15:00"))
    feed = feed_on(ManualClock(), 15, stop_after=dt.date(2019, 1, 3))
    feed._poll()
    assert not feed._ended
    sim.clock.set_time(ist("2019-01-03", "15:40"))
    feed._poll()
    bars, _ = drain(feed)
    assert feed._ended and bars[-1][1] == utc("2019-01-03", "15:30")
