"""CLI sub-commands that read the store: ``mixbot status`` and ``mixbot trades``.

They work whether the bot is running, stopped, finished or was killed: everything comes
from the database (the same data the running bot's ``get_status()`` reports).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

STALE_AFTER = dt.timedelta(minutes=2)


def _load_for_reading(path: str) -> Any:
    """The config, validated, except that its data file and secrets need not be present:
    reading the store needs neither (the data folder may have moved, the token expired).

    Raises:
        ConfigError: any other problem, listed as ``mixbot validate`` lists them.
    """
    from mixbot.config.model import build
    from mixbot.config.validate import validate_file
    from mixbot.errors import ConfigError

    report = validate_file(path)
    blocking = [
        p
        for p in report.errors
        if not (p.path.startswith("$.data.path") or "environment variable" in p.message)
    ]
    if blocking or report.effective is None:
        lines = "\n".join(p.render() for p in blocking or report.errors)
        raise ConfigError(f"{path}: invalid config ({len(blocking)} error(s)):\n{lines}")
    return build(report.effective, Path(path))


def _open(args: argparse.Namespace) -> tuple[Any, Any]:
    from mixbot.store.db import resolve_url
    from mixbot.store.repository import Store

    cfg = _load_for_reading(args.config)
    mode = args.mode or ("live" if cfg.broker.type in ("upstox", "upstox_sandbox") else "paper")
    url = resolve_url(cfg.database_url, mode)
    store = Store(url, cfg.bot_id, mode, create=False)
    store.pk  # noqa: B018 - raises a clear StoreError when the bot never ran here
    return cfg, store


def _ist(when: dt.datetime | None, tz: str) -> str | None:
    if when is None:
        return None
    return when.replace(tzinfo=dt.UTC).astimezone(ZoneInfo(tz)).isoformat(timespec="seconds")


def status_dict(cfg: Any, store: Any) -> dict[str, Any]:
    """The bot's status from the store: mode, state, feed, cash, value (INR), positions,
    open orders, today's realised PnL and entries, halts, trades, recent events."""
    from mixbot.store.repository import utcnow

    tz = cfg.market.timezone
    bot = store.bot_row()
    ck = store.load_checkpoint()
    equity = store.equity()
    state = bot["status"]
    beat = (ck or {}).get("updated_at") or bot.get("last_heartbeat")
    if state == "running" and beat is not None and utcnow() - beat > STALE_AFTER:
        state = f"running? no checkpoint for {int((utcnow() - beat).total_seconds() // 60)} min (killed or hung; a restart resumes)"
    risk = (ck or {}).get("state", {}).get("risk", {})
    today = risk.get("today", {})
    trades = store.trades()
    return {
        "bot_id": cfg.bot_id,
        "mode": store.mode,
        "status": state,
        "feed_state": bot.get("feed_state"),
        "config_file": bot["config_file"],
        "last_bar_processed": None
        if ck is None
        else {"index": ck["bar_index"], "time": _ist(ck["bar_time"], tz)},
        "cash": None if ck is None else round(ck["cash"], 2),
        "value": round(equity[-1]["value"], 2) if equity else None,
        "initial_balance": cfg.broker.initial_balance,
        "positions": [
            {"symbol": p["symbol"], "qty": p["qty"], "avg_price": round(p["avg_price"], 2)}
            for p in store.positions()
        ],
        "open_orders": [
            {
                "tag": o["tag"],
                "role": o["role"],
                "side": o["side"],
                "type": o["order_type"],
                "qty": o["qty_requested"],
                "price": o["price_requested"],
                "status": o["status"],
            }
            for o in store.orders(open_only=True)
        ],
        "today": {
            "date": today.get("day"),
            "entries": today.get("entries", 0),
            "realized_pnl": round(today.get("realized_pnl", 0.0), 2),
        },
        "halts": [risk["halt_reason"]] if risk.get("halted") else [],
        "trades_closed": len(trades),
        "realized_pnl_total": round(sum(t["pnl_net"] for t in trades), 2),
        "recent_events": [
            {"kind": e["kind"], "message": e["message"], "at": _ist(e["created_at"], tz)}
            for e in store.events()[-5:]
        ],
    }


def cmd_status(args: argparse.Namespace) -> int:
    cfg, store = _open(args)
    try:
        st = status_dict(cfg, store)
    finally:
        store.close()
    if args.json:
        print(json.dumps(st, indent=2, default=str))
        return 0
    from rich.console import Console
    from rich.table import Table

    t = Table(title=f"bot {st['bot_id']} ({st['mode']})", show_header=False)
    t.add_column("field")
    t.add_column("value")
    lb = st["last_bar_processed"]
    rows = [
        ("status", st["status"]),
        ("feed", str(st["feed_state"])),
        ("last bar processed", f"#{lb['index']} at {lb['time']}" if lb else "none yet"),
        ("cash (INR)", f"{st['cash']:,.2f}" if st["cash"] is not None else "n/a"),
        ("value (INR)", f"{st['value']:,.2f}" if st["value"] is not None else "n/a"),
        (
            "positions",
            ", ".join(f"{p['symbol']} {p['qty']:g} @ {p['avg_price']:.2f}" for p in st["positions"])
            or "flat",
        ),
        (
            "open orders",
            ", ".join(
                f"{o['side']} {o['qty']:g} {o['type']} ({o['role']}, {o['status']})"
                for o in st["open_orders"]
            )
            or "none",
        ),
        (
            "today",
            f"{st['today']['date']}: {st['today']['entries']} entries, realised PnL "
            f"{st['today']['realized_pnl']:,.2f} INR",
        ),
        ("halts", "; ".join(st["halts"]) or "none"),
        ("trades closed", f"{st['trades_closed']} (net PnL {st['realized_pnl_total']:,.2f} INR)"),
    ]
    for k, v in rows:
        t.add_row(k, v)
    Console().print(t)
    for e in st["recent_events"]:
        print(f"  {e['at']}  {e['kind']}: {e['message']}")
    return 0


def cmd_trades(args: argparse.Namespace) -> int:
    cfg, store = _open(args)
    try:
        trades = store.trades()
    finally:
        store.close()
    tz = cfg.market.timezone
    fields = [
        "entry_time",
        "exit_time",
        "symbol",
        "side",
        "qty",
        "entry_price",
        "exit_price",
        "pnl_gross",
        "charges",
        "pnl_net",
        "exit_reason",
        "bars_held",
        "entry_tag",
    ]
    rows = [
        {
            **{f: t[f] for f in fields},
            "entry_time": _ist(t["entry_time"], tz),
            "exit_time": _ist(t["exit_time"], tz),
        }
        for t in trades
    ]
    if args.csv:
        path = Path(args.csv)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", newline="", encoding="utf-8") as fh:
            w = csv.DictWriter(fh, fieldnames=fields)
            w.writeheader()
            for r in rows:
                w.writerow(
                    {
                        k: round(v, 2) if isinstance(v, float) and k != "qty" else v
                        for k, v in r.items()
                    }
                )
        print(f"wrote {len(rows)} trades to {path}")
        return 0
    from rich.console import Console
    from rich.table import Table

    t = Table(title=f"trades of bot {cfg.bot_id} ({store.mode}), times {tz}")
    for col in (
        "entry",
        "exit",
        "qty",
        "entry INR",
        "exit INR",
        "net PnL INR",
        "charges",
        "reason",
    ):
        t.add_column(col, justify="right" if col not in ("entry", "exit", "reason") else "left")
    for r in rows:
        t.add_row(
            str(r["entry_time"])[:16],
            str(r["exit_time"])[:16],
            f"{r['qty']:g}",
            f"{r['entry_price']:.2f}",
            f"{r['exit_price']:.2f}",
            f"{r['pnl_net']:,.2f}",
            f"{r['charges']:.2f}",
            r["exit_reason"],
        )
    Console(width=None if sys.stdout.isatty() else 130).print(t)
    print(
        f"{len(rows)} trades, net PnL {sum(r['pnl_net'] for r in rows):,.2f} INR", file=sys.stderr
    )
    return 0


def add_parsers(sub: Any) -> None:
    """Register status and trades on the ``mixbot`` parser."""
    p = sub.add_parser(
        "status",
        help="a bot's status from the store (works even if it crashed)",
        description="Show a bot's stored state: status, feed, last bar processed, cash, value, "
        "positions, open orders, today's PnL, halts, recent audit events.",
    )
    p.add_argument(
        "config", metavar="CONFIG", help="the bot's config (names its bot id and database)"
    )
    p.add_argument(
        "--mode", choices=["paper", "live"], help="which store (default: from broker.type)"
    )
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_status)
    p = sub.add_parser(
        "trades",
        help="a bot's closed trades from the store",
        description="List a bot's closed trades (IST times, INR) or write them to a CSV file.",
    )
    p.add_argument("config", metavar="CONFIG", help="the bot's config")
    p.add_argument(
        "--mode", choices=["paper", "live"], help="which store (default: from broker.type)"
    )
    p.add_argument("--csv", metavar="FILE", help="write the trades to FILE as CSV")
    p.set_defaults(func=cmd_trades)
