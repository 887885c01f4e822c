"""``mixbot lookahead CONFIG [CONFIG...]``: the lookahead-bias check of a config's mixins.

For each config, its entry and exit mixins (with the config's params) are checked on its
data file by :func:`mixbot.engine.lookahead.check_config`: signals and indicators computed
on the bars truncated at N seeded random cut bars must equal those of the whole-series run.
One table per config. Exit code: 0 every mixin passed, 1 some mixin failed (a lookahead was
found), 2 bad input (a config or its data could not be used; the other configs are still
checked; a failure takes precedence over bad input).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path
from typing import Any

DESCRIPTION = """\
Check that the config's entry and exit mixins never look ahead: for N seeded random cut
bars spread over the data after the warm-up, each mixin is computed on the bars up to the
cut (what a live bot knows at that bar's close) and its signals and indicator arrays at the
cut (and the few bars before it) must equal those of the whole-series run that a backtest
uses. Exit mixins hold a simulated position entered a few bars before each cut. A failure
names the first offending bar (its END time in the exchange's time zone, IST for NSE), the
indicator (the mixin attribute, should_enter / should_exit, a position-state field, or an
error raised when reading past the cut) and both values.

Exit code: 0 all pass, 1 some mixin fails, 2 bad input (config or data file unusable)."""

EPILOG = """\
examples:
  mixbot lookahead config/trading/0001.json
  mixbot lookahead config/trading/*.json --cuts 200 --seed 7
  mixbot lookahead config/trading/0003.json --from 2019-03-01 --to 2019-03-31
  UPSTOX_ACCESS_TOKEN=unused mixbot lookahead config/trading/live/upstox_reliance.json \\
      --data @data/nse_1min/BANKNIFTY_F1_2019H1.txt   (a live config's mixins on a file)"""


def _count(minimum: int) -> Any:
    """An argparse type: an integer of at least ``minimum``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        return value

    return parse


def _with_data(cfg: Any, data: str) -> Any:
    """``cfg`` reading bars from the file ``data`` (``@data/`` expanded) instead of its own
    source; the rest of the config (bar size, dates, market, mixins) unchanged."""
    from mixbot.paths import expand_data_path

    path = expand_data_path(data, Path.cwd())
    return dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, path=path))


def _short(path: str) -> str:
    """``path`` as ``@data/...`` when it lies in the market-data folder."""
    from mixbot.paths import sample_data_dir

    root = sample_data_dir()
    if root is not None and Path(path).is_relative_to(root.resolve()):
        return "@data/" + Path(path).relative_to(root.resolve()).as_posix()
    return path


def _print(result: Any, n_cuts: int, seed: int) -> None:
    """One table for a config's check; under it, each failure's values and cut counts."""
    from rich.console import Console
    from rich.table import Table

    t = Table(
        title=f"lookahead {result.bot_id} ({result.source})",
        caption=f"{result.n_bars:,} bars {result.first_time} .. {result.last_time}, "
        f"{_short(result.data)}; up to {n_cuts} cuts per mixin, seed {seed}",
        header_style="bold",
    )
    t.add_column("mixin", no_wrap=True)
    t.add_column("cuts", justify="right")
    t.add_column("result")
    t.add_column("first offending bar")
    t.add_column("indicator")
    notes = []
    for c in result.checks:
        off = c.first
        if off is None:
            t.add_row(f"{c.kind} {c.name}", str(len(c.cuts)), "[green]PASS[/green]", "-", "-")
            continue
        t.add_row(
            f"{c.kind} {c.name}",
            str(len(c.cuts)),
            "[bold red]FAIL[/bold red]",
            f"{off.time} (bar {off.bar})",
            off.indicator,
        )
        notes.append(
            f"  {c.name}: {off.indicator} at bar {off.bar} is {off.full} on the whole series, "
            f"{off.truncated} on bars 0..{off.cut}; {len(c.failed_cuts)} of {len(c.cuts)} "
            "cuts differ"
        )
    console = Console()
    console.print(t)
    for line in notes:
        console.print(line, markup=False, highlight=False)


def cmd_lookahead(args: argparse.Namespace) -> int:
    from mixbot.config.load import load_config
    from mixbot.engine.lookahead import check_config
    from mixbot.errors import ConfigError, MixbotError

    failed = bad = False
    for path in args.configs:
        try:
            cfg = load_config(path)
            if args.data:
                cfg = _with_data(cfg, args.data)
            elif cfg.data.path is None:
                raise ConfigError(
                    f"{path}: data source {cfg.data.data_source!r} reads no file; check this "
                    "config's mixins on a data file with --data FILE"
                )
            result = check_config(
                cfg,
                args.cuts,
                args.seed,
                date_from=args.date_from,
                date_to=args.date_to,
                context=args.context,
            )
        except MixbotError as exc:
            print(f"mixbot: error: {exc}", file=sys.stderr)
            bad = True
            continue
        _print(result, args.cuts, args.seed)
        failed = failed or not result.passed
    if failed:
        print("lookahead: FAIL (a mixin's answer at a bar changed with later bars)")
        return 1
    if bad:
        return 2
    print(f"lookahead: PASS ({len(args.configs)} config(s))")
    return 0


def add_parsers(sub: Any) -> None:
    """Register ``mixbot lookahead`` on the ``mixbot`` parser."""
    p = sub.add_parser(
        "lookahead",
        help="check a config's mixins for lookahead bias (truncated vs whole-series signals)",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "configs", nargs="+", metavar="CONFIG", help="bot configs, e.g. config/trading/*.json"
    )
    p.add_argument(
        "--cuts", type=_count(1), default=50, help="cut bars per mixin (default %(default)s)"
    )
    p.add_argument(
        "--seed", type=int, default=0, help="seed of the random cut bars (default %(default)s)"
    )
    p.add_argument(
        "--context",
        type=_count(0),
        default=3,
        help="bars before each cut also compared (default %(default)s)",
    )
    p.add_argument(
        "--from",
        dest="date_from",
        metavar="DATE",
        help="first date, YYYY-MM-DD, exchange time zone (overrides data.from)",
    )
    p.add_argument(
        "--to",
        dest="date_to",
        metavar="DATE",
        help="last date, YYYY-MM-DD, exchange time zone (overrides data.to)",
    )
    p.add_argument(
        "--data",
        metavar="FILE",
        help="read bars from this file instead of data.path (@data/ = the market-data "
        "folder); lets a live config's mixins be checked",
    )
    p.set_defaults(func=cmd_lookahead)
