"""``mixbot yahoo-sim``: the local Yahoo chart API (added by the venue's ``cli_modules``).

Example::

    mixbot yahoo-sim --port 8765 --data @data/nse_daily/RELIANCE.csv \\
        --start 2019-01-01 --end 2020-12-31 --speed 200000

prints ``export MIXBOT_YAHOO_API=http://127.0.0.1:8765`` to paste into the bot's shell,
then serves until Ctrl+C (or the end of the data with ``--exit-at-end``). Bad arguments or
unreadable files: one line on stderr, exit status 2.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import threading
from typing import Any


def cmd_yahoo_sim(args: argparse.Namespace) -> int:
    """Run the simulator (module doc)."""
    from mixbot.paths import expand_data_path
    from mixbot.simulators.yahoo import Simulator

    def expand(item: str) -> str:
        name, sep, file = item.partition("=")
        path = file if sep else name
        path = str(expand_data_path(path)) if path.startswith("@data/") else path
        return f"{name}={path}" if sep else path

    faults = {k: v for k, v in (("rate_limit", args.rate_limit),
                                 ("server_errors", args.server_errors),
                                 ("empty", args.empty)) if v}  # fmt: skip
    try:
        sim = Simulator(
            [expand(d) for d in args.data],
            port=args.port,
            speed=args.speed,
            start=args.start,
            end=args.end,
            faults=faults,
        ).start()
    except Exception as exc:  # one clear line, no traceback
        print(f"mixbot yahoo-sim: error: {exc}", file=sys.stderr)
        return 2
    print("# Yahoo Finance simulator ready; paste this into the bot's shell:")
    for k, v in sim.env().items():
        print(f"export {k}={shlex.quote(v)}")
    days = sim.clock.days
    print(f"# tickers {', '.join(sorted(sim.tickers))}; {len(days)} trading days "
          f"{days[0]} .. {days[-1]} at speed {args.speed:g}")  # fmt: skip
    print(f"# faults: curl -X POST {sim.base_url}/_sim/faults -d '{{\"rate_limit\": 3}}'")
    print("# Ctrl+C to stop", flush=True)
    done = threading.Event()
    try:
        while not done.wait(0.5):
            if args.exit_at_end and sim.finished:
                break
    except KeyboardInterrupt:
        pass
    finally:
        sim.stop()
    return 0


def add_parsers(sub: Any) -> None:
    """Register ``yahoo-sim`` on the ``mixbot`` sub-parsers."""
    p = sub.add_parser(
        "yahoo-sim",
        help="start the local Yahoo Finance simulator (v8 chart API on real bar files)",
        description="Serve Yahoo's v8 chart API, cookie and crumb endpoints on 127.0.0.1 from "
        "real daily / 1-minute files, with a session clock and faults. Point mixbot at it with "
        "the printed MIXBOT_YAHOO_API.",
    )
    p.add_argument("--data", nargs="+", required=True, metavar="[TICKER=]FILE",
                   help="bar files (@data/... = the shared data folder); the ticker defaults "
                   "to the file's symbol + .NS")  # fmt: skip
    p.add_argument("--port", type=int, default=8765, help="TCP port on 127.0.0.1 (0 = any)")
    p.add_argument("--speed", type=float, default=1.0,
                   help="simulated seconds per wall second inside the trading days (nights "
                   "are skipped); 0 = frozen (POST /_sim/advance moves it)")  # fmt: skip
    p.add_argument("--start", help="first simulated date YYYY-MM-DD")
    p.add_argument("--end", help="last simulated date YYYY-MM-DD")
    p.add_argument("--exit-at-end", action="store_true", help="exit after the last day")
    f = p.add_argument_group("faults (also: POST /_sim/faults)")
    f.add_argument("--rate-limit", type=int, metavar="K", help="429 for the next K chart calls")
    f.add_argument("--server-errors", type=int, metavar="K", help="503 for the next K")
    f.add_argument("--empty", type=int, metavar="K", help="empty results for the next K")
    p.set_defaults(func=cmd_yahoo_sim)
