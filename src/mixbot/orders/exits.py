"""The closing side of an open trade: the parts of its exit, and the trade record they make.

A position is not always closed by one order: a take-profit can fill partly, then the stop
closes the rest; a stuck exit can be cancelled after a partial fill and sent again. Every
closing order that fills is one PART of the trade's exit, kept in the open trade under its
client tag (``open_trade["exits"][tag]``) with its cumulative fill as Backtrader reports it
(``order.executed``: size, size-weighted average price, commission), so a part notified
again (a restart re-executing an adopted order's fills) replaces itself and is never
counted twice. When the position is flat the trade is closed from the parts:

- ``exit_price`` = size-weighted average of the parts' prices (INR);
- ``pnl_gross`` = sum over parts of ``(price - entry_price) * qty`` (INR, long);
- ``charges`` = entry charges + every part's charges (INR);
- ``exit_time`` = the last part's fill time (naive UTC: the exchange's fill time on a live
  broker, the bar's time in a backtest);
- ``exit_reason`` = the role of the order that closed it; ``exit_parts`` lists every part.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from mixbot.backtest.metrics import TradeRecord


def note_part(ot: dict[str, Any], tag: str, role: str, order: Any, when: dt.datetime) -> None:
    """Keep closing order ``tag`` (``role``)'s cumulative fill as a part of ``ot``'s exit
    (``when``: its last fill's time, naive UTC)."""
    done = order.executed
    if not done.size:
        return
    ot.setdefault("exits", {})[tag] = {
        "tag": tag,
        "role": role,
        "qty": abs(float(done.size)),
        "price": float(done.price),
        "charges": float(done.comm),
        "time": when,
    }


def close(ot: dict[str, Any], role: str, bars_held: int) -> TradeRecord:
    """The :class:`TradeRecord` of open trade ``ot`` (long), closed by an order of ``role``,
    from its exit parts (see the module docstring).

    Raises:
        ValueError: ``ot`` has no exit part (nothing closed it).
    """
    parts = sorted(ot.get("exits", {}).values(), key=lambda p: (p["time"], p["tag"]))
    if not parts:
        raise ValueError(f"trade {ot.get('tag')}: closed without an exit fill")
    qty = sum(p["qty"] for p in parts)
    entry = float(ot["entry_price"])
    gross = sum((p["price"] - entry) * p["qty"] for p in parts)
    # one part: its price as Backtrader gave it (no division noise)
    price = (
        parts[0]["price"] if len(parts) == 1 else sum(p["qty"] * p["price"] for p in parts) / qty
    )
    charges = float(ot["entry_comm"]) + sum(p["charges"] for p in parts)
    return TradeRecord(
        entry_time=ot["entry_time"],
        exit_time=parts[-1]["time"],
        side="long",
        size=ot["size"],
        entry_price=entry,
        exit_price=price,
        pnl_gross=gross,
        charges=charges,
        pnl_net=gross - charges,
        exit_reason=role,
        bars_held=bars_held,
        exit_parts=tuple(
            {**p, "time": p["time"].isoformat(timespec="milliseconds")} for p in parts
        ),
    )


def to_json(ot: dict[str, Any]) -> dict[str, Any]:
    """``ot`` with its times as ISO strings (for a checkpoint)."""
    out = dict(ot)
    out["entry_time"] = _iso(ot["entry_time"])
    out["exits"] = {k: {**p, "time": _iso(p["time"])} for k, p in ot.get("exits", {}).items()}
    return out


def from_json(ot: dict[str, Any]) -> dict[str, Any]:
    """Inverse of :func:`to_json`."""
    out = dict(ot)
    out["entry_time"] = dt.datetime.fromisoformat(ot["entry_time"])
    out["exits"] = {
        k: {**p, "time": dt.datetime.fromisoformat(p["time"])}
        for k, p in (ot.get("exits") or {}).items()
    }
    return out


def _iso(v: Any) -> Any:
    return v.isoformat() if isinstance(v, dt.datetime) else v


__all__ = ["close", "from_json", "note_part", "to_json"]
