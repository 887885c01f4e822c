"""CLI sub-commands ``mixbot train`` and ``mixbot models`` (and the ``adapt`` registration)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

TRAIN_EPILOG = """\
examples:
  mixbot train config/trading/0007.json            # full run (about 10-15 min on 2 cores)
  mixbot train config/trading/0007.json --quick    # tiny model, 1 fold: under a minute
  mixbot train config/trading/0007.json --folds 4 --ensemble 5 --trials 10 --epochs 20

The model is registered under models/<bot_id>/<version>/ (git-ignored; $MIXBOT_MODELS moves
it) with its out-of-sample report (report.json, report.png). `mixbot backtest CONFIG` then
trades with the latest version (or the one the ML mixin's "model" param names).
"""


def quiet_tensorflow() -> None:
    """Keep TensorFlow's C++ start-up chatter and a Keras warning about ``tf.data`` shuffling
    (the pipeline shuffles itself) off the console."""
    import os
    import warnings

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    warnings.filterwarnings("ignore", message=".*shuffle=True.*was passed")


def cmd_train(args: argparse.Namespace) -> int:
    """Train, report and register a model for one config (see ``mixbot train --help``)."""
    from rich.console import Console

    from mixbot.config.load import load_config
    from mixbot.ml.dataset import ml_params
    from mixbot.ml.train import TrainOptions

    cfg = load_config(args.config)
    ml_params(cfg)  # a config without an ML mixin fails here, before TensorFlow loads
    quiet_tensorflow()
    kw = {
        "folds": args.folds,
        "ensemble": args.ensemble,
        "trials": args.trials,
        "epochs": args.epochs,
        "seed": args.seed,
        "mode": args.mode,
        "date_from": args.date_from,
        "date_to": args.date_to,
    }
    if args.quick:
        opts = TrainOptions.quick_run(**kw)
    else:
        opts = TrainOptions(**{k: v for k, v in kw.items() if v is not None})
    from mixbot.ml import pipeline
    from mixbot.ml.report_render import render_text

    out = pipeline.run(cfg, opts, progress=not args.no_progress)
    sys.stdout.write(render_text(out.report) + "\n")  # rendered at its own width already
    console = Console()
    console.print(f"model: {out.path} (bot {cfg.bot_id}, version {out.version})")
    console.print(f"report: {out.path / 'report.json'}, {out.path / 'report.png'}")
    return 0


def model_rows(bot_ids: list[str]) -> list[dict[str, Any]]:
    """One row per registered version of ``bot_ids`` (``mixbot models`` and the web API)."""
    from mixbot.ml import registry

    rows = []
    for bot in bot_ids:
        for rec in registry.versions(bot):
            m = rec.meta
            oos = m.get("oos") or {}
            rows.append(
                {
                    "bot_id": bot,
                    "version": rec.version,
                    "created": m.get("created"),
                    "interval": m.get("interval"),
                    "feature_set": m.get("feature_set"),
                    "data": f"{m['data']['from'][:10]} .. {m['data']['to'][:10]}",
                    "folds": len(m.get("folds", [])),
                    "members": len(m.get("final", {}).get("members", [])),
                    "oos_trades": oos.get("n_trades"),
                    "oos_sharpe": oos.get("sharpe"),
                    "oos_net_return_pct": oos.get("total_return_pct"),
                    "stops": rec.stops,
                    "path": str(rec.path),
                }
            )
    return rows


def cmd_models(args: argparse.Namespace) -> int:
    """List the registered models (of one config's bot, or of every bot)."""
    from rich.console import Console
    from rich.table import Table

    from mixbot.ml import registry

    if args.config:
        from mixbot.config.load import load_config

        bots = [load_config(args.config).bot_id]
    else:
        bots = registry.all_bots()
    rows = model_rows(bots)
    if args.json:
        print(json.dumps(rows, indent=2, default=str))
        return 0
    if not rows:
        print(f"no models in {registry.models_root()}: train one with `mixbot train CONFIG`")
        return 0
    t = Table(title=f"models in {registry.models_root()}")
    for col in ("bot", "version", "created (UTC)", "bars", "data", "folds", "members",
                "OOS trades", "OOS Sharpe", "OOS net %", "SL/TP ATRs"):  # fmt: skip
        t.add_column(col)
    for r in rows:
        sh = r["oos_sharpe"]
        net = r["oos_net_return_pct"]
        t.add_row(
            r["bot_id"], r["version"], str(r["created"])[:19], str(r["interval"]), r["data"],
            str(r["folds"]), str(r["members"]), str(r["oos_trades"]),
            "n/a" if sh is None else f"{sh:.2f}", "n/a" if net is None else f"{net:.2f}",
            f"{r['stops']['sl_multiplier']:g}/{r['stops']['tp_multiplier']:g}",
        )  # fmt: skip
    Console().print(t)
    return 0


def add_parsers(sub: Any) -> None:
    """Register ``train``, ``models`` and ``adapt`` on the ``mixbot`` sub-command parser."""
    p = sub.add_parser(
        "train",
        help="train, report and register the ML mixin's model (walk-forward, ensemble, tuner)",
        description="Walk-forward training of the config's ML model: KerasTuner searches the "
        "sizes on the first fold's validation Sharpe, each fold trains an ensemble that "
        "predicts its out-of-sample test block, a final ensemble trains on all the data; "
        "prints the out-of-sample report (against buy-and-hold and a no-skill baseline).",
        epilog=TRAIN_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("config", metavar="CONFIG", help="bot config with an ML mixin")
    p.add_argument("--folds", type=int, help="walk-forward folds (default 3; --quick 1)")
    p.add_argument("--ensemble", type=int, help="models per fold (default 3; --quick 1)")
    p.add_argument("--trials", type=int, help="tuner trials (default 6; --quick 2)")
    p.add_argument("--epochs", type=int, help="max epochs per fit (default 12; --quick 3)")
    p.add_argument("--quick", action="store_true", help="tiny model, 1 fold: under a minute")
    p.add_argument("--seed", type=int, help="seed of every random choice (default 7)")
    p.add_argument(
        "--mode", choices=["expanding", "rolling"], help="training spans (default expanding)"
    )
    p.add_argument("--from", dest="date_from", metavar="DATE", help="first date (YYYY-MM-DD)")
    p.add_argument("--to", dest="date_to", metavar="DATE", help="last date (YYYY-MM-DD)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_train)
    p = sub.add_parser(
        "models",
        help="list registered models (versions, data, out-of-sample figures, stops)",
        description="List the models in the registry (models/, or $MIXBOT_MODELS): of one "
        "config's bot, or of every bot.",
    )
    p.add_argument("config", metavar="CONFIG", nargs="?", help="bot config (default: all bots)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_models)
    from mixbot.ml import adapt_cli

    adapt_cli.add_parsers(sub)
