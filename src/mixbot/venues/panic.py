"""``mixbot panic CONFIG``: the kill switch of the bot's venue, found through the registry.

The venue's :attr:`~mixbot.venues.registry.VenueSpec.panic` hook acts on the BROKER's state
(its order book and positions), not on what a bot process believes, so it works with no bot
running (Upstox: :func:`mixbot.venues.upstox.panic.panic`). A broker type without a venue
account (paper, mock) has no such hook: its running bot is panicked with
``BotService.panic`` (``mixbot`` command ``panic`` sent to the bot).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from mixbot.venues import registry


def _confirm(prompt: str) -> bool:
    try:
        answer = input(prompt)
    except EOFError:
        return False
    return answer.strip().lower() in ("y", "yes")


def _say(line: str, err: bool = False) -> None:
    print(line, file=sys.stderr if err else sys.stdout)


def run_panic(
    cfg: Any,
    *,
    reason: str,
    confirm: Callable[[str], bool] = _confirm,
    say: Callable[..., None] = _say,
    database_url: str | None = None,
) -> int:
    """Run the panic hook of the venue of ``cfg.broker.type`` (see
    :class:`~mixbot.venues.base.PanicHook`); returns its exit code (0: nothing left open).
    ``database_url``: the bot's store (default: the config's live store).

    Raises:
        ConfigError: the broker type has no venue account to act on (paper, mock).
    """
    from mixbot.errors import ConfigError

    kind = cfg.broker.type
    venue = registry.for_broker(kind)
    if venue is None or venue.panic is None:
        accounts = ", ".join(t for v in registry.venues() if v.panic for t in v.broker_types)
        raise ConfigError(
            f"{cfg.source_file}: broker.type is {kind!r}: `mixbot panic` acts on a venue "
            f"account ({accounts}); stop a paper bot with Ctrl-C"
        )
    return venue.panic(cfg, reason=reason, confirm=confirm, say=say, database_url=database_url)


def cmd_panic(args: argparse.Namespace) -> int:
    """``mixbot panic CONFIG [--yes] [--reason TEXT]``: see :func:`run_panic`."""
    from mixbot.config.load import load_config

    cfg = load_config(args.config)
    return run_panic(cfg, reason=args.reason, confirm=(lambda _p: True) if args.yes else _confirm)


def add_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register ``mixbot panic`` on the ``mixbot`` sub-parsers."""
    p = sub.add_parser(
        "panic",
        help="kill switch: cancel all open venue orders (Upstox, IBKR), exit all positions "
        "at MARKET, halt the bot",
        description="Kill switch. Cancels every open order of the bot's venue account (the "
        "venues with a kill switch: Upstox, Interactive Brokers), "
        "closes every open position with a MARKET order and marks the bot halted in its store, "
        "writing each step to the audit trail. Works whether or not the bot is running.",
    )
    p.add_argument(
        "config",
        help="the bot's config file (a broker with a kill switch: upstox, upstox_sandbox, ibkr)",
    )
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    p.add_argument(
        "--reason", default="manual panic (mixbot panic)", help="reason for the audit trail"
    )
    p.set_defaults(func=cmd_panic)
