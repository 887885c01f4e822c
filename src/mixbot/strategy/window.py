"""Bar arrays for the mixins: whole-series in a backtest, a trailing window when live.

In a backtest (a preloaded :class:`~mixbot.feeds.arrayfeed.ArrayFeed`) the mixins
compute their indicators ONCE over the whole series (vectorised TA-Lib) and each bar
only indexes the result. With a live feed (replay, Upstox) bars arrive one by one: the
window keeps the last ``size`` bars and the mixins recompute over it after each bar.
Wilder-smoothed indicators (RSI, ATR) forget their start point geometrically, so a window
of a few hundred bars gives the same values as the whole history to floating-point
precision; the parity test checks that a replay trades exactly like the backtest.
"""

from __future__ import annotations

import datetime as dt
from collections import deque
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from mixbot.strategy.mixin import Bars, Mixin

_EPOCH_ORD = dt.datetime(1, 1, 1).toordinal()
_EPOCH64 = np.datetime64("0001-01-01T00:00:00", "us")


class BarWindow:
    """Keeps :class:`Bars` for the mixins and says which index is the current bar.

    Args:
        data: the Backtrader feed.
        mixins: the entry and exit mixins (their ``compute`` is called here).
        size: live window length in bars (at least 10 x the longest warm-up is wise).
        tz: market time zone, for local minutes and trading days.
    """

    def __init__(self, data, mixins: list[Mixin], size: int, tz: str) -> None:  # type: ignore[no-untyped-def]
        self.data = data
        self.mixins = mixins
        self.tz = ZoneInfo(tz)
        series = getattr(data.p, "series", None) if not data.islive() else None
        self.vector = series is not None
        self.count = 0  # bars seen
        self.i = -1  # index of the current bar in self.bars
        if series is not None:
            self.bars = Bars.from_series(series)
            local = pd.DatetimeIndex(series.end).tz_localize("UTC").tz_convert(tz)
            self._days = [d.date() for d in local.normalize().tz_localize(None).to_pydatetime()]
            for m in mixins:
                m.compute(self.bars)
        else:
            self.size = max(int(size), 50)
            # open, high, low, close, volume, local minutes, Backtrader day number of the END
            self._buf: list[deque[float]] = [deque(maxlen=self.size) for _ in range(7)]
            o, h, lo, c, v = (np.empty(0) for _ in range(5))
            self.bars = Bars(o, h, lo, c, v, np.empty(0, dtype=np.int64), 0)
            self._day: dt.date | None = None

    def advance(self) -> None:
        """Take in the bar Backtrader just delivered (call once at the start of ``next``)."""
        self.count += 1
        if self.vector:
            self.i = self.count - 1
            return
        d = self.data
        when = d.datetime.datetime(0).replace(tzinfo=dt.UTC).astimezone(self.tz)
        self._day = when.date()
        vals = (
            d.open[0],
            d.high[0],
            d.low[0],
            d.close[0],
            d.volume[0],
            when.hour * 60 + when.minute,
            d.datetime[0],
        )
        for buf, v in zip(self._buf, vals):
            buf.append(v)
        o, h, lo, c, v = (np.fromiter(b, dtype=np.float64, count=len(b)) for b in self._buf[:5])
        minutes = np.fromiter(self._buf[5], dtype=np.int64, count=len(self._buf[5]))
        nums = np.fromiter(self._buf[6], dtype=np.float64, count=len(self._buf[6]))
        # Backtrader's float day numbers carry ~1 us of noise: round to the millisecond
        end = _EPOCH64 + (np.round((nums - 1.0) * 86_400_000.0).astype(np.int64) * 1000).astype(
            "timedelta64[us]"
        )
        self.bars = Bars(o, h, lo, c, v, minutes, self.count - len(minutes), end=end)
        for m in self.mixins:
            m.compute(self.bars)
        self.i = len(minutes) - 1

    @property
    def abs_index(self) -> int:
        """0-based index of the current bar over the whole feed."""
        return self.count - 1

    @property
    def minute(self) -> int:
        """Current bar's END time, minutes after local midnight."""
        return int(self.bars.minutes[self.i])

    @property
    def day(self) -> dt.date:
        """Current bar's local trading date."""
        if self.vector:
            return self._days[self.i]
        assert self._day is not None
        return self._day
