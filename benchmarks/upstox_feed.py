"""Upstox market-data feed throughput and latency.

1. decode + aggregate on one core: realistic ``full``-mode ``FeedResponse`` frames (LTPC, 5
   depth levels, 1d/I1/I1 OHLC, atp/vtt/oi/tbq/tsq) built with the SDK's protobuf module from
   real BANKNIFTY 1-minute bars (8 synthetic trades a bar), decoded by
   :class:`~mixbot.venues.upstox.ws.protocol.FeedDecoder` and aggregated by the project's
   :class:`~mixbot.feeds.aggregator.BarAggregator` (target >= 100,000 ticks/s); and the same
   through ``UpstoxFeed._on_frame`` (the feed's whole per-frame path);
2. end to end over loopback TLS from the local simulator (speed 0 = as fast as the client
   reads) with 50 and 500 subscribed instruments (copies of the real BANKNIFTY day under
   distinct symbols: the simulator makes one instrument per file);
3. bar close -> ``strategy.next()`` latency (p50/p99) with ``UpstoxFeed`` in a Cerebro fed by
   the simulator at speed 300.

Run: ``.venv/bin/python benchmarks/upstox_feed.py [--instruments 50 500] [--skip-e2e]``.
Needs the real data folder (``MIXBOT_DATA`` or ``../shared/data``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

from upstox_client.feeder.proto import MarketDataFeedV3_pb2 as pb

from mixbot.feeds.aggregator import BarAggregator
from mixbot.paths import sample_data_dir
from mixbot.venues.upstox.ws.protocol import FeedDecoder

KEY = "NSE_FO|46923"
IST_OFFSET = dt.timedelta(hours=5, minutes=30)
EPOCH = dt.datetime(1970, 1, 1)


def bn_file() -> Path:
    d = sample_data_dir()
    if d is None:
        sys.exit("real data folder not found: set MIXBOT_DATA")
    return d / "nse_1min" / "BANKNIFTY_F1_2019H1.txt"


def real_ticks(path: Path, days: int = 5) -> list[tuple[int, float, int]]:
    """(ltt ms, price, qty): 8 ticks per real 1-minute bar (O, path via H/L, C)."""
    out: list[tuple[int, float, int]] = []
    seen: list[str] = []
    for line in path.read_text().splitlines():
        f = line.split(",")
        if f[1] not in seen:
            if len(seen) == days:
                break
            seen.append(f[1])
        end = dt.datetime.strptime(f[1] + f[2], "%Y%m%d%H:%M") - IST_OFFSET
        end_ms = (end - EPOCH) // dt.timedelta(milliseconds=1)
        o, h, lo, c, v = map(float, f[3:8])
        path_ = [o, lo, h, c] if c >= o else [o, h, lo, c]
        pts = [path_[0], path_[0], path_[1], path_[1], path_[2], path_[2], path_[3], path_[3]]
        q = int(v) // 8
        for j, p in enumerate(pts):
            out.append((end_ms - 60000 + 500 + j * 7000, p, q if j < 7 else int(v) - 7 * q))
    return out


def full_frame(ltt: int, price: float, qty: int, vtt: int) -> bytes:
    r = pb.FeedResponse(type=1, currentTs=ltt + 3)
    m = r.feeds[KEY].fullFeed.marketFF
    m.ltpc.ltp, m.ltpc.ltt, m.ltpc.ltq, m.ltpc.cp = price, ltt, qty, price * 0.99
    for i in range(5):
        m.marketLevel.bidAskQuote.add(
            bidQ=15 * (i + 1),
            bidP=price - 0.05 * (i + 1),
            askQ=20 * (i + 1),
            askP=price + 0.05 * (i + 1),
        )
    for iv in ("1d", "I1", "I1"):
        m.marketOHLC.ohlc.add(
            interval=iv, open=price, high=price + 5, low=price - 5, close=price, vol=qty, ts=ltt
        )
    m.atp, m.vtt, m.oi, m.tbq, m.tsq = price, vtt, 1.4e6, 5e5, 4e5
    r.feeds[KEY].requestMode = pb.full_d5
    return r.SerializeToString()


def bench_decode(ticks: list[tuple[int, float, int]]) -> None:
    vtt = 0
    frames = []
    for ltt, p, q in ticks:
        vtt += q
        frames.append(full_frame(ltt, p, q, vtt))
    size = sum(map(len, frames)) / len(frames)
    best = 0.0
    for _ in range(3):
        dec = FeedDecoder()
        agg = BarAggregator(1)
        bars = 0
        t0 = time.perf_counter()
        for data in frames:
            for t in dec.decode(data).ticks:
                ts = t.ts_utc
                if agg.bar_is_complete(ts):
                    bars += len(agg.flush())
                bars += len(agg.add_tick(ts, t.price, t.qty))
        el = time.perf_counter() - t0
        best = max(best, len(frames) / el)
    print(
        f"decode+aggregate (FeedDecoder + BarAggregator, one core): {best:,.0f} ticks/s "
        f"({len(frames):,} full-mode frames of {size:.0f} B, {bars} bars)"
    )

    from mixbot.venues.upstox.ws.feed import UpstoxFeed

    best = 0.0
    for _ in range(3):
        feed = UpstoxFeed(
            instrument_key=KEY, history=lambda *a, **k: [], close_grace_s=None, maxqueue=10**6
        )
        feed._on_connect(1)
        dec = FeedDecoder()
        t0 = time.perf_counter()
        for data in frames:
            feed._on_frame(dec.decode(data))
        el = time.perf_counter() - t0
        best = max(best, len(frames) / el)
    print(f"decode + UpstoxFeed._on_frame (whole per-frame path):   {best:,.0f} ticks/s")


def write_copies(src: Path, n: int, folder: Path, day: str = "20190101") -> list[Path]:
    rows = [ln for ln in src.read_text().splitlines() if ln.split(",")[1] == day]
    import zlib

    out = []
    used: set[int] = set()
    names: list[str] = []
    i = 0
    while len(names) < n:  # the simulator derives the token from crc32(name) % 50000
        tok = zlib.crc32(f"SIM{i:04d}".encode()) % 50000
        if tok not in used:
            used.add(tok)
            names.append(f"SIM{i:04d}")
        i += 1
    for i, name in enumerate(names):
        p = folder / f"S{i:03d}.txt"
        sym = f"{name}_F1"
        p.write_text("\n".join(sym + ln[ln.index(",") :] for ln in rows) + "\n")
        out.append(p)
    return out


def bench_e2e(n: int, tls: Path) -> None:
    from mixbot.simulators.upstox import Simulator
    from mixbot.venues.upstox.ws.ws import FeedSocket

    with tempfile.TemporaryDirectory() as tmp:
        files = write_copies(bn_file(), n, Path(tmp))
        sim = Simulator(files=files, port=0, speed=0, tls_dir=tls)
        sim.start()
        os.environ.update(sim.env())
        try:
            keys = [i.key for i in sim.instruments]
            aggs = {k: BarAggregator(1) for k in keys}
            stats = {"ticks": 0, "bars": 0}
            first: list[float] = []

            def on_frame(frame) -> None:  # noqa: ANN001
                if not first:
                    first.append(time.perf_counter())
                for t in frame.ticks:
                    agg = aggs[t.instrument_key]
                    if agg.bar_is_complete(t.ts_utc):
                        stats["bars"] += len(agg.flush())
                    stats["bars"] += len(agg.add_tick(t.ts_utc, t.price, t.qty))
                stats["ticks"] += len(frame.ticks)

            done = threading.Event()
            sock = FeedSocket(
                keys, "full", on_frame=on_frame, on_disconnect=lambda c, r: done.set() and False
            )
            sock.start()
            done.wait(600)
            el = time.perf_counter() - first[0]
            sock.stop()
            print(
                f"end to end, loopback TLS, simulator speed 0, {n} instruments: "
                f"{stats['ticks'] / el:,.0f} ticks/s ({stats['ticks']:,} ticks, {stats['bars']:,} "
                f"bars in {el:.1f} s; bad frames {sock.stats.bad_frames})"
            )
        finally:
            sim.stop()


def bench_latency(tls: Path) -> None:
    import backtrader as bt

    from mixbot.simulators.upstox import Simulator
    from mixbot.venues.upstox.ws.feed import UpstoxFeed

    sim = Simulator(
        files=[bn_file()], port=0, speed=300, start="2019-01-01", end="2019-01-01", tls_dir=tls
    )
    sim.start()
    os.environ.update(sim.env())
    try:
        feed = UpstoxFeed(instrument_key=sim.instruments[0].key, history_cache=False, qcheck=0.05)
        pushed: dict = {}
        orig = feed.push_bar

        def push_bar(end, *a):  # noqa: ANN001, ANN002
            pushed[end] = time.perf_counter()
            return orig(end, *a)

        feed.push_bar = push_bar  # type: ignore[method-assign]
        lat: list[float] = []

        class S(bt.Strategy):
            def next(self) -> None:
                end = bt.num2date(self.data.datetime[0]).replace(microsecond=0)
                t = pushed.get(end)
                if t is not None:
                    lat.append((time.perf_counter() - t) * 1000)

        c = bt.Cerebro(stdstats=False, preload=False, runonce=False, quicknotify=True)
        c.adddata(feed)
        c.addstrategy(S)
        c.run()
    finally:
        sim.stop()
    lat.sort()
    p = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))]  # noqa: E731
    print(
        f"bar close -> strategy.next() latency (simulator speed 300, {len(lat)} bars): "
        f"p50 {statistics.median(lat):.2f} ms, p99 {p(0.99):.2f} ms, max {lat[-1]:.2f} ms"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--instruments", type=int, nargs="*", default=[50, 500])
    ap.add_argument("--skip-e2e", action="store_true")
    a = ap.parse_args()
    bench_decode(real_ticks(bn_file()))
    if a.skip_e2e:
        return
    with tempfile.TemporaryDirectory() as tls:
        for n in a.instruments:
            bench_e2e(n, Path(tls))
        bench_latency(Path(tls))


if __name__ == "__main__":
    main()
