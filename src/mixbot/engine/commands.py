"""CLI sub-commands of the engine: backtest, run, demo."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def _print_result(
    title: str, result: Any, extra: list[tuple[str, str]] | None = None, tz: str = "Asia/Kolkata"
) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, show_header=True, header_style="bold")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for label, value in result.metrics.rows(tz):
        table.add_row(label, value)
    for label, value in extra or []:
        table.add_row(label, value)
    Console().print(table)


def _refusal_rows(result: Any) -> list[tuple[str, str]]:
    rows = [("bars processed", f"{result.bars:,}")]
    reasons: dict[str, int] = {}
    for t in result.trades:
        reasons[t.exit_reason] = reasons.get(t.exit_reason, 0) + 1
    if reasons:
        rows.append(("exits by reason", ", ".join(f"{k} {v}" for k, v in sorted(reasons.items()))))
    if result.refusals:
        rows.append(
            ("entries refused", ", ".join(f"{k}: {v}" for k, v in sorted(result.refusals.items())))
        )
    return rows


def cmd_backtest(args: argparse.Namespace) -> int:
    from mixbot.config.load import load_config
    from mixbot.engine.backtest import run_backtest

    cfg = load_config(args.config)
    report = Path(args.report) if args.report else Path("reports") / cfg.bot_id
    job = Path(args.job_dir) if args.job_dir else None
    if job is None:
        result = run_backtest(
            cfg,
            date_from=args.date_from,
            date_to=args.date_to,
            report_dir=report,
            progress=not args.no_progress,
        )
    else:  # a background job of mixbot.service.jobs: progress and end state in its folder
        from mixbot.service.jobs import finish, progress_writer

        try:
            result = run_backtest(
                cfg,
                date_from=args.date_from,
                date_to=args.date_to,
                report_dir=report,
                progress=False,
                progress_to=lambda total: progress_writer(job, total),
            )
        except BaseException as exc:
            finish(job, f"{type(exc).__name__}: {exc}")
            raise
        finish(job, None)
    _print_result(
        f"backtest {cfg.bot_id}: {cfg.description[:70]}",
        result,
        _refusal_rows(result),
        cfg.market.timezone,
    )
    for name, path in result.files.items():
        print(f"{name}: {path}")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    if getattr(args, "supervised", False):
        return _run_supervised(args)
    return _run(args)


def _run_supervised(args: argparse.Namespace) -> int:
    """``mixbot run --supervised`` (a bot process of ``mixbot serve``): exit codes tell the
    supervisor what to do: 0 done, 2 invalid config/data (no restart), 75 another process
    runs the bot (retry later), anything else a crash (restart with backoff)."""
    from mixbot.errors import ConfigError, DataFileError
    from mixbot.service.locks import BotAlreadyRunning
    from mixbot.service.supervisor import EXIT_INVALID, EXIT_LOCKED, as_supervised_child

    as_supervised_child()
    try:
        return _run(args)
    except BotAlreadyRunning as exc:
        print(f"mixbot: {exc}", file=sys.stderr)
        return EXIT_LOCKED
    except (ConfigError, DataFileError) as exc:
        print(f"mixbot: error: {exc}", file=sys.stderr)
        return EXIT_INVALID
    except Exception as exc:  # the supervisor restarts it; the traceback goes to the log
        import traceback

        traceback.print_exc()
        print(f"mixbot: bot crashed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1


def _run(args: argparse.Namespace) -> int:
    import json

    from mixbot.config.load import load_config
    from mixbot.engine.runner import Bot

    cfg = load_config(args.config)
    bot = Bot(cfg, mode="paper", console_level="WARNING", fresh=args.fresh)
    mode = bot.mode
    print(
        f"mixbot: running {cfg.bot_id} ({cfg.data.data_source}, broker {cfg.broker.type}); Ctrl+C stops "
        "gracefully",
        file=sys.stderr,
    )
    show = not args.no_progress and sys.stderr.isatty()
    result = bot.run(
        progress=(lambda n: print(f"\r  {n:,} bars", end="", file=sys.stderr)) if show else None
    )
    if show:
        print(file=sys.stderr)
    _print_result(
        f"{mode} session {cfg.bot_id}: {cfg.description[:60]}",
        result,
        _refusal_rows(result),
        cfg.market.timezone,
    )
    print(json.dumps(bot.get_status(), indent=2, default=str))
    if args.report:
        from mixbot.engine.backtest import write_report

        for name, path in write_report(cfg, result, Path(args.report)).items():
            print(f"{name}: {path}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from mixbot.paths import sample_data_dir

    data = sample_data_dir()
    if data is None or not (data / "nse_daily" / "RELIANCE.csv").exists():
        print(
            "mixbot demo: the real market-data folder was not found.\n"
            "Put it at ../shared/data (next to this repository) or set MIXBOT_DATA=/path/to/data; "
            "it must hold nse_daily/RELIANCE.csv and nse_1min/BANKNIFTY_F1_2019H1.txt.",
            file=sys.stderr,
        )
        return 2
    root = Path(__file__).resolve().parents[3] / "config" / "trading"
    print(
        f"== 1/2 backtest of config/trading/0001.json on {data / 'nse_daily/RELIANCE.csv'}",
        flush=True,
    )
    rc = cmd_backtest(
        argparse.Namespace(
            config=str(root / "0001.json"),
            date_from=None,
            date_to=None,
            report=None,
            no_progress=args.no_progress,
        )
    )
    if rc:
        return rc
    print(
        f"\n== 2/2 paper session replaying {data / 'nse_1min/BANKNIFTY_F1_2019H1.txt'} (config 0003)",
        flush=True,
    )
    return cmd_run(
        argparse.Namespace(
            config=str(root / "0003.json"),
            report="reports/0003",
            no_progress=args.no_progress,
            fresh=True,
        )
    )


def add_parsers(sub: Any) -> None:
    """Register backtest, run and demo on the ``mixbot`` parser."""
    p = sub.add_parser(
        "backtest",
        help="backtest a config on its data file",
        description="Run the config's strategy over its data file as fast as possible, print "
        "a metrics table and write a report (equity PNG, trades CSV, metrics JSON).",
    )
    p.add_argument("config", metavar="CONFIG", help="bot config, e.g. config/trading/0001.json")
    p.add_argument(
        "--from",
        dest="date_from",
        metavar="DATE",
        help="first IST date, YYYY-MM-DD (overrides data.from)",
    )
    p.add_argument(
        "--to", dest="date_to", metavar="DATE", help="last IST date, YYYY-MM-DD (overrides data.to)"
    )
    p.add_argument("--report", metavar="DIR", help="report folder (default reports/<bot_id>)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--job-dir", help=argparse.SUPPRESS)  # mixbot.service.jobs
    p.set_defaults(func=cmd_backtest)

    p = sub.add_parser(
        "run",
        help="run a bot as a paper session until the feed ends or Ctrl+C",
        description="Run the config as a live paper session: a replayed file (data_source "
        "replay) with simulated fills. Every order intent, fill, trade and a per-bar checkpoint "
        "go to the store (database.url, default data/mixbot_paper.sqlite), so a restarted bot "
        "resumes after the last bar recorded, repeating nothing. Ctrl+C stops after the current "
        "bar and prints the final status.",
    )
    p.add_argument("config", metavar="CONFIG", help="bot config, e.g. config/trading/0003.json")
    p.add_argument("--report", metavar="DIR", help="also write a report folder at the end")
    p.add_argument(
        "--fresh",
        action="store_true",
        help="start a new session: erase this bot's stored orders, trades and checkpoint first "
        "(default: resume after the last bar the store recorded)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress counter")
    p.add_argument(
        "--supervised",
        action="store_true",
        help=argparse.SUPPRESS,  # set by `mixbot serve` for its bot processes
    )
    p.set_defaults(func=cmd_run)

    p = sub.add_parser(
        "demo",
        help="the main job on real data: backtest 0001, replay 0003",
        description="Backtest config/trading/0001.json (RELIANCE daily) and replay "
        "config/trading/0003.json (BANKNIFTY 1-minute, 2019 H1) as a paper session.",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_demo)
