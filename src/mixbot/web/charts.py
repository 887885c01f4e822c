"""Chart data of a bot page: its bars, entry/exit markers and the open position's
stop-loss / take-profit lines.

Bars come from the bot's data file (data sources ``csv`` and ``replay``, read and aggregated
by :func:`mixbot.venues.files.file_series` exactly as the bot reads them) over the span of its
equity curve, so a replay shows the bars it has processed so far. Times are market-local
wall times ``YYYY-MM-DD HH:MM:SS`` (plotly.js has no time zones); prices in INR.
"""

from __future__ import annotations

from typing import Any

#: at most this many bars are sent (the latest ones)
MAX_BARS = 5000
STOP_ROLES = ("stop_loss", "stop", "trailing_stop")
TARGET_ROLES = ("take_profit", "target")


def wall(iso: str | None) -> str | None:
    """``2019-01-01T09:15:00+05:30`` -> ``2019-01-01 09:15:00`` (the market's wall time)."""
    return iso[:19].replace("T", " ") if iso else None


def _bars(ref: Any, first: str | None, last: str | None) -> tuple[dict[str, list[Any]], str | None]:
    import numpy as np
    import pandas as pd

    from mixbot.errors import MixbotError
    from mixbot.venues.files import file_series

    cfg = ref.cfg
    empty: dict[str, list[Any]] = {k: [] for k in ("time", "open", "high", "low", "close")}
    if cfg.data.data_source not in ("csv", "replay"):
        return empty, f"bars of data source {cfg.data.data_source!r} are not charted yet"
    if first is None or last is None:
        return empty, "no bars processed yet"
    try:
        series = file_series(cfg, True, first[:10], last[:10])
    except MixbotError as exc:
        return empty, str(exc)
    idx = pd.DatetimeIndex(series.end).tz_localize("UTC").tz_convert(cfg.market.timezone)
    keep = (idx <= pd.Timestamp(last)).nonzero()[0][-MAX_BARS:]
    times = idx[keep].strftime("%Y-%m-%d %H:%M:%S").tolist()
    out = {"time": times}
    for k in ("open", "high", "low", "close"):
        out[k] = np.round(getattr(series, k)[keep], 4).tolist()
    return out, None


def bot_chart(service: Any, ref: Any) -> dict[str, Any]:
    """``{"bars": {time, open, high, low, close}, "markers": [...], "lines": [...], "note"}``.

    Markers: ``{"time", "price", "kind": "entry"|"exit", "side", "text"}`` per trade (the open
    position's entry too). Lines: ``{"kind": "stop_loss"|"take_profit"|"entry", "price"}`` from
    the open position and its open stop / target orders.
    """
    curve = service.equity(ref.file)
    first = curve[0]["time"] if curve else None
    last = curve[-1]["time"] if curve else None
    bars, note = _bars(ref, first, last)
    start = bars["time"][0] if bars["time"] else None
    markers: list[dict[str, Any]] = []
    for t in service.trades([ref.file]):
        for kind, when, price in (
            ("entry", t["entry_time"], t["entry_price"]),
            ("exit", t["exit_time"], t["exit_price"]),
        ):
            w = wall(when)
            if w and (start is None or w >= start):
                text = f"{kind} {t['side']} {t['qty']:g} @ {price:.2f}"
                if kind == "exit":
                    text += f" ({t['exit_reason']}, net {t['pnl_net']:.2f})"
                markers.append(
                    {"time": w, "price": price, "kind": kind, "side": t["side"], "text": text}
                )
    lines: list[dict[str, Any]] = []
    status = service.status(ref)
    for p in status.positions:
        lines.append({"kind": "entry", "price": p["avg_price"]})
    for o in status.open_orders if status.positions else []:
        if o.get("price") is None:
            continue
        if o["role"] in STOP_ROLES:
            lines.append({"kind": "stop_loss", "price": o["price"]})
        elif o["role"] in TARGET_ROLES:
            lines.append({"kind": "take_profit", "price": o["price"]})
    return {"bars": bars, "markers": markers, "lines": lines, "note": note}
