"""The websocket client and UpstoxFeed against the local Upstox simulator (real TLS, real
protocol): a Cerebro run whose bars equal the real BANKNIFTY 1-minute bars of the replayed
day, the same under drops / garbage / truncated frames / an outage, staleness during a
stall, and a refused token. Skipped when the simulator is not importable."""

from __future__ import annotations

import datetime as dt
import threading
import time
from pathlib import Path

import backtrader as bt
import pytest

from mixbot.feeds.aggregator import Bar, BarAggregator
from mixbot.venues.upstox.http.errors import TokenExpiredError
from mixbot.venues.upstox.ws.feed import UpstoxFeed
from mixbot.venues.upstox.ws.ws import FeedSocket, authorized_uri, backoff_delay

sim_mod = pytest.importorskip("mixbot.simulators.upstox", reason="simulator not available yet")

DAY = "2019-01-01"
IST_OFFSET = dt.timedelta(hours=5, minutes=30)


def real_bars(path: Path, day: str = "20190101") -> list[Bar]:
    out = []
    for line in path.read_text().splitlines():
        f = line.split(",")
        if f[1] == day:
            local = dt.datetime.strptime(f[1] + f[2], "%Y%m%d%H:%M")
            o, h, lo, c, v = map(float, f[3:8])
            out.append(Bar(local - IST_OFFSET, o, h, lo, c, v))
    return out


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


class Recorder(bt.Strategy):
    def __init__(self) -> None:
        self.bars: list[tuple] = []
        self.states: list[str] = []
        self.stale_seen = False

    def notify_data(self, data, status, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003
        self.states.append(data._getstatusname(status))

    def next(self) -> None:
        d = self.data
        self.bars.append(
            (
                bt.num2date(d.datetime[0]).replace(microsecond=0),
                d.open[0],
                d.high[0],
                d.low[0],
                d.close[0],
                d.volume[0],
            )
        )


@pytest.fixture()
def bn_file(data_dir: Path) -> Path:
    return data_dir / "nse_1min" / "BANKNIFTY_F1_2019H1.txt"


def start_sim(bn_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, speed: float):
    sim = sim_mod.Simulator(
        files=[bn_file], port=0, speed=speed, start=DAY, end=DAY, tls_dir=tmp_path
    )
    sim.start()
    for k, v in sim.env().items():
        monkeypatch.setenv(k, v)
    return sim


def run_cerebro(feed: UpstoxFeed, timeout: float = 120.0) -> Recorder:
    cerebro = bt.Cerebro(stdstats=False, preload=False, runonce=False, quicknotify=True)
    cerebro.adddata(feed)
    cerebro.addstrategy(Recorder)
    out: dict = {}

    def go() -> None:
        try:
            out["strat"] = cerebro.run()[0]
        except BaseException as exc:  # noqa: BLE001
            out["error"] = exc

    t = threading.Thread(target=go, daemon=True)
    t.start()
    t.join(timeout)
    assert not t.is_alive(), "cerebro did not finish"
    if "error" in out:
        raise out["error"]
    return out["strat"]


def new_feed(key: str, interval: int, **kw) -> UpstoxFeed:  # noqa: ANN003
    kw.setdefault("backoff_initial", 0.05)
    kw.setdefault("backoff_max", 0.5)
    return UpstoxFeed(
        instrument_key=key,
        interval_minutes=interval,
        history_cache=False,
        qcheck=0.1,
        **kw,
    )


def test_backoff_full_jitter_bounded() -> None:
    import random

    rng = random.Random(1)
    ds = [backoff_delay(a, 0.5, 30.0, rng) for a in range(40) for _ in range(20)]
    assert min(ds) >= 0 and max(ds) <= 30.0
    assert max(backoff_delay(0, 0.5, 30.0, rng) for _ in range(100)) <= 0.5


def test_authorized_uri_key() -> None:
    uri = "wss://x/feeds?code=1"
    assert authorized_uri({"status": "success", "data": {"authorized_redirect_uri": uri}}) == uri
    assert authorized_uri({"data": {"authorizedRedirectUri": uri}}) == uri


def test_cerebro_bars_equal_real_bars(bn_file: Path, tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    sim = start_sim(bn_file, tmp_path, monkeypatch, speed=0)
    try:
        key = sim.instruments[0].key
        feed = new_feed(key, 5)
        strat = run_cerebro(feed)
    finally:
        sim.stop()
    assert strat.bars == expected(real_bars(bn_file), 5)
    assert strat.states[:3] == ["CONNECTED", "DELAYED", "LIVE"]
    assert strat.states[-1] == "DISCONNECTED"
    assert feed.socket.stats.bad_frames == 0


def test_faults_backfill_equals_fault_free(bn_file: Path, tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    """speed 600 (a session in ~38 s): drops every 4 s, garbage and truncated frames, and a
    2-minute (simulated) outage; the strategy's bars equal the real bars."""
    speed = 600.0
    sim = start_sim(bn_file, tmp_path, monkeypatch, speed=speed)
    try:
        key = sim.instruments[0].key
        feed = new_feed(key, 1)

        def chaos() -> None:
            time.sleep(3)
            sim.faults.garbage_frame()
            time.sleep(1)
            sim.faults.truncated_frame()
            time.sleep(2)
            sim.faults.outage(120.0 / speed)  # two simulated minutes
            time.sleep(3)
            sim.faults.drop_every(4)

        threading.Thread(target=chaos, daemon=True).start()
        strat = run_cerebro(feed, timeout=180)
    finally:
        sim.stop()
    st = feed.socket.stats
    assert st.bad_frames >= 1
    assert st.disconnects >= 3
    assert "CONNBROKEN" in strat.states
    assert strat.bars == expected(real_bars(bn_file), 1)
    assert feed.backfilled_minutes + feed.repaired_minutes > 0


def test_stale_during_stall(bn_file: Path, tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    sim = start_sim(bn_file, tmp_path, monkeypatch, speed=60)
    try:
        key = sim.instruments[0].key
        feed = new_feed(key, 1, stale_after_s=0.5, stop_after=dt.date(2019, 1, 1))
        cerebro = bt.Cerebro(stdstats=False, preload=False, runonce=False)
        cerebro.adddata(feed)
        cerebro.addstrategy(Recorder)
        t = threading.Thread(target=cerebro.run, daemon=True)
        t.start()
        deadline = time.monotonic() + 20
        while (feed.stale or feed.ticks_seen < 5) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not feed.stale
        sim.faults.stall(2.0)
        time.sleep(1.2)
        assert feed.stale
        time.sleep(2.0)
        assert not feed.stale
    finally:
        feed.stop()
        sim.stop()


def test_bad_token_is_a_clear_error(bn_file: Path, tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    sim = start_sim(bn_file, tmp_path, monkeypatch, speed=0)
    try:
        monkeypatch.setenv("UPSTOX_ACCESS_TOKEN", "not-the-token")
        feed = new_feed(sim.instruments[0].key, 1)
        t0 = time.monotonic()
        with pytest.raises(TokenExpiredError, match="upstox login"):
            run_cerebro(feed, timeout=30)
        assert time.monotonic() - t0 < 10  # not a retry loop
    finally:
        sim.stop()


def test_socket_counts_garbage(bn_file: Path, tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    sim = start_sim(bn_file, tmp_path, monkeypatch, speed=30)
    frames: list = []
    try:
        sock = FeedSocket([sim.instruments[0].key], "full", on_frame=frames.append)
        sock.start()
        deadline = time.monotonic() + 30  # generous: slow, loaded CI
        while len(frames) < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
        sim.faults.garbage_frame()
        sim.faults.truncated_frame()
        deadline = time.monotonic() + 30  # generous: slow, loaded CI
        while sock.stats.bad_frames < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        n = len(frames)
        deadline = time.monotonic() + 30  # generous: slow, loaded CI
        while len(frames) <= n and time.monotonic() < deadline:
            time.sleep(0.02)
        assert sock.stats.bad_frames == 2 and len(frames) > n  # kept going
        sock.stop()
        assert sock.done.wait(5)
    finally:
        sim.stop()
