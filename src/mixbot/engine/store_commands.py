"""CLI adapters over the service layer that read the store or command a bot:
``mixbot status``, ``mixbot trades``, ``mixbot stop / pause / resume / force-exit``.

They work whether a bot is running, stopped, finished or was killed: everything comes from
the database (:class:`~mixbot.service.bots.BotService`). Several configs, folders or
``--all`` (``config/trading/``) may be given.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from mixbot.service.configs import DEFAULT_FOLDER


def _service(args: argparse.Namespace) -> Any:
    from mixbot.service.bots import BotService

    return BotService()


def _paths(args: argparse.Namespace) -> list[str]:
    paths = list(args.config or [])
    if args.all or not paths:
        paths.append(str(DEFAULT_FOLDER))
    return paths


def _one_status(svc: Any, path: str, mode: str | None) -> Any:
    from mixbot.service.locks import BotLock
    from mixbot.service.status import from_store

    ref, store = svc.ref_store(path, mode)
    return from_store(ref.cfg, store, BotLock(ref.url, ref.bot_id, ref.mode).holder())


def cmd_status(args: argparse.Namespace) -> int:
    svc = _service(args)
    try:
        if len(args.config or []) == 1 and not args.all:
            statuses = [_one_status(svc, args.config[0], args.mode)]
        else:
            statuses = svc.statuses(_paths(args))
    finally:
        svc.close()
    if args.json:
        out: Any = [s.to_dict() for s in statuses]
        print(json.dumps(out[0] if len(out) == 1 and not args.all else out, indent=2, default=str))
        return 0
    if len(statuses) == 1 and not args.all:
        _print_one(statuses[0])
    else:
        _print_many(statuses)
    return 0


def _print_many(statuses: list[Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    t = Table(title=f"{len(statuses)} bots")
    for col in (
        "bot",
        "mode",
        "status",
        "pid",
        "heartbeat",
        "last bar",
        "value INR",
        "trades",
        "net PnL INR",
    ):
        t.add_column(
            col, justify="right" if col in ("pid", "value INR", "trades", "net PnL INR") else "left"
        )
    for s in statuses:
        lb = s.last_bar_processed
        t.add_row(
            s.bot_id,
            s.mode,
            s.status[:60],
            (str(s.pid) if s.running else f"{s.pid} (ended)") if s.pid else "-",
            (s.last_heartbeat or "-")[:19],
            (lb["time"] or "")[:16] if lb else "-",
            f"{s.value:,.2f}" if s.value is not None else "-",
            str(s.trades_closed),
            f"{s.realized_pnl_total:,.2f}",
        )
    Console(width=None if sys.stdout.isatty() else 160).print(t)


def _print_one(st: Any) -> None:
    from rich.console import Console
    from rich.table import Table

    t = Table(title=f"bot {st.bot_id} ({st.mode})", show_header=False)
    t.add_column("field")
    t.add_column("value")
    lb = st.last_bar_processed
    rows = [
        ("status", st.status),
        ("process", f"pid {st.pid} on {st.host}" if st.running else "not running"),
        ("last heartbeat", st.last_heartbeat or "none"),
        ("feed", str(st.feed_state)),
        ("last bar processed", f"#{lb['index']} at {lb['time']}" if lb else "none yet"),
        ("cash (INR)", f"{st.cash:,.2f}" if st.cash is not None else "n/a"),
        ("value (INR)", f"{st.value:,.2f}" if st.value is not None else "n/a"),
        (
            "positions",
            ", ".join(f"{p['symbol']} {p['qty']:g} @ {p['avg_price']:.2f}" for p in st.positions)
            or "flat",
        ),
        (
            "open orders",
            ", ".join(
                f"{o['side']} {o['qty']:g} {o['type']} ({o['role']}, {o['status']})"
                for o in st.open_orders
            )
            or "none",
        ),
        (
            "today",
            f"{st.today.get('date')}: {st.today.get('entries', 0)} entries, realised PnL "
            f"{st.today.get('realized_pnl', 0.0):,.2f} INR",
        ),
        ("halts", "; ".join(st.halts) or "none"),
        ("outside the bot", st.outside or "nothing"),
        ("trades closed", f"{st.trades_closed} (net PnL {st.realized_pnl_total:,.2f} INR)"),
    ]
    for k, v in rows:
        t.add_row(k, v)
    Console().print(t)
    for e in st.recent_events:
        print(f"  {e['at']}  {e['kind']}: {e['message']}")


def cmd_trades(args: argparse.Namespace) -> int:
    from mixbot.service.trades import write_trades_csv

    svc = _service(args)
    try:
        paths = _paths(args)
        if len(args.config or []) == 1 and not args.all:
            _one_status(svc, args.config[0], None)  # a clear error when it never ran
        rows = svc.trades(paths, args.symbol, args.date_from, args.date_to)
        bots = sorted({r["bot_id"] for r in rows}) or [svc.ref(p).bot_id for p in args.config or []]
    finally:
        svc.close()
    if args.csv:
        path = write_trades_csv(rows, Path(args.csv))
        print(f"wrote {len(rows)} trades to {path}")
        return 0
    from rich.console import Console
    from rich.table import Table

    t = Table(title=f"trades of bot {', '.join(bots)}, market time")
    for col in (
        "bot",
        "entry",
        "exit",
        "qty",
        "entry INR",
        "exit INR",
        "net PnL INR",
        "charges",
        "reason",
    ):
        t.add_column(col, justify="left" if col in ("bot", "entry", "exit", "reason") else "right")
    for r in rows:
        t.add_row(
            r["bot_id"],
            str(r["entry_time"])[:16],
            str(r["exit_time"])[:16],
            f"{r['qty']:g}",
            f"{r['entry_price']:.2f}",
            f"{r['exit_price']:.2f}",
            f"{r['pnl_net']:,.2f}",
            f"{r['charges']:.2f}",
            _reason(r),
        )
    Console(width=None if sys.stdout.isatty() else 140).print(t)
    print(
        f"{len(rows)} trades, net PnL {sum(r['pnl_net'] for r in rows):,.2f} INR", file=sys.stderr
    )
    return 0


def _reason(row: dict[str, Any]) -> str:
    """The exit reason, with the closing orders when more than one filled (``take_profit
    20 + stop_loss 40``)."""
    parts = row.get("exit_parts") or []
    if len(parts) < 2:
        return str(row["exit_reason"])
    return " + ".join(f"{p['role']} {p['qty']:g}" for p in parts)


def cmd_control(args: argparse.Namespace) -> int:
    from mixbot.errors import ConfigError

    if not args.config and not args.all:
        raise ConfigError(f"name the bots' configs (or a folder), or --all for {DEFAULT_FOLDER}/")
    svc = _service(args)
    code = 0
    try:
        for path in _paths(args):
            from mixbot.service.configs import expand

            for f in expand([path]):
                res = svc.send(f, args.command_name, source="cli", wait_s=args.wait)
                if res.result:
                    print(f"{res.bot_id}: {res.command}: {res.result}")
                elif res.taken:
                    print(f"{res.bot_id}: {res.command}: taken by the bot")
                else:
                    code = 1
                    print(
                        f"{res.bot_id}: {res.command}: queued (#{res.id}); the bot did not take "
                        f"it within {args.wait:g} s: is it running?",
                        file=sys.stderr,
                    )
    finally:
        svc.close()
    return code


def _add_targets(p: Any, what: str) -> None:
    p.add_argument("config", nargs="*", metavar="CONFIG", help=f"bot configs or folders ({what})")
    p.add_argument(
        "--all", action="store_true", help=f"every bot of {DEFAULT_FOLDER}/ (also when no CONFIG)"
    )


def add_parsers(sub: Any) -> None:
    """Register status, trades and the control commands on the ``mixbot`` parser."""
    p = sub.add_parser(
        "status",
        help="bots' status from the store (works even if they crashed)",
        description="Show bots' stored state: status, process id and last heartbeat, feed, "
        "last bar processed, cash, value, positions, open orders, today's PnL, halts, recent "
        "audit events. One CONFIG: the details; several, a folder or --all: one row per bot.",
    )
    _add_targets(p, "default: config/trading/")
    p.add_argument(
        "--mode", choices=["paper", "live"], help="which store (default: from broker.type)"
    )
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_status)
    p = sub.add_parser(
        "trades",
        help="bots' closed trades from the store",
        description="List closed trades (market time, INR) or write them to a CSV file.",
    )
    _add_targets(p, "default: config/trading/")
    p.add_argument("--symbol", help="only this symbol")
    p.add_argument("--from", dest="date_from", metavar="DATE", help="exit date from (YYYY-MM-DD)")
    p.add_argument("--to", dest="date_to", metavar="DATE", help="exit date up to (YYYY-MM-DD)")
    p.add_argument("--csv", metavar="FILE", help="write the trades to FILE as CSV")
    p.set_defaults(func=cmd_trades)
    for name, text in (
        ("stop", "stop running bots after their current bar"),
        ("pause", "no new entries until resume (exits still run)"),
        ("resume", "undo pause"),
        ("force-exit", "square off bots' positions at market on their next bar"),
        ("start", "ask `mixbot serve` to start stopped, finished or halted bots again"),
    ):
        p = sub.add_parser(
            name,
            help=text,
            description=f"{text[0].upper()}{text[1:]}. The command goes through the store's "
            "control channel; a running bot takes it within a second.",
        )
        _add_targets(p, "required, or --all")
        p.add_argument(
            "--wait", type=float, default=5.0, metavar="S", help="seconds to wait for the answer"
        )
        p.set_defaults(func=cmd_control, command_name=name.replace("-", "_"))
