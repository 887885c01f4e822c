"""Market-quote answers (``/v2/market-quote/*``, ``/v3/market-quote/*``) at the simulated now.

Answers are keyed ``SEGMENT:TRADING_SYMBOL`` (e.g. ``NSE_FO:BANKNIFTY``) and carry
``instrument_token`` = the instrument key (``NSE_FO|35005``), like Upstox. Prices INR,
volume = traded today (units), ``last_trade_time`` ms epoch as a string, ``timestamp`` ISO
IST. The day's OHLC before the first trade of the day is the previous close (``cp``)
repeated. Depth is synthetic (5 levels around the last price); circuit limits +-10 % of cp.
Request keys come from ``instrument_key`` (or the deprecated ``symbol``), comma separated,
at most 500; unknown keys are left out; none known -> 400 ``UDAPI100011``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from mixbot.simulators.upstox.candles import candles
from mixbot.simulators.upstox.errors import ApiError
from mixbot.simulators.upstox.feed import Candle, InstState
from mixbot.simulators.upstox.instruments import IST, ist_date
from mixbot.simulators.upstox.replay import Replay


def requested(replay: Replay, query: dict[str, str]) -> list[InstState]:
    """The known instruments named by the query (see the module docstring)."""
    raw = query.get("instrument_key") or query.get("symbol") or ""
    keys = [k.strip() for k in raw.split(",") if k.strip()]
    if not keys:
        raise ApiError(400, "UDAPI1087", "Missing instrument_key", "instrument_key")
    if len(keys) > 500:
        raise ApiError(400, "UDAPI1088", "At most 500 instrument keys per request")
    states = [replay.states[k] for k in keys if k in replay.states]
    if not states:
        raise ApiError(400, "UDAPI100011", "Invalid Instrument key", "instrument_key", raw)
    return states


def _day(st: InstState) -> Candle:
    if st.day is not None:
        return st.day
    return Candle(0, st.cp, st.cp, st.cp, st.cp, 0)


def _ohlc(c: Candle) -> dict[str, float]:
    return {"open": c.open, "high": c.high, "low": c.low, "close": c.close}


def full_quote(st: InstState, now_ms: int) -> dict[str, Any]:
    """One entry of ``/v2/market-quote/quotes``."""
    day = _day(st)
    tick = st.inst.tick
    lot = max(1, st.inst.lot_size)
    buy = [
        {"quantity": lot * (2 + i), "price": round(st.ltp - tick * i, 2), "orders": 1 + i}
        for i in range(5)
    ]
    sell = [
        {"quantity": lot * (3 + i), "price": round(st.ltp + tick * (i + 1), 2), "orders": 1 + i}
        for i in range(5)
    ]
    vol = day.volume
    return {
        "ohlc": _ohlc(day),
        "depth": {"buy": buy, "sell": sell},
        "timestamp": dt.datetime.fromtimestamp(now_ms / 1000, IST).isoformat(
            timespec="milliseconds"
        ),
        "instrument_token": st.inst.key,
        "symbol": st.inst.trading_symbol,
        "last_price": st.ltp,
        "volume": vol,
        "average_price": round(st.turnover / vol, 2) if vol else st.ltp,
        "oi": 0.0,
        "net_change": round(st.ltp - st.cp, 2),
        "total_buy_quantity": float(sum(b["quantity"] for b in buy)),
        "total_sell_quantity": float(sum(s["quantity"] for s in sell)),
        "lower_circuit_limit": round(round(st.cp * 0.9 / tick) * tick, 2),
        "upper_circuit_limit": round(round(st.cp * 1.1 / tick) * tick, 2),
        "last_trade_time": str(st.ltt),
        "oi_day_high": 0.0,
        "oi_day_low": 0.0,
    }


def ltp_v2(st: InstState) -> dict[str, Any]:
    """One entry of ``/v2/market-quote/ltp``."""
    return {"last_price": st.ltp, "instrument_token": st.inst.key}


def ltp_v3(st: InstState) -> dict[str, Any]:
    """One entry of ``/v3/market-quote/ltp``."""
    return {
        "last_price": st.ltp,
        "instrument_token": st.inst.key,
        "ltq": st.ltq,
        "volume": _day(st).volume,
        "cp": st.cp,
    }


def _interval_candles(
    replay: Replay, st: InstState, interval: str, now_ms: int
) -> tuple[Candle | None, Candle]:
    """(previous, live) candle for ``1d``, ``I1`` or ``I30``."""
    if interval == "1d":
        prev = Candle(0, st.cp, st.cp, st.cp, st.cp, 0)
        return prev, _day(st)
    if interval == "I1":
        live = st.minute or _day(st)
        return st.prev_minute, live
    if interval == "I30":
        today = ist_date(now_ms)
        rows = candles(replay.by_key[st.inst.key], "minutes", 30, today, today, now_ms)
        cs = [Candle(0, r[1], r[2], r[3], r[4], r[5]) for r in rows[:2]]
        if not cs:
            return None, _day(st)
        return (cs[1] if len(cs) > 1 else None), cs[0]
    raise ApiError(400, "UDAPI1089", f"Invalid interval {interval!r}: 1d, I1 or I30", "interval")


def ohlc_v2(replay: Replay, st: InstState, interval: str, now_ms: int) -> dict[str, Any]:
    """One entry of ``/v2/market-quote/ohlc``."""
    _, live = _interval_candles(replay, st, interval, now_ms)
    return {"ohlc": _ohlc(live), "last_price": st.ltp, "instrument_token": st.inst.key}


def ohlc_v3(replay: Replay, st: InstState, interval: str, now_ms: int) -> dict[str, Any]:
    """One entry of ``/v3/market-quote/ohlc`` (``ts`` = candle start, ms epoch)."""
    prev, live = _interval_candles(replay, st, interval, now_ms)

    def one(c: Candle | None) -> dict[str, Any] | None:
        if c is None:
            return None
        return {**_ohlc(c), "volume": c.volume, "ts": c.start_ms}

    return {
        "last_price": st.ltp,
        "instrument_token": st.inst.key,
        "prev_ohlc": one(prev),
        "live_ohlc": one(live),
    }
