"""A fixture trade log built from REAL daily bars (../shared/data/nse_daily), written into a
real store, for the augmentation and adaptive-stop tests.

Trades follow the paper broker's conventions: the signal at the close of bar ``s``, the
entry fill at ``open[s + 1]`` stamped with that fill bar's END time, the exit at
``open[e]`` stamped with ``bar_end[e]``; charges from the real Indian delivery schedule.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mixbot.brokers.charges import IndianEquityCharges
from mixbot.feeds.loaders import load_bars
from mixbot.paths import REPO_ROOT
from mixbot.store.repository import Store

CHARGES = IndianEquityCharges()


@dataclass
class RealBars:
    """One symbol's daily bars: END times (naive UTC datetime64[ns]) and OHLC (INR)."""

    symbol: str
    end: np.ndarray
    open: np.ndarray
    close: np.ndarray


def real_bars(data_dir: Path, symbol: str) -> RealBars:
    f = load_bars(data_dir / "nse_daily" / f"{symbol}.csv").frame
    return RealBars(
        symbol,
        f.index.values.astype("datetime64[ns]"),
        f["open"].to_numpy(),
        f["close"].to_numpy(),
    )


def _py(t: np.datetime64) -> Any:
    """numpy datetime64 -> naive datetime (what the store holds)."""
    return t.astype("datetime64[us]").item()


def make_trade(
    bars: RealBars, s: int, hold: int, reason: str, qty: int = 100, side: str = "long"
) -> dict[str, Any]:
    """The trade signalled at bar ``s``: in at open[s+1], out at open[s+1+hold]."""
    e = s + 1 + hold
    entry, exit_ = float(bars.open[s + 1]), float(bars.open[e])
    sign = 1.0 if side == "long" else -1.0
    gross = sign * (exit_ - entry) * qty
    buy, sell = (entry, exit_) if side == "long" else (exit_, entry)
    charges = (
        CHARGES.compute("buy", qty, buy, "delivery").total
        + CHARGES.compute("sell", qty, sell, "delivery").total
    )
    return {
        "entry_tag": f"{bars.symbol}-{s}",
        "symbol": bars.symbol,
        "side": side,
        "qty": float(qty),
        "entry_time": _py(bars.end[s + 1]),
        "exit_time": _py(bars.end[e]),
        "entry_price": entry,
        "exit_price": exit_,
        "pnl_gross": gross,
        "charges": charges,
        "pnl_net": gross - charges,
        "exit_reason": reason,
        "bars_held": hold,
        "signal_bar": s,  # for the tests' own bookkeeping; not stored
        "exit_bar": e,
    }


def pick_trades(
    bars: RealBars,
    start: int,
    wins: int,
    losses: int,
    win_reason: str,
    loss_reason: str,
    hold: int = 5,
    min_loss_pct: float = 0.0,
) -> list[dict[str, Any]]:
    """Non-overlapping real trades from bar ``start`` on: the first ``wins`` with a net
    profit (exit ``win_reason``) and the first ``losses`` with a net loss of at least
    ``min_loss_pct`` % of notional (exit ``loss_reason``), in time order."""
    out: list[dict[str, Any]] = []
    need = {"w": wins, "l": losses}
    s = start
    while need["w"] or need["l"]:
        assert s + 2 + hold < len(bars.open), "ran out of bars picking fixture trades"
        t = make_trade(bars, s, hold, "")
        loss_pct = -t["pnl_net"] / (t["entry_price"] * t["qty"]) * 100
        if t["pnl_net"] > 0 and need["w"]:
            need["w"] -= 1
            out.append({**t, "exit_reason": win_reason})
            s += hold + 2
        elif t["pnl_net"] < 0 and loss_pct >= min_loss_pct and need["l"]:
            need["l"] -= 1
            out.append({**t, "exit_reason": loss_reason})
            s += hold + 2
        else:
            s += 1
    return out


def write_store(url: str, bot_id: str, trades: list[dict[str, Any]]) -> Store:
    """A real SQLite store with ``trades`` recorded for ``bot_id`` (paper mode)."""
    store = Store(url, bot_id, "paper")
    store.register("fixture", f"{bot_id}.json")
    for t in trades:
        fields = {k: v for k, v in t.items() if k not in ("entry_tag", "signal_bar", "exit_bar")}
        assert store.record_trade(t["entry_tag"], **fields)
    return store


def make_config(data_dir: Path, folder: Path, bot_id: str) -> Path:
    """config/trading/0001.json (RELIANCE daily, ATR exit x_sl 2.0 / x_tp 3.0) as ``bot_id``."""
    doc = json.loads((REPO_ROOT / "config" / "trading" / "0001.json").read_text())
    doc["bot_id"] = bot_id
    doc["data"]["path"] = str(data_dir / "nse_daily" / "RELIANCE.csv")
    doc.pop("logging", None)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{bot_id}.json"
    path.write_text(json.dumps(doc))
    return path
