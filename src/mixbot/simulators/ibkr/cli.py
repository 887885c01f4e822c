"""Command line of the simulator: ``mixbot ibkr-sim --data FILE... [options]``.

Prints the ``export MIXBOT_IBKR_HOST=... MIXBOT_IBKR_PORT=...`` lines to paste into the shell
that runs the bot, then serves until Ctrl+C (exit status 0), or until the replay ends when
``--exit-at-end`` is given. Bad arguments or unreadable files print one line, status 2.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import threading
from collections.abc import Sequence

from mixbot.errors import DataFileError
from mixbot.paths import expand_data_path

DESCRIPTION = (
    "Serve a local TWS / IB Gateway (TWS socket protocol, server version 178) replaying real "
    "1-minute bar files."
)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="mixbot ibkr-sim", description=DESCRIPTION)
    add_arguments(p)
    return p


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The simulator's options (also the ``mixbot ibkr-sim`` sub-command's)."""
    p.add_argument("--data", nargs="+", required=True, metavar="FILE", help="1-minute bar files")
    p.add_argument("--port", type=int, default=7497, help="TCP port on 127.0.0.1 (0 = any)")
    p.add_argument(
        "--speed",
        type=float,
        default=0.0,
        help="simulated seconds per real second; 0 (default) = lockstep: the next minute "
        "when every subscriber has processed the last one",
    )
    p.add_argument("--start", help="first replayed date YYYY-MM-DD (default: the 2nd data day)")
    p.add_argument("--end", help="last replayed date YYYY-MM-DD")
    p.add_argument("--cash", type=float, default=2_000_000.0, help="starting cash")
    p.add_argument(
        "--commission", type=float, default=0.0003, help="fraction of traded value per fill"
    )
    p.add_argument("--exit-at-end", action="store_true", help="exit when the replay ends")


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and :func:`run`."""
    return run(build_parser().parse_args(argv))


def run(ns: argparse.Namespace) -> int:
    """Run the simulator; see the module docstring for the exit statuses."""
    from mixbot.simulators.ibkr.server import Simulator

    try:
        sim = Simulator(
            [expand_data_path(f) for f in ns.data],
            port=ns.port,
            speed=ns.speed,
            start=ns.start,
            end=ns.end,
            cash=ns.cash,
            commission=ns.commission,
        )
    except (DataFileError, ValueError, OSError) as exc:
        print(f"mixbot ibkr-sim: {exc}", file=sys.stderr)
        return 2
    sim.start()
    for k, v in sim.env().items():
        print(f"export {k}={shlex.quote(v)}")
    names = ", ".join(f"{i.contract.symbol} {i.contract.sec_type}" for i in sim.instruments)
    print(f"# serving {names}: {len(sim.minutes)} minutes, speed {ns.speed:g}", flush=True)
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
