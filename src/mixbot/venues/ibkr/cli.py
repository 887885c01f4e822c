"""``mixbot ibkr-sim``: the local TWS simulator (:mod:`mixbot.simulators.ibkr.cli`)."""

from __future__ import annotations

import argparse


def add_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``ibkr-sim`` to the ``mixbot`` sub-commands."""

    from mixbot.simulators.ibkr import cli as sim_cli

    p = sub.add_parser(
        "ibkr-sim",
        help="start the local TWS / IB Gateway simulator (TWS socket protocol on real data)",
        description=sim_cli.DESCRIPTION,
    )
    sim_cli.add_arguments(p)
    p.set_defaults(func=sim_cli.run)
