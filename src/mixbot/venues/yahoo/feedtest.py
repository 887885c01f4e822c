"""``mixbot feed-test --source yahoo SYMBOL [--seconds N] [--interval 1m] [--lookback K]``.

Polls Yahoo (or ``MIXBOT_YAHOO_API``, the simulator) with the live feed, prints the
connection states, the closed bars the strategy would see (exchange time, IST for NSE) and
the stale flag, for ``--seconds`` wall seconds or until the feed ends. Exit status: 0 ok,
2 Yahoo refused the symbol / the feed failed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import threading
from typing import Any
from zoneinfo import ZoneInfo

IST = ZoneInfo("Asia/Kolkata")


def _minutes(text: str) -> int:
    n, unit = int(text.strip()[:-1]), text.strip()[-1].lower()
    return n * {"m": 1, "h": 60, "d": 1440}[unit]


def cmd_feed_test(args: argparse.Namespace) -> int:
    """Run the feed test (module doc)."""
    import backtrader as bt

    from mixbot.venues.yahoo.feed import YahooFeed
    from mixbot.venues.yahoo.hosts import api_base

    feed = YahooFeed(  # type: ignore[call-arg]  # Backtrader metaclass params
        symbol=args.symbol,
        interval_minutes=_minutes(args.interval),
        lookback_bars=args.lookback,
        qcheck=0.2,
        name=args.symbol,
    )

    def local(t: dt.datetime) -> str:
        return t.replace(tzinfo=dt.UTC).astimezone(IST).strftime("%Y-%m-%d %H:%M")

    class Printer(bt.Strategy):
        def notify_data(self, data: Any, status: int, *a: Any, **k: Any) -> None:
            print(f"state   {data._getstatusname(status)}", flush=True)

        def next(self) -> None:
            d = self.data
            stale = feed.stale_reason
            print(
                f"bar     {local(bt.num2date(d.datetime[0]))} IST  O {d.open[0]:.2f} "
                f"H {d.high[0]:.2f} L {d.low[0]:.2f} C {d.close[0]:.2f} V {d.volume[0]:.0f}  "
                f"[{feed.state_name}{f' STALE: {stale}' if stale else ''}]",
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

    where = api_base() or "Yahoo"
    print(f"feed-test: {args.symbol} {args.interval} from {where}, poll every "
          f"{feed.poll_period:g} s, {args.seconds:g} s", flush=True)  # fmt: skip
    th = threading.Thread(target=run, name="feed-test", daemon=True)
    th.start()
    th.join(args.seconds)
    if th.is_alive():
        feed.stop()
        feed.push_end()  # the engine loop ends at once instead of idling on the queue
        th.join(10)
    now = feed.exchange_now
    print(f"done: {feed.bars_received} bars, {feed.polls} polls ({feed.failed_polls} failed), "
          f"exchange clock {local(now) + ' IST' if now else '-'}, state {feed.state_name}",
          flush=True)  # fmt: skip
    err = out.get("error") or feed.error
    if err is not None:
        print(f"error: {err}")
        return 2
    return 0
