"""``mixbot openalgo-sim``: the local OpenAlgo simulator on real bar files.

Prints the ``export`` lines to paste into the bot's shell (``MIXBOT_OPENALGO_HOST``,
``MIXBOT_OPENALGO_WS``, ``OPENALGO_API_KEY``), then serves until Ctrl+C (exit 0) or, with
``--exit-at-end``, until the replay ends. Bad arguments or unreadable files print one
line and exit with status 2.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import threading

from mixbot.paths import expand_data_path


def add_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register ``mixbot openalgo-sim`` on the ``mixbot`` sub-parsers."""
    p = sub.add_parser(
        "openalgo-sim",
        help="start the local OpenAlgo simulator (REST API v1 + websocket on real bars)",
        description="Serve a local OpenAlgo replaying bar files (FILE[:SYMBOL[:EXCHANGE]]).",
    )
    p.add_argument("--data", nargs="+", required=True, metavar="FILE", help="bar files (@data/...)")
    p.add_argument("--port", type=int, default=5000, help="REST port on 127.0.0.1 (0 = any)")
    p.add_argument("--ws-port", type=int, default=8765, help="websocket port (0 = any)")
    p.add_argument("--speed", type=float, default=60.0,
                   help="simulated seconds per real second (default 60); 0 = stepped by "
                        "POST /_sim/step")  # fmt: skip
    p.add_argument("--start", help="first IST date played, YYYY-MM-DD")
    p.add_argument("--end", help="last IST date played, YYYY-MM-DD")
    p.add_argument("--api-key", default="sim-openalgo-key", help="the API key to accept")
    p.add_argument("--cash", type=float, default=10_000_000.0, help="opening cash, INR")
    p.add_argument("--slippage-bps", type=float, default=0.0, help="MARKET fill slippage")
    p.add_argument("--no-wait", action="store_true", help="start the clock at once")
    p.add_argument("--exit-at-end", action="store_true", help="exit when the replay ends")
    p.set_defaults(func=cmd_sim)


def cmd_sim(ns: argparse.Namespace) -> int:
    """Run the simulator until Ctrl+C (or the end with ``--exit-at-end``); exit status."""
    from mixbot.simulators.openalgo import Simulator

    data = []
    for spec in ns.data:
        path, _, rest = spec.partition(":")
        full = expand_data_path(path) if path.startswith("@data/") else path
        data.append(f"{full}:{rest}" if rest else str(full))
    try:
        sim = Simulator(data, port=ns.port, ws_port=ns.ws_port, speed=ns.speed, start=ns.start,
                        end=ns.end, api_key=ns.api_key, cash=ns.cash,
                        slippage_bps=ns.slippage_bps, wait_for_client=not ns.no_wait).start()  # fmt: skip
    except Exception as exc:  # noqa: BLE001 - one clear line, no traceback
        print(f"mixbot openalgo-sim: error: {exc}", file=sys.stderr)
        return 2
    print("# OpenAlgo simulator ready; paste these lines into the bot's shell:")
    for k, v in sim.env().items():
        print(f"export {k}={shlex.quote(v)}")
    for inst in sim.instruments:
        print(
            f"# instrument {inst.exchange}:{inst.symbol}  {len(inst.ends)} bars  lot {inst.lot_size}"
        )
    print("# Ctrl+C to stop", flush=True)
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
