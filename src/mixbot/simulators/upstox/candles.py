"""Historical and intraday candles (Upstox V3 shapes) aggregated from the data files.

Answer rows are ``[timestamp, open, high, low, close, volume, oi]``, NEWEST FIRST, where
``timestamp`` is the candle's START time as ISO-8601 with the IST offset
(``2019-01-01T09:15:00+05:30``; day/week/month candles at 00:00 IST), prices INR, volume
in units, ``oi`` 0 (the loader drops open interest).

Units and intervals (V3): ``minutes`` 1..300, ``hours`` 1..5, ``days``/``weeks``/``months`` 1.
Intraday buckets start at the session open (09:15 IST): a 30-minute request gives 09:15,
09:45, ..., 15:15; an hourly one 09:15, 10:15, .... Per-request ranges (V3 docs):
minutes 1-15 -> at most 1 month (31 days), minutes > 15 and hours -> 1 quarter (92 days),
days -> 1 decade, weeks/months -> no limit; beyond, a 400 error like the real API.
Daily-file instruments have no intraday candles (empty lists for minutes/hours).
The error codes of validation failures below are the simulator's best approximation.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd

from mixbot.simulators.upstox.errors import ApiError
from mixbot.simulators.upstox.instruments import IST, Series
from mixbot.simulators.upstox.market import session_bounds

_MAX_INTERVAL = {"minutes": 300, "hours": 5, "days": 1, "weeks": 1, "months": 1}
_DAY_MS = 86_400_000


def parse_interval(unit: str, interval: str) -> tuple[str, int]:
    """Validate ``unit``/``interval``; returns (unit, n). Raises :class:`ApiError` (400)."""
    if unit not in _MAX_INTERVAL:
        raise ApiError(
            400, "UDAPI1146", "Invalid unit: use minutes, hours, days, weeks or months", "unit"
        )
    try:
        n = int(interval)
    except ValueError:
        n = 0
    if not 1 <= n <= _MAX_INTERVAL[unit]:
        raise ApiError(
            400,
            "UDAPI1147",
            f"Invalid interval {interval!r} for unit {unit}: 1..{_MAX_INTERVAL[unit]}",
            "interval",
        )
    return unit, n


def parse_date(text: str, prop: str) -> dt.date:
    """``YYYY-MM-DD`` -> date, or a 400 :class:`ApiError`."""
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ApiError(400, "UDAPI1022", f"Invalid date {text!r}: use YYYY-MM-DD", prop) from None


def max_span_days(unit: str, n: int) -> int | None:
    """The per-request range limit in days (None = no limit)."""
    if unit == "minutes":
        return 31 if n <= 15 else 92
    if unit == "hours":
        return 92
    if unit == "days":
        return 3660
    return None


def default_from(unit: str, n: int, to_day: dt.date) -> dt.date:
    """``from_date`` when omitted: the whole allowed range up to ``to_day``."""
    span = max_span_days(unit, n)
    return to_day - dt.timedelta(days=span if span is not None else 36600)


def check_range(unit: str, n: int, from_day: dt.date, to_day: dt.date) -> None:
    """Raise a 400 :class:`ApiError` for a reversed or too long date range."""
    if from_day > to_day:
        raise ApiError(400, "UDAPI1015", "to_date must be greater than or equal to from_date")
    span = max_span_days(unit, n)
    if span is not None and (to_day - from_day).days > span:
        raise ApiError(
            400,
            "UDAPI1148",
            f"Invalid date range: {unit}/{n} candles allow at most {span} days per request",
        )


def _iso(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, IST).isoformat()


def candles(
    s: Series, unit: str, n: int, from_day: dt.date, to_day: dt.date, upto_ms: int
) -> list[list[Any]]:
    """Candles of ``s`` for IST dates in [from_day, to_day] from bars ending <= ``upto_ms``.

    Only COMPLETED source bars are used (a 30-minute candle in progress contains the
    1-minute bars completed so far).
    """
    lo_ms = session_bounds(from_day)[0] - 9 * 3_600_000  # that day 00:15 IST: generous
    hi_ms = min(upto_ms, session_bounds(to_day)[1] + 9 * 3_600_000)
    a = int(np.searchsorted(s.end_ms, lo_ms, side="left"))
    b = int(np.searchsorted(s.end_ms, hi_ms, side="right"))
    if b <= a:
        return []
    end = s.end_ms[a:b]
    start = end - (s.interval_ms if not s.daily else 0)
    local = pd.to_datetime(end - 1, unit="ms", utc=True).tz_convert(IST).as_unit("ns")
    day = local.normalize()
    keep = (day.date >= from_day) & (day.date <= to_day)
    if unit in ("minutes", "hours"):
        if s.daily:
            return []
        size = n * (60_000 if unit == "minutes" else 3_600_000)
        day_ms = (day.asi8 // 1_000_000).astype(np.int64)
        open_ms = day_ms + (9 * 60 + 15) * 60_000
        key = open_ms + ((start - open_ms) // size) * size
    elif unit == "days":
        key = (day.asi8 // 1_000_000).astype(np.int64)
    elif unit == "weeks":
        monday = day - pd.to_timedelta(day.weekday, unit="D")
        key = (monday.asi8 // 1_000_000).astype(np.int64)
    else:  # months
        first = day - pd.to_timedelta(day.day - 1, unit="D")
        key = (first.asi8 // 1_000_000).astype(np.int64)
    frame = pd.DataFrame(
        {
            "k": np.asarray(key)[keep],
            "o": s.o[a:b][keep],
            "h": s.h[a:b][keep],
            "l": s.lo[a:b][keep],
            "c": s.c[a:b][keep],
            "v": s.v[a:b][keep],
        }
    )
    if frame.empty:
        return []
    g = frame.groupby("k", sort=True).agg(
        o=("o", "first"), h=("h", "max"), l=("l", "min"), c=("c", "last"), v=("v", "sum")
    )
    rows = [
        [_iso(int(k)), float(r.o), float(r.h), float(r.l), float(r.c), int(round(r.v)), 0]
        for k, r in zip(g.index, g.itertuples(index=False), strict=True)
    ]
    rows.reverse()
    return rows
