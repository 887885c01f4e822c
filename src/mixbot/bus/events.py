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
