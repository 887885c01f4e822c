"""Command line of the simulator: ``mixbot upstox-sim --data FILE... [options]``.

Prints the ``export`` lines to paste into the shell that runs the bot (API and assets
bases, the CA bundle, the token), then serves until Ctrl+C (exit status 0), or until the
replay ends when ``--exit-at-end`` is given. Bad arguments or unreadable files print one
clear line and exit with status 2.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mixbot.simulators.upstox.app import Simulator


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="mixbot upstox-sim",
        description="Serve a local Upstox (REST + market-data websocket) replaying bar files.",
    )
    p.add_argument("--data", nargs="+", required=True, metavar="FILE", help="bar files")
    p.add_argument("--port", type=int, default=8443, help="TCP port on 127.0.0.1 (0 = any)")
    p.add_argument(
        "--speed",
        type=float,
        default=1.0,
        help="simulated seconds per real second; 0 = as fast as clients read (default 1)",
    )
    p.add_argument("--start", help="first simulated date YYYY-MM-DD")
    p.add_argument("--end", help="last simulated date YYYY-MM-DD")
    p.add_argument("--token", default="sim-token", help="the access token to accept")
    p.add_argument("--tls-dir", type=Path, help="folder for ca.pem/server.pem (default: temp)")
    p.add_argument("--ticks-per-bar", type=int, default=8, help="synthetic trades per minute")
    p.add_argument("--no-wait", action="store_true", help="start the clock at once")
    p.add_argument("--exit-at-end", action="store_true", help="exit when the replay ends")
    p.add_argument("--cash", type=float, default=10_000_000.0, help="opening cash, INR")
    p.add_argument("--slippage-bps", type=float, default=0.0, help="MARKET fill slippage")
    p.add_argument(
        "--expire-tokens",
        action="store_true",
        help="the token dies the night before each session after the first (Upstox: 03:30 "
        "IST); only a new login (`mixbot upstox login`) gives one that works",
    )
    p.add_argument(
        "--hold-for-login",
        action="store_true",
        help="with --expire-tokens: the next session waits until that login",
    )
    p.add_argument(
        "--freeze-quantity",
        type=int,
        metavar="Q",
        help="freeze quantity of every future (default: the exchange's, BANKNIFTY 1200): "
        "orders above it need slice=true and come back as several orders",
    )
    f = p.add_argument_group("faults (also: POST /_sim/faults)")
    f.add_argument("--drop-every", type=float, metavar="S", help="cut each socket after S s")
    f.add_argument("--stall", type=float, metavar="S", help="send nothing for S s at start")
    f.add_argument("--outage", type=float, metavar="S", help="refuse everything for S s")
    f.add_argument("--rate-limit", type=int, metavar="K", help="429 for the next K calls")
    f.add_argument("--server-errors", type=int, metavar="K", help="500 for the next K calls")
    f.add_argument("--delay-ms", type=int, metavar="MS", help="delay every REST answer")
    f.add_argument("--reject-orders", type=int, metavar="K", help="reject the next K orders")
    f.add_argument("--reject-reason", metavar="TEXT", help="status_message of those rejections")
    f.add_argument("--order-errors", type=int, metavar="K", help="500 for the next K order calls")
    f.add_argument(
        "--drop-responses", type=int, metavar="K", help="create the next K orders, never answer"
    )
    f.add_argument("--drop-mode", choices=("close", "hang"), help="how to drop (default close)")
    f.add_argument("--partial-fill", type=float, metavar="F", help="fill F of an order per tick")
    return p


def _faults(ns: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {}
    names = (
        "drop_every", "stall", "outage", "rate_limit", "server_errors", "delay_ms",
        "reject_orders", "reject_reason", "order_errors", "drop_responses", "drop_mode",
        "partial_fill",
    )  # fmt: skip
    for name in names:
        value = getattr(ns, name)
        if value is not None:
            out[name] = value
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Run the simulator CLI; returns the exit status."""
    ns = build_parser().parse_args(argv)
    try:
        sim = Simulator(
            files=[Path(x) for x in ns.data],
            port=ns.port,
            speed=ns.speed,
            start=ns.start,
            end=ns.end,
            token=ns.token,
            tls_dir=ns.tls_dir,
            ticks_per_bar=ns.ticks_per_bar,
            wait_for_client=not ns.no_wait,
            faults=_faults(ns),
            cash=ns.cash,
            slippage_bps=ns.slippage_bps,
            expire_tokens=ns.expire_tokens,
            hold_for_login=ns.hold_for_login,
            freeze_quantity=ns.freeze_quantity,
        )
        sim.start()
    except Exception as exc:  # clear one-line message, no traceback
        print(f"mixbot upstox-sim: error: {exc}", file=sys.stderr)
        return 2
    print("# Upstox simulator ready; paste these lines into the bot's shell:")
    for k, v in sim.env().items():
        print(f"export {k}={shlex.quote(v)}")
    for inst in sim.instruments:
        print(f"# instrument {inst.key}  {inst.quote_key}  lot {inst.lot_size}")
    print(f"# faults: curl --cacert {sim.ca_path} -X POST {sim.base_url}/_sim/faults -d '{{...}}'")
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


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
