"""``mixbot feed-test --source upstox SYMBOL [--seconds N] [--interval 1m]``.

Connects the Upstox market-data feed (``MIXBOT_UPSTOX_API`` / the simulator), prints the
connection states, live ticks (at most ``--max-ticks-per-s`` lines a second; a count is kept)
and the bars the strategy would see, for ``--seconds`` wall seconds (or until the stream
ends). Times are printed in IST. Exit status: 0 ok, 2 token refused / bad symbol.

The command line is :mod:`mixbot.venues.commands` (``feed_test`` hook of the Upstox venue).
"""

from __future__ import annotations

import argparse
import datetime as dt
import threading
import time
from typing import Any
from zoneinfo import ZoneInfo

IST = ZoneInfo("Asia/Kolkata")


def _ist(t: dt.datetime) -> str:
    return t.replace(tzinfo=dt.UTC).astimezone(IST).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def _interval_minutes(text: str) -> int:
    unit = text.strip()[-1].lower()
    n = int(text.strip()[:-1])
    return n * {"m": 1, "h": 60, "d": 1440}[unit]


def cmd_feed_test(args: argparse.Namespace) -> int:
    """Run the feed test (see the module docstring)."""
    import backtrader as bt

    from mixbot.venues.upstox.http.errors import UpstoxError
    from mixbot.venues.upstox.ws.feed import UpstoxFeed

    symbol = args.symbol
    key = symbol
    if "|" not in symbol:
        from mixbot.venues.upstox.instruments import InstrumentMaster

        try:
            key = InstrumentMaster.load().resolve(symbol).instrument_key
        except UpstoxError as exc:
            print(f"error: {exc}")
            return 2
    feed = UpstoxFeed(
        instrument_key=key,
        interval_minutes=_interval_minutes(args.interval),
        lookback_bars=args.lookback,
        history_cache=False,
        qcheck=0.2,
    )
    state: dict[str, Any] = {"ticks": 0, "printed": 0, "second": 0}
    orig = feed._on_frame

    def on_frame(frame: Any) -> None:
        orig(frame)
        now = int(time.monotonic())
        if now != state["second"]:
            state["second"], state["printed"] = now, 0
        if frame.market is not None:
            print(f"market  {dict(frame.market.segments)}", flush=True)
        for t in frame.ticks:
            if t.instrument_key != key:
                continue
            state["ticks"] += 1
            if state["printed"] < args.max_ticks_per_s:
                state["printed"] += 1
                print(
                    f"tick    {_ist(t.ts_utc)} IST  {t.price:>12.2f}  qty {t.qty:>8.0f}  "
                    f"vtt {t.vtt}  [{feed.state_name}{' STALE' if feed.stale else ''}]",
                    flush=True,
                )

    feed._on_frame = on_frame  # type: ignore[method-assign]

    class Printer(bt.Strategy):
        def notify_data(self, data: Any, status: int, *a: Any, **k: Any) -> None:
            print(f"state   {data._getstatusname(status)}", flush=True)

        def next(self) -> None:
            d = self.data
            end = bt.num2date(d.datetime[0])
            print(
                f"bar     {_ist(end)} IST  O {d.open[0]:.2f} H {d.high[0]:.2f} "
                f"L {d.low[0]:.2f} C {d.close[0]:.2f} V {d.volume[0]:.0f}  [{feed.state_name}]",
                flush=True,
            )

    cerebro = bt.Cerebro(stdstats=False, preload=False, runonce=False, quicknotify=True)
    cerebro.adddata(feed)
    cerebro.addstrategy(Printer)
    out: dict[str, BaseException] = {}

    def run() -> None:
        try:
            cerebro.run()
        except BaseException as exc:  # reported below
            out["error"] = exc

    print(f"feed-test: {key} interval {args.interval}, {args.seconds:g} s", flush=True)
    th = threading.Thread(target=run, name="feed-test", daemon=True)
    th.start()
    th.join(args.seconds)
    if th.is_alive():
        feed.stop()
        th.join(5)
    sock = feed.socket
    if sock is not None:
        st = sock.stats
        print(
            f"done: {state['ticks']} ticks, {feed.bars_received} bars, {st.connects} connects, "
            f"{st.bad_frames} bad frames, state {feed.state_name}",
            flush=True,
        )
    err = out.get("error") or feed.error
    if err is not None:
        print(f"error: {err}")
        return 2
    return 0
