"""Minute/bar helpers of :class:`~mixbot.venues.upstox.ws.feed.UpstoxFeed`.

Exchange-clock constants, minute flooring, candle frames -> :class:`~mixbot.feeds.aggregator.Bar`
lists, the default 1-minute history source, and the session-window arithmetic mixed into the
feed. Split out of :mod:`mixbot.venues.upstox.ws.feed` (which re-exports every name here).
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any
from zoneinfo import ZoneInfo

from mixbot.feeds.aggregator import Bar

CLOSED_STATUSES = frozenset({"NORMAL_CLOSE", "CLOSING_START", "CLOSING_END"})
_MIN = dt.timedelta(minutes=1)
_UTC = dt.UTC
_EPOCH = dt.datetime(1970, 1, 1)
_MS_TD = dt.timedelta(milliseconds=1)


def _floor_minute(t: dt.datetime) -> dt.datetime:
    return t.replace(second=0, microsecond=0)


def _frame_to_bars(df: Any) -> list[Bar]:
    """Rows of an end-labelled naive-UTC OHLCV DataFrame (index or an ``end`` column)."""
    if df is None or len(df) == 0:
        return []
    cols = {str(c).lower(): c for c in df.columns}
    if "end" in cols:
        ends = list(df[cols["end"]])
    else:
        ends = list(df.index)
    o, h, lo, c = (df[cols[k]].tolist() for k in ("open", "high", "low", "close"))
    v = df[cols["volume"]].tolist() if "volume" in cols else [0.0] * len(o)
    out = []
    for k, end in enumerate(ends):
        if hasattr(end, "to_pydatetime"):
            end = end.to_pydatetime()
        if getattr(end, "tzinfo", None) is not None:
            end = end.astimezone(_UTC).replace(tzinfo=None)
        out.append(Bar(end, float(o[k]), float(h[k]), float(lo[k]), float(c[k]), float(v[k])))
    out.sort(key=lambda b: b.end)
    return out


def default_history(
    client: Any,
    key: str,
    start: dt.datetime,
    end: dt.datetime,
    now: dt.datetime | None = None,
    cache: bool = True,
) -> list[Bar]:
    """1-minute candles with END in (start, end] (naive UTC) from the Upstox candle APIs.

    ``now`` is the EXCHANGE clock (naive UTC): it decides which day is "today" (served by the
    intraday endpoint and never cached) and that only complete candles are returned.
    """
    from mixbot.venues.upstox.data import candles

    df = candles.fetch_bars(client, key, "1m", start, end, cache=cache, now=now or end)
    return [b for b in _frame_to_bars(df) if start < b.end <= end]


class _SessionWindowMixin:
    """Session bounds, warm-up start and gap marking of ``UpstoxFeed`` (minute arithmetic)."""

    p: Any
    _mkt_tz: ZoneInfo
    _last_min_end: dt.datetime | None
    _dirty: set[dt.datetime]

    def _session_bounds(self, t: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
        local = t.replace(tzinfo=_UTC).astimezone(self._mkt_tz)
        day = local.date()
        o, c = self.p.session_open_min, self.p.session_close_min
        mk = lambda m: (  # noqa: E731
            dt.datetime.combine(day, dt.time(m // 60, m % 60), self._mkt_tz)
            .astimezone(_UTC)
            .replace(tzinfo=None)
        )
        return mk(o), mk(c)

    def _warmup_start(self, now: dt.datetime) -> dt.datetime:
        p = self.p
        per_day = max(1, p.session_close_min - p.session_open_min)
        minutes = max(0, int(p.lookback_bars)) * min(int(p.interval_minutes), per_day)
        if p.interval_minutes >= 1440:
            minutes = max(0, int(p.lookback_bars)) * per_day
        sessions = math.ceil(minutes / per_day) + 1
        days = sessions * 7 // 5 + 4
        return _floor_minute(now) - dt.timedelta(days=days)

    def _mark_gap(self, since: dt.datetime, now: dt.datetime) -> None:
        """Minutes spanned by a silence (exchange times) get repaired from the candle API."""
        m = _floor_minute(since) + _MIN
        last = _floor_minute(now) + _MIN
        n = 0
        while m <= last and n < 24 * 60:
            if self._last_min_end is None or m > self._last_min_end:
                self._dirty.add(m)
            m += _MIN
            n += 1
