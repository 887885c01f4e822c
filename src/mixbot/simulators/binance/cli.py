"""``mixbot binance-sim --data FILE... [--port N] [--speed X] [--start DATE] [--end DATE]``.

Serves a local Binance spot (REST ``/api/v3``, streams ``/ws``, WebSocket API
``/ws-api/v3``) replaying the files, prints the ``export`` lines to paste into the bot's
shell (``MIXBOT_BINANCE_API``, ``MIXBOT_BINANCE_WS``, ``BINANCE_API_KEY``,
``BINANCE_API_SECRET``), then serves until Ctrl+C, or until the replay ends with
``--exit-at-end``. ``@data/...`` paths are the market-data folder. Bad arguments or files
print one line and exit 2.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import threading
from pathlib import Path
from typing import Any


def add_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register ``mixbot binance-sim``."""
    p = sub.add_parser(
        "binance-sim",
        help="local Binance spot simulator (REST, kline streams, user data) on bar files",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--data", nargs="+", required=True, metavar="FILE",
                   help="bar files of the symbol, e.g. @data/crypto/BinanceUS_BTCUSDT_1m_20230301_20230321.csv")  # fmt: skip
    p.add_argument("--port", type=int, default=9900, help="TCP port on 127.0.0.1 (0 = any)")
    p.add_argument("--speed", type=float, default=60.0,
                   help="simulated seconds per wall second (default 60: a 1m bar a second)")  # fmt: skip
    p.add_argument("--start", help="UTC date/time the clock starts at (default: file start)")
    p.add_argument("--end", help="last UTC date replayed (default: file end)")
    p.add_argument("--symbol", default="BTCUSDT", help="symbol name (default BTCUSDT)")
    p.add_argument("--cash", type=float, default=100_000.0, help="opening USDT balance")
    p.add_argument("--api-key", default="sim-key")
    p.add_argument("--api-secret", default="sim-secret")
    p.add_argument(
        "--no-wait",
        action="store_true",
        help="start the clock at once (default: at the first kline subscription)",
    )
    p.add_argument("--exit-at-end", action="store_true", help="exit when the replay ends")
    p.set_defaults(func=cmd_binance_sim)


def cmd_binance_sim(ns: argparse.Namespace) -> int:
    """Run the simulator (see the module docstring); returns the exit status."""
    from mixbot.paths import expand_data_path
    from mixbot.simulators.binance import BinanceSim

    try:
        files = [expand_data_path(x, Path.cwd()) for x in ns.data]
        sym = ns.symbol.upper()
        quote = next((q for q in ("USDT", "USDC", "BUSD", "BTC", "EUR") if sym.endswith(q)), "USDT")
        sim = BinanceSim(
            files, port=ns.port, start=ns.start, end=ns.end, speed=ns.speed, symbol=sym,
            base=sym[: -len(quote)], quote=quote, balances={quote: ns.cash},
            api_key=ns.api_key, secret=ns.api_secret, wait_for_client=not ns.no_wait,
        ).start()  # fmt: skip
    except Exception as exc:  # one clear line, no traceback
        print(f"mixbot binance-sim: error: {exc}", file=sys.stderr)
        return 2
    print("# Binance simulator ready; paste these lines into the bot's shell:")
    for k, v in sim.env().items():
        print(f"export {k}={shlex.quote(v)}")
    print(f"# {sym} from {_day(sim.now_ms)} UTC at speed {ns.speed:g}; Ctrl+C to stop", flush=True)
    done = threading.Event()
    try:
        while not done.wait(0.5):
            if ns.exit_at_end and sim.finished:
                break
    except KeyboardInterrupt:
        pass
    finally:
        sim.stop()
    return 0


def _day(ms: Any) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(int(ms) / 1000, dt.UTC).strftime("%Y-%m-%d %H:%M")
