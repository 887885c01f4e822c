"""The websocket client and UpstoxFeed against the local Upstox simulator (real TLS, real
protocol): a Cerebro run whose bars equal the real BANKNIFTY 1-minute bars of the replayed
day, the same under drops / garbage / truncated frames / an outage, staleness during a
stall, and a refused token. Skipped when the simulator is not importable.

Nothing here times the machine: faults are injected at simulated (exchange) instants, the
feed's wall side (staleness) runs on a :class:`~mixbot.clock.ManualClock` the test advances,
and real-time loops are only hang guards for something that must happen."""

from __future__ import annotations

import datetime as dt
import threading
import time
from pathlib import Path

import backtrader as bt
import pytest

from mixbot.clock import ManualClock
from mixbot.feeds.aggregator import Bar, BarAggregator
from mixbot.venues.upstox.http.errors import TokenExpiredError
from mixbot.venues.upstox.ws.feed import UpstoxFeed
from mixbot.venues.upstox.ws.ws import FeedSocket, authorized_uri, backoff_delay

sim_mod = pytest.importorskip("mixbot.simulators.upstox", reason="simulator not available yet")

DAY = "2019-01-01"
IST_OFFSET = dt.timedelta(hours=5, minutes=30)
HANG_GUARD_S = 120.0  # real seconds; only bounds waits for what must happen


def wait_until(cond, what: str, guard_s: float = HANG_GUARD_S) -> None:  # noqa: ANN001
    """Poll ``cond()`` until true; fail after ``guard_s`` real seconds (a hang guard)."""
    deadline = time.monotonic() + guard_s
    while not cond():
        assert time.monotonic() < deadline, f"hang guard: {what}"
        time.sleep(0.02)


def sim_at(sim, hhmm: str) -> bool:  # noqa: ANN001
    """True once the simulator's (exchange) clock reached ``hhmm`` IST of DAY, or it ended."""
    local = dt.datetime.strptime(f"{DAY} {hhmm}", "%Y-%m-%d %H:%M")
    due_ms = int((local - IST_OFFSET).replace(tzinfo=dt.UTC).timestamp() * 1000)
    return sim.finished or sim.now_ms() >= due_ms


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
    """speed 600 (a session in ~38 s): garbage and truncated frames, a 2-minute (simulated)
    outage, cuts at set exchange times, then drops every 4 s; the strategy's bars equal the
    real bars. Each fault waits for its simulated instant and for a connected socket."""
    speed = 600.0
    sim = start_sim(bn_file, tmp_path, monkeypatch, speed=speed)
    done: list[str] = []
    try:
        key = sim.instruments[0].key
        feed = new_feed(key, 1)

        def connected_at(hhmm: str) -> bool:
            def ready() -> bool:
                sock = feed.socket
                return sim.finished or (sim_at(sim, hhmm) and sock is not None and sock.connected)

            wait_until(ready, hhmm)
            return not sim.finished

        def chaos() -> None:
            steps = [
                ("09:45", sim.faults.garbage_frame),
                ("09:55", sim.faults.truncated_frame),
                ("10:15", lambda: sim.faults.outage(120.0 / speed)),  # two simulated minutes
                ("11:00", sim.faults.drop_now),
                ("12:00", sim.faults.drop_now),
                ("13:00", lambda: sim.faults.drop_every(4)),
            ]
            for hhmm, fault in steps:
                if not connected_at(hhmm):
                    return
                fault()
                done.append(hhmm)

        threading.Thread(target=chaos, daemon=True).start()
        strat = run_cerebro(feed, timeout=300)
    finally:
        sim.stop()
    st = feed.socket.stats
    assert done == ["09:45", "09:55", "10:15", "11:00", "12:00", "13:00"], done
    assert st.bad_frames >= 1
    assert st.disconnects >= 3  # the outage's cut and two cuts at 11:00 and 12:00
    assert "CONNBROKEN" in strat.states
    assert strat.bars == expected(real_bars(bn_file), 1)
    assert feed.backfilled_minutes + feed.repaired_minutes > 0


def test_stale_during_stall(bn_file: Path, tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    """A stalled socket (no frame at all) is seen on the feed's wall clock: here a ManualClock,
    advanced by the test while the simulator holds its frames."""
    sim = start_sim(bn_file, tmp_path, monkeypatch, speed=60)
    clock = ManualClock()
    try:
        key = sim.instruments[0].key
        feed = new_feed(key, 1, stale_after_s=0.5, stop_after=dt.date(2019, 1, 1), clock=clock)
        cerebro = bt.Cerebro(stdstats=False, preload=False, runonce=False)
        cerebro.adddata(feed)
        cerebro.addstrategy(Recorder)
        t = threading.Thread(target=cerebro.run, daemon=True)
        t.start()
        wait_until(lambda: not feed.stale and feed.ticks_seen >= 5, "live ticks")
        clock.advance(0.4)  # under the 0.5 s limit: fresh, whether or not a tick came since
        assert feed.stale_reason is None or "exchange clock" in feed.stale_reason
        sim.faults.stall(3600.0)  # held until the test ends it
        seen = -1

        def quiet_and_stale() -> bool:
            nonlocal seen
            if feed.ticks_seen == seen:  # no tick since the last step: time may pass
                clock.advance(0.2)
            seen = feed.ticks_seen
            return feed.stale

        wait_until(quiet_and_stale, "stale while stalled")
        reason = feed.stale_reason or ""
        assert reason.startswith("no tick for") and "wall clock" in reason, reason
        assert clock.monotonic() - feed._last_tick_wall > 0.5  # only past the limit
        sim.faults.stall(0)
        wait_until(lambda: not feed.stale, "fresh again after the stall")
    finally:
        feed.stop()
        sim.stop()


def test_bad_token_is_a_clear_error(bn_file: Path, tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    sim = start_sim(bn_file, tmp_path, monkeypatch, speed=0)
    try:
        monkeypatch.setenv("UPSTOX_ACCESS_TOKEN", "not-the-token")
        feed = new_feed(sim.instruments[0].key, 1)
        with pytest.raises(TokenExpiredError, match="upstox login"):
            run_cerebro(feed, timeout=HANG_GUARD_S)
        st = feed.socket.stats
        assert (st.connects, st.disconnects, st.last_error) == (0, 0, "")  # not a retry loop
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
