"""UpstoxFeed logic driven frame by frame (no sockets): tick -> bar aggregation equals the
source bars, outage back-fill and stall repair equal a fault-free run, session end, staleness.

Frames are real BANKNIFTY 1-minute bars (2019-01-01) split into trade ticks and encoded with
the SDK's protobuf module; the candle API is a stub serving the same bars up to "now"."""

from __future__ import annotations

import datetime as dt
import queue
from pathlib import Path

import pytest
from upstox_client.feeder.proto import MarketDataFeedV3_pb2 as pb

from mixbot.clock import ManualClock
from mixbot.feeds.aggregator import Bar, BarAggregator
from mixbot.venues.upstox.ws.feed import UpstoxFeed
from mixbot.venues.upstox.ws.protocol import FeedDecoder

KEY = "NSE_FO|46923"
IST_OFFSET = dt.timedelta(hours=5, minutes=30)
EPOCH = dt.datetime(1970, 1, 1)


def ms(t: dt.datetime) -> int:
    return (t - EPOCH) // dt.timedelta(milliseconds=1)


def load_day(data_dir: Path, day: str = "20190101") -> list[Bar]:
    out = []
    for line in (data_dir / "nse_1min" / "BANKNIFTY_F1_2019H1.txt").read_text().splitlines():
        f = line.split(",")
        if f[1] != day:
            continue
        local = dt.datetime.strptime(f[1] + f[2], "%Y%m%d%H:%M")
        o, h, lo, c, v = map(float, f[3:8])
        out.append(Bar(local - IST_OFFSET, o, h, lo, c, v))
    return out


def ticks_of(bars: list[Bar]) -> list[tuple[int, float, int]]:
    """(ltt ms, price, qty): O, L/H, H/L, C inside each minute; qty sums to the volume."""
    out = []
    for b in bars:
        start = ms(b.end) - 60000
        mid = (b.low, b.high) if b.close >= b.open else (b.high, b.low)
        v = int(b.volume)
        q = [v // 4, v // 4, v // 4, v - 3 * (v // 4)]
        for j, p in enumerate((b.open, *mid, b.close)):
            out.append((start + 1000 + j * 15000, p, q[j]))
    return out


def frame(ltt: int, price: float, qty: int, vtt: int, kind: int = 1, now: int = 0) -> bytes:
    r = pb.FeedResponse(type=kind, currentTs=now or ltt)
    m = r.feeds[KEY].fullFeed.marketFF
    m.ltpc.ltp, m.ltpc.ltt, m.ltpc.ltq = price, ltt, qty
    m.vtt = vtt
    return r.SerializeToString()


def info(now: int, status: int) -> bytes:
    r = pb.FeedResponse(type=2, currentTs=now)
    r.marketInfo.segmentStatus["NSE_FO"] = status
    return r.SerializeToString()


class Stub:
    """The candle API: 1-minute bars ending in (start, end] and <= now (exchange clock)."""

    def __init__(self, bars: list[Bar]) -> None:
        self.bars = bars
        self.calls = 0

    def __call__(self, client, key, start, end, now=None, cache=True):  # noqa: ANN001
        self.calls += 1
        now = now or end
        return [b for b in self.bars if start < b.end <= end and b.end <= now]


def make_feed(bars: list[Bar], interval: int = 1, **kw) -> tuple[UpstoxFeed, Stub]:  # noqa: ANN003
    stub = Stub(bars)
    feed = UpstoxFeed(
        instrument_key=KEY,
        interval_minutes=interval,
        history=stub,
        client_factory=lambda: None,
        close_grace_s=None,
        **kw,
    )
    return feed, stub


def drain(feed: UpstoxFeed) -> tuple[list[tuple], list[str]]:
    bars, states = [], []
    while True:
        try:
            item = feed._q.get_nowait()
        except queue.Empty:
            return bars, states
        if not isinstance(item, tuple):
            states.append("END")
        elif item[0] == "status":
            states.append(feed._getstatusname(item[1]))
        else:
            bars.append(item[1:7])  # end, o, h, l, c, v (not the release stamp)


def expected(bars: list[Bar], interval: int) -> list[tuple]:
    agg = BarAggregator(interval)
    out = []
    for b in bars:
        done = agg.add_bar(b.end, b.open, b.high, b.low, b.close, b.volume)
        if agg.bar_is_complete(b.end):
            done += agg.flush()
        out += done
    out += agg.flush()
    return [(b.end, b.open, b.high, b.low, b.close, b.volume) for b in out]


def run(feed: UpstoxFeed, bars: list[Bar], skip=lambda t: False, on_skip_end=None) -> None:  # noqa: ANN001
    """Play the day's ticks; ticks where ``skip(ltt)`` are not delivered."""
    dec = FeedDecoder()
    open_ms = ms(bars[0].end) - 60000
    feed._on_connect(1)
    feed._on_frame(dec.decode(info(open_ms - 7 * 60000, pb.PRE_OPEN_END)))
    feed._on_frame(dec.decode(info(open_ms, pb.NORMAL_OPEN)))
    vtt = 0
    skipping = False
    for ltt, p, q in ticks_of(bars):
        vtt += q
        if skip(ltt):
            skipping = True
            continue
        if skipping and on_skip_end is not None:
            on_skip_end(dec, ltt)
        skipping = False
        feed._on_frame(dec.decode(frame(ltt, p, q, vtt)))
    close = ms(bars[-1].end)
    feed._on_frame(dec.decode(info(close, pb.NORMAL_CLOSE)))
    feed._on_disconnect(1000, "end of replay")


@pytest.fixture(scope="module")
def day(data_dir: Path) -> list[Bar]:
    bars = load_day(data_dir)
    assert len(bars) == 377  # 375 session minutes + 15:31, 15:32 (post-close, dropped)
    return bars


@pytest.mark.parametrize("interval", [1, 5, 15])
def test_ticks_rebuild_the_source_bars(day: list[Bar], interval: int) -> None:
    feed, _ = make_feed(day, interval)
    run(feed, day)
    bars, states = drain(feed)
    assert states[:3] == ["CONNECTED", "DELAYED", "LIVE"] and states[-1] == "END"
    assert bars == expected(day, interval)


def test_outage_backfill_equals_fault_free(day: list[Bar]) -> None:
    t_off = ms(day[0].end) + 44 * 60000 + 20000  # 10:00:20 IST
    t_on = t_off + 2 * 60000 + 10000  # two minutes and a bit later
    feed, stub = make_feed(day, 5)

    def reconnect(dec: FeedDecoder, ltt: int) -> None:
        feed._on_disconnect(1006, "dropped")
        feed._on_connect(2)
        dec.reset()
        # the snapshot after the re-subscribe: an old trade, server clock = now
        feed._on_frame(dec.decode(frame(t_on - 30000, 1.0, 1, 1, kind=0, now=ltt)))

    run(feed, day, skip=lambda t: t_off <= t < t_on, on_skip_end=reconnect)
    bars, states = drain(feed)
    assert bars == expected(day, 5)
    assert "CONNBROKEN" in states
    i = states.index("CONNBROKEN")
    assert states[i : i + 4] == ["CONNBROKEN", "CONNECTED", "DELAYED", "LIVE"]
    assert feed.backfilled_minutes >= 2 and feed.repaired_minutes >= 1


def test_stall_is_repaired_from_candles(day: list[Bar]) -> None:
    t_off = ms(day[0].end) + 100 * 60000
    feed, _ = make_feed(day, 1, gap_repair_s=30.0)
    run(feed, day, skip=lambda t: t_off <= t < t_off + 3 * 60000)
    bars, _ = drain(feed)
    assert bars == expected(day, 1)
    assert feed.repaired_minutes >= 3


def test_stop_after_ends_at_the_close(day: list[Bar]) -> None:
    feed, _ = make_feed(day, 1, stop_after=dt.date(2019, 1, 1))
    dec = FeedDecoder()
    feed._on_connect(1)
    vtt = 0
    for ltt, p, q in ticks_of(day):
        vtt += q
        feed._on_frame(dec.decode(frame(ltt, p, q, vtt)))
    feed._on_frame(dec.decode(info(ms(day[-1].end), pb.NORMAL_CLOSE)))
    bars, states = drain(feed)
    assert states[-1] == "END" and len(bars) == 375


def test_warmup_pushes_lookback_bars_delayed(day: list[Bar]) -> None:
    feed, _ = make_feed(day, 5, lookback_bars=10)
    dec = FeedDecoder()
    feed._on_connect(1)
    start = 60  # connect at 10:15:30 IST
    ltt, p, q = ticks_of(day)[start * 4 + 2]
    feed._on_frame(dec.decode(frame(ltt, p, q, 10**6)))
    bars, states = drain(feed)
    assert states == ["CONNECTED", "DELAYED", "LIVE"]
    assert bars == expected(day[:60], 5)[-10:]


def test_stale_flag(day: list[Bar]) -> None:
    clock = ManualClock()  # the feed's wall side: time moves only when the test says
    feed, _ = make_feed(day, 1, stale_after_s=0.2, clock=clock)
    assert feed.stale  # not connected
    dec = FeedDecoder()
    feed._on_connect(1)
    ltt, p, q = ticks_of(day)[0]
    feed._on_frame(dec.decode(frame(ltt, p, q, q)))
    assert not feed.stale
    clock.advance(0.15)
    assert not feed.stale  # under the limit
    clock.advance(0.1)
    assert feed.stale  # wall-clock stall
    feed._on_frame(dec.decode(frame(ltt + 100, p, q, q)))
    assert not feed.stale
    # frames keep coming (market info) but no trade for longer than the limit
    feed._on_frame(dec.decode(info(ltt + 5000, pb.NORMAL_OPEN)))
    assert feed.stale
