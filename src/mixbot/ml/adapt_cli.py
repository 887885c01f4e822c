"""``mixbot adapt CONFIG``: adapt a bot's ATR stop / target multipliers per symbol from its
closed trades in the store (:func:`mixbot.ml.adapt.adapt_for_config`), print the result and,
with ``--write``, record it with the bot's model (:mod:`mixbot.ml.registry`).

No TensorFlow import: the command only reads the store.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from typing import Any

from mixbot.errors import MixbotError


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{v:.0%}"


def _table(bot_id: str, results: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    t = Table(title=f"adaptive ATR multipliers of bot {bot_id}")
    cols = ("symbol", "trades", "win rate", "SL share", "TP share", "SL", "TP", "from", "reason")
    for col in cols:
        t.add_column(col, justify="left" if col in ("symbol", "reason") else "right")
    for sym, r in results.items():
        s = r.stats
        t.add_row(
            sym,
            str(s["n"]),
            _pct(s["win_rate"]),
            _pct(s["sl_share"]),
            _pct(s["tp_share"]),
            f"{r.old_sl:g} -> {r.sl:g}",
            f"{r.old_tp:g} -> {r.tp:g}",
            r.source,
            r.reason,
        )
    Console(width=None if sys.stdout.isatty() else 200).print(t)


def _record(bot_id: str, symbol: str, doc: dict[str, Any]) -> Any:
    """Record the result of ``symbol`` with the bot's newest model
    (``registry.record_adaptation``: ``stops`` = the model's stops with the new multipliers);
    a clear error before the registry exists or without a model."""
    try:
        from mixbot.ml import registry
    except ImportError:
        registry = None  # type: ignore[assignment]
    if registry is None or not hasattr(registry, "record_adaptation"):
        raise MixbotError("no model registry yet: run mixbot train first")
    res = doc["symbols"][symbol]
    stops = {
        **registry.load(bot_id, "latest", doc["config"]).stops,
        "sl_multiplier": res["sl"],
        "tp_multiplier": res["tp"],
    }
    return registry.record_adaptation(bot_id, {**doc, "stops": stops})


def cmd_adapt(args: argparse.Namespace) -> int:
    """Run ``mixbot adapt``; 0 on success."""
    from mixbot.ml.adapt import Rules, adapt_for_config
    from mixbot.service.bots import BotService

    settings: dict[str, Any] = {
        "sl_bounds": tuple(args.sl_bounds),
        "tp_bounds": tuple(args.tp_bounds),
        "min_trades": args.min_trades,
        "recent": args.recent,
        "step": args.step,
    }
    svc = BotService()
    try:
        ref = svc.ref(args.config)
        bot_id, symbol = ref.bot_id, ref.cfg.data.symbol
        results = adapt_for_config(args.config, service=svc, sl=args.sl, tp=args.tp, **settings)
    finally:
        svc.close()
    doc = {
        "config": str(args.config),
        "bot_id": bot_id,
        "settings": {**settings, "rules": asdict(Rules())},
        "symbols": {s: r.to_dict() for s, r in results.items()},
    }
    if args.json:
        print(json.dumps(doc, indent=2, default=str))
    else:
        _table(bot_id, results)
    if args.write:
        where = _record(bot_id, symbol, doc)
        print(f"recorded with the model of bot {bot_id}: {where}")
    return 0


def add_parsers(sub: Any) -> None:
    """Register ``adapt`` on the ``mixbot`` sub-command parser ``sub``."""
    p = sub.add_parser(
        "adapt",
        help="adapt the ATR stop/target multipliers per symbol from the bot's trades",
        description="Read the bot's closed trades from its store and move its ATR stop-loss "
        "and take-profit multipliers per symbol within bounds: a low win rate (< 40 %) with "
        "many stop exits (> 50 %) loosens the stop; a high win rate (> 60 %) with few target "
        "exits (< 20 %) brings the target closer; many target exits (> 50 %) with a win rate "
        "> 50 % extend it; fewer than --min-trades trades change nothing. --write records the "
        "result with the bot's model.",
    )
    p.add_argument("config", metavar="CONFIG", help="bot config, e.g. config/trading/0001.json")
    p.add_argument("--write", action="store_true", help="record the result with the model")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument(
        "--sl",
        type=float,
        help="current stop multiplier (default: the model's, else the exit's x_sl_multiplier)",
    )
    p.add_argument(
        "--tp",
        type=float,
        help="current target multiplier (default: the model's, else the exit's x_tp_multiplier)",
    )
    p.add_argument(
        "--sl-bounds",
        nargs=2,
        type=float,
        default=[1.0, 4.0],
        metavar=("LO", "HI"),
        help="stop multiplier bounds in ATRs (default 1 4)",
    )
    p.add_argument(
        "--tp-bounds",
        nargs=2,
        type=float,
        default=[1.5, 6.0],
        metavar=("LO", "HI"),
        help="target multiplier bounds in ATRs (default 1.5 6)",
    )
    p.add_argument(
        "--min-trades", type=int, default=10, help="fewer trades change nothing (default 10)"
    )
    p.add_argument("--recent", type=int, default=50, help="newest trades used (default 50)")
    p.add_argument("--step", type=float, default=0.25, help="ATRs per change (default 0.25)")
    p.set_defaults(func=cmd_adapt)
