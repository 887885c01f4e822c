"""``mixbot feed-test --source binance SYMBOL [--seconds N] [--interval 1m] [--lookback N]``.

Connects the Binance kline feed (``MIXBOT_BINANCE_API`` / ``MIXBOT_BINANCE_WS``: the
simulator, else Binance), prints the connection states and every closed bar the strategy
would see (times in UTC), for ``--seconds`` wall seconds or until the stream ends.
Exit status: 0 ok, 2 the feed failed (the error is printed). ``--max-ticks-per-s`` is not
used (the feed streams candles, not trades).
"""

from __future__ import annotations

import argparse
import threading
from typing import Any


def _interval_minutes(text: str) -> int:
    t = text.strip()
    return int(t[:-1]) * {"m": 1, "h": 60, "d": 1440}[t[-1].lower()]


def cmd_feed_test(args: argparse.Namespace) -> int:
    """Run the feed test (see the module docstring)."""
    import backtrader as bt

    from mixbot.venues.binance.config import BinanceConfig
    from mixbot.venues.binance.feed import BinanceFeed

    bc = BinanceConfig.from_dict({})
    feed = BinanceFeed(
        symbol=args.symbol.upper(),
        interval_minutes=_interval_minutes(args.interval),
        lookback_bars=args.lookback,
        binance=bc,
        max_attempts=3,
        qcheck=0.2,
    )

    class Printer(bt.Strategy):
        def notify_data(self, data: Any, status: int, *a: Any, **k: Any) -> None:
            print(f"state   {data._getstatusname(status)}", flush=True)

        def next(self) -> None:
            d = self.data
            end = bt.num2date(d.datetime[0])
            print(
                f"bar     {end:%Y-%m-%d %H:%M} UTC  O {d.open[0]:.2f} H {d.high[0]:.2f} "
                f"L {d.low[0]:.2f} C {d.close[0]:.2f} V {d.volume[0]:.6f}  [{feed.state_name}]",
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

    print(f"feed-test: binance {args.symbol} interval {args.interval}, {args.seconds:g} s "
          f"({bc.api_url}, {bc.ws_url})", flush=True)  # fmt: skip
    th = threading.Thread(target=run, name="feed-test", daemon=True)
    th.start()
    th.join(args.seconds)
    if th.is_alive():
        feed.stop()
        th.join(10)
    print(f"done: {feed.bars_received} bars, {feed.reconnects} reconnects, "
          f"{feed.backfilled_minutes} minutes back-filled, state {feed.state_name}", flush=True)  # fmt: skip
    err = out.get("error") or feed.error
    if err is not None:
        print(f"error: {err}")
        return 2
    return 0
