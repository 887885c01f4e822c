"""The answer of each Telegram command, built from service-layer calls.

Money in INR, quantities in shares, times in each bot's market time zone (as the service
layer gives them). Every value is HTML-escaped; tables are ``<pre>`` blocks.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mixbot.notify.commands import CommandCenter, Reply

e = html.escape


def _reply(text: str, **kw: Any) -> Reply:
    from mixbot.notify.commands import Reply

    return Reply(text, **kw)


def _table(rows: list[list[Any]], head: list[str]) -> str:
    """A fixed-width table in a ``<pre>`` block (values escaped)."""
    cells = [head] + [["" if v is None else str(v) for v in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in cells]
    return "<pre>" + e("\n".join(lines)) + "</pre>"


def _money(v: Any) -> str:
    return "-" if v is None else f"{float(v):,.2f}"


def _n(args: list[str], default: int, most: int = 100) -> int:
    for a in args:
        if a.isdigit():
            return max(1, min(most, int(a)))
    return default


def _files(refs: list[Any]) -> list[str]:
    return [r.file for r in refs]


def _bots(c: CommandCenter, role: str, args: list[str], refs: list[Any]) -> list[Reply]:
    rows = [
        [s.bot_id, s.mode, s.status, s.pid or "-"]
        for s in c.service.statuses(_files(list(c.refs.values())))
    ]
    return [_reply("<b>Bots</b>\n" + _table(rows, ["bot", "mode", "status", "pid"]))]


def _status(c: CommandCenter, role: str, args: list[str], refs: list[Any]) -> list[Reply]:
    out = []
    for ref in refs:
        s = c.service.status(ref.file)
        pos = (
            ", ".join(
                f"{p['symbol']} {p['qty']:g} @ {_money(p.get('avg_price'))}" for p in s.positions
            )
            or "flat"
        )
        rows = [
            ["status", s.status + (" (running)" if s.running else "")],
            ["pid", s.pid or "-"],
            ["feed", s.feed_state or "-"],
            ["heartbeat", s.last_heartbeat or "-"],
            ["cash", _money(s.cash)],
            ["value", _money(s.value)],
            ["position", pos],
            ["open orders", len(s.open_orders)],
            [
                "today",
                f"{s.today.get('entries', 0)} entries, PnL {_money(s.today.get('realized_pnl'))}",
            ],
            ["trades", f"{s.trades_closed} closed, net {_money(s.realized_pnl_total)}"],
            ["halts", "; ".join(s.halts) or "none"],
        ]
        out.append(_reply(f"<b>{e(s.bot_id)}</b> <i>{e(s.mode)}</i>\n" + _table(rows, ["", ""])))
    return out


def _positions(c: CommandCenter, role: str, args: list[str], refs: list[Any]) -> list[Reply]:
    rows = [
        [p["bot_id"], p["symbol"], f"{p['qty']:g}", _money(p["avg_price"])]
        for p in c.service.positions(_files(refs))
    ]
    return [
        _reply(
            "<b>Open positions</b>\n"
            + (_table(rows, ["bot", "symbol", "qty", "avg INR"]) if rows else "none")
        )
    ]


def _orders(c: CommandCenter, role: str, args: list[str], refs: list[Any]) -> list[Reply]:
    rows = [
        [
            o["bot_id"],
            o.get("role", ""),
            o.get("side", ""),
            f"{float(o.get('qty') or 0):g}",
            o.get("status", ""),
        ]
        for o in c.service.open_orders(_files(refs))
    ]
    return [
        _reply(
            "<b>Open orders</b>\n"
            + (_table(rows, ["bot", "role", "side", "qty", "status"]) if rows else "none")
        )
    ]


def _trades(c: CommandCenter, role: str, args: list[str], refs: list[Any]) -> list[Reply]:
    n = _n(args, 10)
    rows = c.service.trades(_files(refs))[-n:]
    table = [
        [
            t["bot_id"],
            t["symbol"],
            t["side"],
            f"{t['qty']:g}",
            str(t["exit_time"])[:16],
            _money(t["pnl_net"]),
            t["exit_reason"],
        ]
        for t in rows
    ]
    head = ["bot", "symbol", "side", "qty", "exit", "net INR", "reason"]
    return [_reply(f"<b>Last {len(rows)} trades</b>\n" + (_table(table, head) if rows else "none"))]


def _pnl(c: CommandCenter, role: str, args: list[str], refs: list[Any]) -> list[Reply]:
    rows = []
    for ref in refs:
        s = c.service.status(ref.file)
        rows.append([s.bot_id, _money(s.realized_pnl_total), _money(s.today.get("realized_pnl"))])
    return [_reply("<b>Realised net PnL (INR)</b>\n" + _table(rows, ["bot", "total", "today"]))]


def _buckets(by: str) -> Callable[[CommandCenter, str, list[str], list[Any]], list[Reply]]:
    def go(c: CommandCenter, role: str, args: list[str], refs: list[Any]) -> list[Reply]:
        n = _n(args, 7)
        every = [b for b in c.service.pnl(_files(list(c.refs.values())), by=by) if b.bot_id == "*"][
            -n:
        ]
        rows = [[b.period, b.trades, b.wins, _money(b.pnl_net)] for b in every]
        title = {"day": "day", "week": "week", "month": "month"}[by]
        return [
            _reply(
                f"<b>Net PnL per {title}, all bots</b>\n"
                + (_table(rows, [title, "trades", "wins", "net INR"]) if rows else "no trades yet")
            )
        ]

    return go


def _balance(c: CommandCenter, role: str, args: list[str], refs: list[Any]) -> list[Reply]:
    rows = [
        [s.bot_id, _money(s.initial_balance), _money(s.cash), _money(s.value)]
        for s in c.service.statuses(_files(list(c.refs.values())))
    ]
    return [_reply("<b>Balance (INR)</b>\n" + _table(rows, ["bot", "initial", "cash", "value"]))]


def _performance(c: CommandCenter, role: str, args: list[str], refs: list[Any]) -> list[Reply]:
    rows = []
    for ref in c.refs.values():
        ts = c.service.trades([ref.file])
        wins = sum(1 for t in ts if t["pnl_net"] > 0)
        rate = f"{100.0 * wins / len(ts):.0f} %" if ts else "-"
        rows.append([ref.bot_id, len(ts), rate, _money(sum(t["pnl_net"] for t in ts))])
    return [_reply("<b>Performance</b>\n" + _table(rows, ["bot", "trades", "win rate", "net INR"]))]


def _chart(c: CommandCenter, role: str, args: list[str], refs: list[Any]) -> list[Reply]:
    ref = refs[0]
    curve = c.service.equity(ref.file)
    if not curve:
        return [_reply(f"{e(ref.bot_id)}: no equity curve yet")]
    from mixbot.notify.charts import equity_png

    png = equity_png(curve, f"{ref.bot_id}: equity (INR)")
    last = curve[-1]
    caption = f"<b>{e(ref.bot_id)}</b> equity {_money(last['value'])} INR at {e(str(last['time']))}"
    return [_reply(caption, photo=png)]


def _logs(c: CommandCenter, role: str, args: list[str], refs: list[Any]) -> list[Reply]:
    ref = refs[0]
    n = _n(args, 20, most=200)
    path = Path(ref.cfg.logging.log_file)
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()[-n:]
    except OSError:
        return [_reply(f"{e(ref.bot_id)}: no log file {e(str(path))} yet")]
    return [
        _reply(
            f"<b>{e(ref.bot_id)}</b> last {len(lines)} log lines\n<pre>{e(chr(10).join(lines))}</pre>"
        )
    ]


def _health(c: CommandCenter, role: str, args: list[str], refs: list[Any]) -> list[Reply]:
    rows = []
    for s in c.service.statuses(_files(list(c.refs.values()))):
        age = "-" if s.heartbeat_age_s is None else f"{s.heartbeat_age_s:.0f} s"
        rows.append([s.bot_id, "yes" if s.running else "no", age, s.feed_state or "-"])
    return [_reply("<b>Health</b>\n" + _table(rows, ["bot", "running", "heartbeat", "feed"]))]


def _version(c: CommandCenter, role: str, args: list[str], refs: list[Any]) -> list[Reply]:
    import platform

    import backtrader
    import telegram

    import mixbot

    rows = [
        ["mixbot", mixbot.__version__],
        ["python", platform.python_version()],
        ["backtrader", getattr(backtrader, "__version__", "?")],
        ["python-telegram-bot", telegram.__version__],
    ]
    return [_reply(_table(rows, ["", "version"]))]


def _action(verb: str) -> Callable[[CommandCenter, str, list[str], list[Any]], list[Reply]]:
    def go(c: CommandCenter, role: str, args: list[str], refs: list[Any]) -> list[Reply]:
        out = []
        for ref in refs:
            if verb == "forceexit" and args:
                symbols = [str(s) for s in getattr(ref.cfg.trading, "symbols", ())]
                if args[0] not in symbols:
                    out.append(
                        _reply(f"{e(ref.bot_id)} trades {e(', '.join(symbols))}, not {e(args[0])}")
                    )
                    continue
            svc = c.service
            if verb == "start":
                r = svc.start(ref.file, source="telegram")
            elif verb == "panic":
                r = svc.panic(ref.file, reason="panic from Telegram", source="telegram", wait_s=0.0)
            elif verb == "forceexit":
                r = svc.force_exit(ref.file, source="telegram")
            else:
                r = getattr(svc, verb)(ref.file, source="telegram")
            state = r.result or (
                "taken" if r.taken else "queued: the bot takes it within a second while it runs"
            )
            out.append(_reply(f"<b>{e(ref.bot_id)}</b>: /{verb} {e(state)}"))
        return out

    return go


def _help(c: CommandCenter, role: str, args: list[str], refs: list[Any]) -> list[Reply]:
    return [_reply(c.help_text(role))]


HANDLERS: dict[str, Callable[[CommandCenter, str, list[str], list[Any]], list[Reply]]] = {
    "help": _help,
    "bots": _bots,
    "status": _status,
    "positions": _positions,
    "orders": _orders,
    "trades": _trades,
    "pnl": _pnl,
    "daily": _buckets("day"),
    "weekly": _buckets("week"),
    "monthly": _buckets("month"),
    "balance": _balance,
    "performance": _performance,
    "chart": _chart,
    "logs": _logs,
    "health": _health,
    "version": _version,
    **{v: _action(v) for v in ("start", "stop", "pause", "resume", "forceexit", "panic")},
}


def answer(c: CommandCenter, role: str, name: str, args: list[str], refs: list[Any]) -> list[Reply]:
    """The replies of command ``name`` (a key of :data:`HANDLERS`) for ``refs``."""
    return HANDLERS[name](c, role, args, refs)
