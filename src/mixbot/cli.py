"""The ``mixbot`` command.

Exit codes: 0 success, 2 invalid input (config or data), 1 internal error, 130 interrupted.
Every :class:`~mixbot.errors.MixbotError` is printed as a message, never a traceback.
Heavy modules (Backtrader, pandas, matplotlib) are imported inside the commands that
need them, so ``mixbot validate`` stays fast.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

from mixbot import __version__

EPILOG = """examples:
  mixbot validate config/trading/*.json          check configs, every problem at once
  mixbot validate config/mixbot.json             check the host settings file
  mixbot serve config/trading/                   run every bot there, one process each
  mixbot status --all                            every bot's state, pid and heartbeat
  mixbot validate --show-effective config/trading/0001.json
  mixbot backtest config/trading/0001.json --from 2015-01-01 --report reports/0001
  mixbot run config/trading/0003.json            paper session (replayed file or live feed)
  mixbot status config/trading/0003.json         the bot's state from the store
  mixbot trades config/trading/0003.json --csv trades.csv
  mixbot demo                                    the two real-data jobs of the quick start
  mixbot schema --export                         refresh config/schema/bot.schema.json
  mixbot upstox-sim --data @data/nse_1min/BANKNIFTY_F1_2019H1.txt --speed 60
                                                 local Upstox simulator (prints the exports to use)
"""


def cmd_validate(args: argparse.Namespace) -> int:
    from mixbot.config.schema import secret_fields
    from mixbot.config.secrets import mask
    from mixbot.config.settings import is_settings_file, validate_settings_file
    from mixbot.config.validate import validate_file

    reports = [
        validate_settings_file(f) if is_settings_file(f) else validate_file(f) for f in args.files
    ]
    if args.format == "json":
        out = [
            {
                "file": r.file,
                "valid": r.ok,
                "problems": [p.to_dict() for p in r.problems],
                **(
                    {"effective": mask(r.effective, secret_fields())}
                    if args.show_effective and r.effective
                    else {}
                ),
            }
            for r in reports
        ]
        print(json.dumps(out, indent=2))
    else:
        for r in reports:
            for p in r.problems:
                print(p.render())
            n_err, n_warn = len(r.errors), len(r.problems) - len(r.errors)
            status = "valid" if r.ok else f"INVALID ({n_err} error{'s' * (n_err != 1)})"
            extra = f", {n_warn} warning{'s' * (n_warn != 1)}" if n_warn else ""
            print(f"{r.file}: {status}{extra}")
            if args.show_effective and r.effective is not None:
                print(json.dumps(mask(r.effective, secret_fields()), indent=2))
    return 0 if all(r.ok for r in reports) else 2


def cmd_schema(args: argparse.Namespace) -> int:
    from mixbot.config.schema import export_text

    if args.markdown:
        from mixbot.config.reference import markdown

        sys.stdout.write(markdown())
        return 0
    text = export_text()
    target = Path(args.path)
    if args.check:
        current = target.read_text(encoding="utf-8") if target.exists() else ""
        if current != text:
            print(f"{target} is out of date: run `mixbot schema --export`", file=sys.stderr)
            return 2
        print(f"{target} is up to date")
        return 0
    if args.export:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        print(f"wrote {target}")
        return 0
    sys.stdout.write(text)
    return 0


def _add_engine_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    try:
        from mixbot.engine import commands
    except ImportError:
        return
    commands.add_parsers(sub)
    from mixbot.engine import audit_commands, lookahead_commands, serve, store_commands

    store_commands.add_parsers(sub)
    lookahead_commands.add_parsers(sub)
    from mixbot.ml import cli as ml_cli

    ml_cli.add_parsers(sub)
    audit_commands.add_parsers(sub)
    serve.add_parsers(sub)
    from mixbot.web import cli as web_cli

    web_cli.add_parsers(sub)
    _add_upstox_commands(sub)


def _add_upstox_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    def run_sim(args: argparse.Namespace) -> int:
        from mixbot.simulators.upstox.cli import main as sim_main

        return sim_main(args.sim_args)

    p = sub.add_parser(
        "upstox-sim",
        help="start the local Upstox simulator (REST + market-data websocket on real data)",
        description="Start the local Upstox simulator; all arguments go to it "
        "(`mixbot upstox-sim --help` for its options).",
        add_help=False,
    )
    p.add_argument("sim_args", nargs=argparse.REMAINDER, help="simulator arguments")
    p.set_defaults(func=run_sim)
    from mixbot.venues import registry as venues

    # each venue's own commands (its registration lists the modules), then the venue-neutral
    # `mixbot feed-test` / `data download` and `mixbot panic`
    modules = [m for v in venues.venues() for m in v.cli_modules]
    modules += ["mixbot.venues.commands", "mixbot.venues.panic"]
    for module in modules:
        try:
            mod = __import__(module, fromlist=["add_parsers"])
        except ImportError:
            continue
        mod.add_parsers(sub)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``mixbot`` command (one sub-command per job)."""
    parser = argparse.ArgumentParser(
        prog="mixbot",
        description="Run JSON-configured Backtrader trading bots (NSE via Upstox, paper, backtest).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"mixbot {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser(
        "validate",
        help="check bot configs and report every problem",
        description="Validate bot configs against the schema, the mixin parameter schemas "
        "and semantic rules. Exit 0 = all valid, 2 = some invalid, 1 = internal error.",
    )
    p.add_argument(
        "files", nargs="+", metavar="FILE", help="config files (e.g. config/trading/*.json)"
    )
    p.add_argument(
        "--format", choices=["text", "json"], default="text", help="output format (json for tools)"
    )
    p.add_argument(
        "--show-effective",
        action="store_true",
        help="print each config with defaults filled and secrets masked",
    )
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser(
        "schema",
        help="print or export the bot config JSON Schema",
        description="Print the editor JSON Schema (base schema + mixin params), or write it.",
    )
    p.add_argument("--export", action="store_true", help="write it to --path")
    p.add_argument("--markdown", action="store_true", help="print the config reference as Markdown")
    p.add_argument(
        "--check", action="store_true", help="exit 2 when the file at --path is out of date"
    )
    p.add_argument(
        "--path", default="config/schema/bot.schema.json", help="target file (default: %(default)s)"
    )
    p.set_defaults(func=cmd_schema)

    _add_engine_commands(sub)
    return parser


def console() -> None:
    """The ``mixbot`` console script and ``python -m mixbot``: :func:`main`, then a fast exit.

    Interpreter finalisation of a bot process (freeing Backtrader's line buffers, pandas and
    the store's objects one by one) takes seconds, far more on a loaded machine, and would
    eat into ``mixbot serve``'s stop timeout after the bot has already stopped cleanly. Every
    fact is committed to the store before :func:`main` returns, so after flushing the logs
    and the standard streams the process exits with ``os._exit`` (no atexit handlers or
    finalisers run; mixbot registers none that matter). Under a profiler or coverage tracer
    it exits normally, so they can write their results.
    """
    import logging
    import os

    code = main()
    if sys.gettrace() is not None or sys.getprofile() is not None:
        sys.exit(code)  # under a profiler or coverage: let them write their results
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``mixbot`` console script; returns the exit code."""
    from mixbot.errors import MixbotError

    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["upstox-sim"]:  # every option belongs to the simulator's own parser
        from mixbot.paths import expand_data_path
        from mixbot.simulators.upstox.cli import main as sim_main

        sim_argv = [str(expand_data_path(a)) if a.startswith("@data/") else a for a in argv[1:]]
        try:
            return sim_main(sim_argv)
        except KeyboardInterrupt:
            return 130
    parser = build_parser()
    args = parser.parse_args(argv)
    func: Callable[[argparse.Namespace], int] | None = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    try:
        return func(args)
    except MixbotError as exc:
        print(f"mixbot: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("mixbot: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # last resort: say what broke, where to look, no traceback spam
        import traceback

        log = Path("logs") / "errors.log"
        try:
            log.parent.mkdir(parents=True, exist_ok=True)
            with log.open("a", encoding="utf-8") as fh:
                traceback.print_exc(file=fh)
        except OSError:
            pass
        print(
            f"mixbot: internal error: {type(exc).__name__}: {exc} (traceback in {log})",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
