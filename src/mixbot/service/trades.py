"""Closed trades as one row shape, ONE trades-CSV writer, and PnL by day / week / month.

Row shape (:data:`TRADE_COLUMNS`): times ISO-8601 in the market's time zone, prices and PnL
in INR, ``qty`` in shares. A backtest's :class:`~mixbot.backtest.metrics.TradeRecord` list
and the store's trades rows both become these rows, so ``mixbot backtest`` and
``mixbot trades --csv`` write the same columns.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any
from zoneinfo import ZoneInfo

TRADE_COLUMNS = (
    "bot_id",
    "symbol",
    "side",
    "qty",
    "entry_time",
    "exit_time",
    "entry_price",
    "exit_price",
    "pnl_gross",
    "charges",
    "pnl_net",
    "exit_reason",
    "bars_held",
    "entry_tag",
)
_MONEY = ("entry_price", "exit_price", "pnl_gross", "charges", "pnl_net")


def _local(when: dt.datetime | None, tz: str) -> str | None:
    if when is None:
        return None
    return when.replace(tzinfo=dt.UTC).astimezone(ZoneInfo(tz)).isoformat(timespec="seconds")


def rows_from_store(bot_id: str, trades: Iterable[dict[str, Any]], tz: str) -> list[dict[str, Any]]:
    """Store ``trades`` rows (UTC) as :data:`TRADE_COLUMNS` rows in ``tz``, plus
    ``exit_parts`` (the closing orders, :mod:`mixbot.orders.exits`; [] when not stored)."""
    return [
        {
            "bot_id": bot_id,
            "symbol": t["symbol"],
            "side": t["side"],
            "qty": t["qty"],
            "entry_time": _local(t["entry_time"], tz),
            "exit_time": _local(t["exit_time"], tz),
            **{k: t[k] for k in _MONEY},
            "exit_reason": t["exit_reason"],
            "bars_held": t["bars_held"],
            "entry_tag": t["entry_tag"],
            "exit_parts": json.loads(t["exit_parts"]) if t.get("exit_parts") else [],
        }
        for t in trades
    ]


def rows_from_records(
    bot_id: str, symbol: str, trades: Iterable[Any], tz: str
) -> list[dict[str, Any]]:
    """Backtest :class:`~mixbot.backtest.metrics.TradeRecord` s (UTC) as rows in ``tz``."""
    return [
        {
            "bot_id": bot_id,
            "symbol": symbol,
            "side": t.side,
            "qty": t.size,
            "entry_time": _local(t.entry_time, tz),
            "exit_time": _local(t.exit_time, tz),
            **{k: getattr(t, k) for k in _MONEY},
            "exit_reason": t.exit_reason,
            "bars_held": t.bars_held,
            "entry_tag": "",
        }
        for t in trades
    ]


def write_trades(rows: Iterable[dict[str, Any]], fh: IO[str]) -> None:
    """Write trade rows as CSV (:data:`TRADE_COLUMNS`; money to 2 decimals) to the text
    stream ``fh`` (opened with ``newline=""``): the one trades-CSV format of mixbot."""
    w = csv.DictWriter(fh, fieldnames=list(TRADE_COLUMNS), extrasaction="ignore")
    w.writeheader()
    for r in rows:
        w.writerow({**r, **{k: f"{float(r[k]):.2f}" for k in _MONEY}})


def write_trades_csv(rows: Iterable[dict[str, Any]], path: Path) -> Path:
    """Write trade rows (:func:`write_trades`) to the file ``path``; returns it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        write_trades(rows, fh)
    return path


def filter_rows(
    rows: Iterable[dict[str, Any]],
    symbol: str | None = None,
    date_from: str | None = None,
    date_to: str | None = None,
) -> list[dict[str, Any]]:
    """Rows of ``symbol`` whose exit date (market time) is within ``date_from``..``date_to``
    (``YYYY-MM-DD``, inclusive; None = open)."""
    out = []
    for r in rows:
        day = str(r["exit_time"])[:10]
        if symbol and r["symbol"] != symbol:
            continue
        if date_from and day < date_from:
            continue
        if date_to and day > date_to:
            continue
        out.append(r)
    return out


@dataclass(frozen=True)
class PnlBucket:
    """Net PnL (INR) of the trades closed in one period: ``period`` is ``YYYY-MM-DD`` (day),
    ``YYYY-Www`` (ISO week) or ``YYYY-MM`` (month)."""

    period: str
    bot_id: str
    trades: int
    wins: int
    pnl_net: float
    charges: float


def _period(day: dt.date, by: str) -> str:
    if by == "day":
        return day.isoformat()
    if by == "week":
        y, w, _ = day.isocalendar()
        return f"{y}-W{w:02d}"
    if by == "month":
        return f"{day.year}-{day.month:02d}"
    raise ValueError(f"unknown period {by!r}: use day, week or month")


def pnl_by(rows: Iterable[dict[str, Any]], by: str = "day", total_id: str = "*") -> list[PnlBucket]:
    """Trades grouped by exit period per bot, plus a total over bots (``bot_id`` ``total_id``)
    per period, oldest first.

    Raises:
        ValueError: ``by`` not day / week / month.
    """
    acc: dict[tuple[str, str], list[float]] = {}
    for r in rows:
        p = _period(dt.date.fromisoformat(str(r["exit_time"])[:10]), by)
        for key in ((p, r["bot_id"]), (p, total_id)):
            a = acc.setdefault(key, [0, 0, 0.0, 0.0])
            a[0] += 1
            a[1] += 1 if r["pnl_net"] > 0 else 0
            a[2] += float(r["pnl_net"])
            a[3] += float(r["charges"])
    return [
        PnlBucket(p, b, int(a[0]), int(a[1]), round(a[2], 2), round(a[3], 2))
        for (p, b), a in sorted(
            acc.items(), key=lambda kv: (kv[0][0], kv[0][1] == total_id, kv[0][1])
        )
    ]
