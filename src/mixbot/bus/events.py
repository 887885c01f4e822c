"""Typed bus events.

Every event has a ``type`` (one of :data:`EVENT_TYPES`), a payload (JSON-able dict; money in
INR, prices in INR per share, quantities in shares, times as ISO-8601 UTC strings) and an
optional idempotency ``key``: an event whose key the bot already wrote is not written again
(a bar re-processed after a crash reports the same fact once).

The fields each type must carry are in :data:`REQUIRED`; :func:`make` refuses an event
without them (``ValueError``), so a consumer can rely on them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

#: Fields each event type carries (beyond ``bot_id``, ``mode`` and ``at``, added by the store).
REQUIRED: dict[str, tuple[str, ...]] = {
    "trade_entry": ("symbol", "side", "qty", "price", "tag"),
    "trade_exit": (
        "symbol",
        "side",
        "qty",
        "entry_price",
        "exit_price",
        "pnl_net",
        "reason",
        "tag",
    ),
    "order_rejected": ("tag", "status", "role"),
    "order_partially_filled": ("tag", "role", "filled_qty", "price"),
    "halted": ("reason",),
    "error": ("message",),
    "feed_state": ("state",),
    "token_expiring": ("venue", "expires_at"),
    "status": ("status",),
    "daily_summary": ("day", "trades", "realized_pnl"),
    "bot_started": ("pid",),
    "bot_stopped": ("status",),
    "outside_position": ("symbol", "qty", "orders", "action"),
}

#: The event types of the bus, in the order the issue lists them.
EVENT_TYPES: tuple[str, ...] = tuple(REQUIRED)

#: Feed states a ``feed_state`` event may carry (Backtrader's live-data notifications).
FEED_STATES = ("LIVE", "DELAYED", "CONNBROKEN", "DISCONNECTED")


@dataclass(frozen=True)
class Event:
    """One event to write: ``type``, ``payload`` (JSON-able) and an optional idempotency ``key``."""

    type: str
    payload: dict[str, Any] = field(default_factory=dict)
    key: str | None = None


def make(type_: str, key: str | None = None, **payload: Any) -> Event:
    """Build an :class:`Event`, checking its type and required fields.

    Raises:
        ValueError: unknown type, or a required field missing.
    """
    need = REQUIRED.get(type_)
    if need is None:
        raise ValueError(f"unknown event type {type_!r}; known: {', '.join(EVENT_TYPES)}")
    missing = [f for f in need if f not in payload]
    if missing:
        raise ValueError(f"event {type_!r} needs field(s) {', '.join(missing)}")
    return Event(type_, {k: _jsonable(v) for k, v in payload.items()}, key)


def _jsonable(v: Any) -> Any:
    if isinstance(v, dt.datetime):
        return v.isoformat()
    if isinstance(v, dt.date):
        return v.isoformat()
    if isinstance(v, float):
        return round(v, 6)
    return v


def daily_summary(
    day: dt.date, trades: list[dict[str, Any]], positions: list[str], halts: list[str]
) -> Event:
    """The ``daily_summary`` event of exchange date ``day`` (key ``daily_summary:<day>``: one
    per bot and day, whoever writes it first, the bot at the end of its session day or the
    host at ``daily_summary_at``).

    ``trades``: the trades closed that day (dicts with ``pnl_gross``, ``charges``,
    ``pnl_net`` in INR); ``positions``: open positions as ``"SYMBOL qty"``; ``halts``: halt
    reasons. Payload: ``day``, ``trades``, ``wins``, ``win_rate`` (percent 0-100, None
    without trades), ``pnl_gross``, ``charges``, ``realized_pnl`` (net), ``open_positions``,
    ``halts``.
    """
    wins = sum(1 for t in trades if t["pnl_net"] > 0)
    return make(
        "daily_summary",
        key=f"daily_summary:{day.isoformat()}",
        day=day.isoformat(),
        trades=len(trades),
        wins=wins,
        win_rate=round(100.0 * wins / len(trades), 1) if trades else None,
        pnl_gross=round(sum(t["pnl_gross"] for t in trades), 2),
        charges=round(sum(t["charges"] for t in trades), 2),
        realized_pnl=round(sum(t["pnl_net"] for t in trades), 2),
        open_positions=list(positions),
        halts=list(halts),
    )
