"""A bus event as a message: a subject line, plain text and an HTML form.

Values come from the event's payload (:mod:`mixbot.bus.events`: prices in INR per share,
money in INR, quantities in shares, times ISO-8601 UTC) and are shown in the market's
time zone when ``zone`` is given. Every value is HTML-escaped in the HTML form (it is sent
with Telegram's HTML parse mode and as an email's HTML part).
"""

from __future__ import annotations

import datetime as dt
import html
import math
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class Message:
    """A rendered message: ``subject`` (email subject, one line), ``text`` (plain),
    ``html`` (Telegram HTML subset: ``<b>``, ``<i>``, ``<code>``, ``<pre>``)."""

    subject: str
    text: str
    html: str


def _money(v: Any) -> str:
    try:
        return f"INR {float(v):,.2f}"
    except (TypeError, ValueError):
        return str(v)


def _num(v: Any) -> str:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return str(v)
    if not math.isfinite(f):
        return str(f)
    return f"{f:,.0f}" if f == int(f) else f"{f:,.2f}"


def _time(v: Any, zone: ZoneInfo | None) -> str:
    if not v:
        return ""
    try:
        t = dt.datetime.fromisoformat(str(v).rstrip("Z"))
    except ValueError:
        return str(v)
    t = t if t.tzinfo else t.replace(tzinfo=dt.UTC)
    if zone is not None:
        t = t.astimezone(zone)
    return t.strftime("%Y-%m-%d %H:%M %Z")


def _title(event_type: str, p: dict[str, Any]) -> str:
    sym = p.get("symbol", "")
    if event_type == "trade_entry":
        return f"{str(p.get('side', '')).upper()} {sym}: entry {_num(p.get('qty'))} @ {_money(p.get('price'))}"
    if event_type == "trade_exit":
        return f"{sym} closed ({p.get('reason', '')}): net PnL {_money(p.get('pnl_net'))}"
    if event_type == "order_rejected":
        return f"order rejected: {p.get('role', '')} {p.get('side', '')} {_num(p.get('qty', ''))}"
    if event_type == "order_partially_filled":
        return f"partial fill: {p.get('role', '')} {_num(p.get('filled_qty'))} @ {_money(p.get('price'))}"
    if event_type == "halted":
        return f"halted: {p.get('reason', '')}"
    if event_type == "error":
        return f"error: {str(p.get('message', ''))[:120]}"
    if event_type == "feed_state":
        return f"feed {p.get('state', '')} (was {p.get('previous') or '-'})"
    if event_type == "status":
        return f"status {p.get('status', '')}"
    if event_type == "daily_summary":
        return (
            f"daily summary {p.get('day', '')}: {p.get('trades', 0)} "
            f"trade{'' if p.get('trades') == 1 else 's'}, "
            f"net PnL {_money(p.get('realized_pnl'))}"
        )
    if event_type == "token_expiring":
        return f"{p.get('venue', '')} token expires {p.get('expires_at', '')}"
    if event_type == "bot_started":
        return "started" + (" (resumed)" if p.get("resumed") else "")
    if event_type == "outside_position":
        if p.get("action") == "resolved":
            return f"{sym}: nothing outside the bot any more"
        return f"{sym}: position {_num(p.get('qty'))} not opened by the bot ({p.get('action', '')})"
    if event_type == "bot_stopped":
        return f"stopped ({p.get('status', '')})"
    return event_type


#: Payload fields shown as detail lines, per event type (label, field, formatter).
_DETAILS: dict[str, tuple[tuple[str, str, str], ...]] = {
    "trade_entry": (
        ("qty", "qty", "num"),
        ("price", "price", "money"),
        ("bar", "bar_time", "time"),
    ),
    "trade_exit": (
        ("side", "side", "str"),
        ("qty", "qty", "num"),
        ("entry", "entry_price", "money"),
        ("exit", "exit_price", "money"),
        ("gross PnL", "pnl_gross", "money"),
        ("charges", "charges", "money"),
        ("net PnL", "pnl_net", "money"),
        ("exit time", "exit_time", "time"),
    ),
    "order_rejected": (("tag", "tag", "str"), ("status", "status", "str")),
    "error": (("message", "message", "str"),),
    "order_partially_filled": (("tag", "tag", "str"),),
    "outside_position": (("qty", "qty", "num"), ("open orders", "orders", "list")),
    "daily_summary": (
        ("trades", "trades", "num"),
        ("wins", "wins", "num"),
        ("win rate", "win_rate", "pct"),
        ("gross PnL", "pnl_gross", "money"),
        ("charges", "charges", "money"),
        ("net PnL", "realized_pnl", "money"),
        ("open", "open_positions", "list"),
        ("halts", "halts", "list"),
    ),
}


def _shown(v: Any, kind: str, zone: ZoneInfo | None) -> str:
    """One payload value as text: ``money`` (INR), ``num``, ``pct`` (percent 0-100),
    ``time`` (in ``zone``), ``list`` (comma-joined, ``none`` when empty) or as it is."""
    if kind == "money":
        return _money(v)
    if kind == "num":
        return _num(v)
    if kind == "pct":
        return f"{float(v):.1f} %"
    if kind == "time":
        return _time(v, zone)
    if kind == "list":
        return ", ".join(str(x) for x in v) or "none"
    return str(v)


def render(
    event_type: str, payload: dict[str, Any], bot_id: str, zone: ZoneInfo | None = None
) -> Message:
    """The message of one event of bot ``bot_id`` (``zone``: display time zone of times)."""
    title = _title(event_type, payload)
    lines: list[tuple[str, str]] = []
    for label, name, kind in _DETAILS.get(event_type, ()):
        if payload.get(name) in (None, ""):
            continue
        lines.append((label, _shown(payload[name], kind, zone)))
    mode = payload.get("mode", "")
    title = " ".join(title.split())  # one line: a subject or title never holds a line break
    head = f"[{bot_id}{' ' + mode if mode else ''}] {title}"
    text = "\n".join([head] + [f"{k}: {v}" for k, v in lines])
    e = html.escape
    body = f"<b>{e(bot_id)}</b>{' <i>' + e(mode) + '</i>' if mode else ''}\n{e(title)}"
    if lines:
        width = max(len(k) for k, _ in lines)
        table = "\n".join(f"{k.ljust(width)}  {v}" for k, v in lines)
        body += f"\n<pre>{e(table)}</pre>"
    return Message(subject=head, text=text, html=body)


def fallback(event_type: str, payload: dict[str, Any], bot_id: str, exc: BaseException) -> Message:
    """A plain message for an event :func:`render` could not format (its payload as JSON)."""
    import json

    body = json.dumps(payload, default=str, sort_keys=True)[:3000]
    head = f"[{bot_id}] {event_type}"
    return Message(
        head, f"{head}\n{body}", f"<b>{html.escape(head)}</b>\n<pre>{html.escape(body)}</pre>"
    )
