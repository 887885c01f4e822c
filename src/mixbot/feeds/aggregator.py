"""The one bar aggregator: ticks or small bars -> session-aligned bars.

Used by the replay feed, by file backtests whose file bars are smaller than the
configured interval, and (next) by the live Upstox feed, so that every mode builds
bars the same way.

Alignment (NSE, IST): intraday buckets are counted from the session open, e.g. with
09:15 and 5m the buckets END at 09:20, 09:25, ..., 15:30; a 1-minute bar labelled 09:16
(bar end, vendor convention) falls in the bucket ending 09:20. Bars are labelled by
their END time. A trailing partial bucket at the close ends at the session close.
Daily bars bucket by local calendar date and end at the session close.
Ticks before the open are put into the first bucket; ticks after the close into the last,
unless that bucket was already emitted: an input for a bucket that is already out (e.g. a
15:31 or 16:36 post-close print after the 15:30 bar was emitted) is dropped and counted in
``dropped``, since a bar handed to the strategy cannot be amended. Callers emit a bucket as
soon as it is complete (:meth:`BarAggregator.bar_is_complete`), the file backtest included,
so every mode builds the same bars.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

UTC = dt.UTC


@dataclass
class Bar:
    """One OHLCV bar. ``end`` is its END time, naive UTC; prices in INR; volume in shares."""

    end: dt.datetime
    open: float
    high: float
    low: float
    close: float
    volume: float


class BarAggregator:
    """Aggregate ticks or bars into ``interval_minutes`` bars aligned to the session open.

    Args:
        interval_minutes: target bar size in minutes (1440 = daily).
        session_open_min, session_close_min: session bounds, minutes after local midnight.
        timezone: IANA zone of the session times (Asia/Kolkata for NSE).

    Feed it with :meth:`add_tick` or :meth:`add_bar` in time order; each call returns the
    bars completed by that input (usually none or one). :meth:`flush` returns the bar in
    progress (end of data / end of session).
    """

    def __init__(
        self,
        interval_minutes: int,
        session_open_min: int = 555,
        session_close_min: int = 930,
        timezone: str = "Asia/Kolkata",
    ) -> None:
        if interval_minutes < 1:
            raise ValueError("interval_minutes must be >= 1")
        self.interval = interval_minutes
        self.open_min = session_open_min
        self.close_min = session_close_min
        self.tz = ZoneInfo(timezone)
        self._cur: Bar | None = None
        self._cur_key: tuple[dt.date, int] | None = None
        self._done_key: tuple[dt.date, int] | None = None  # last emitted bucket
        self.dropped = 0  # late inputs for buckets already emitted

    def _bucket(
        self, end_utc: dt.datetime, is_bar_end: bool
    ) -> tuple[tuple[dt.date, int], dt.datetime]:
        local = end_utc.replace(tzinfo=UTC).astimezone(self.tz)
        day = local.date()
        if self.interval >= 1440:
            end_min = self.close_min
            key = (day, 0)
        else:
            m = local.hour * 60 + local.minute + local.second / 60.0 + local.microsecond / 6e7
            since = m - self.open_min
            # a bar ending exactly on a boundary belongs to the bucket ending there; a tick
            # exactly on a boundary starts the next bucket
            k = -(-since // self.interval) if is_bar_end else since // self.interval + 1
            k = max(int(k), 1)
            end_min = min(self.open_min + k * self.interval, self.close_min)
            last_k = -(-(self.close_min - self.open_min) // self.interval)
            k = min(k, last_k)
            key = (day, k)
        end_local = dt.datetime.combine(day, dt.time(end_min // 60, end_min % 60), self.tz)
        return key, end_local.astimezone(UTC).replace(tzinfo=None)

    def _add(
        self, ts: dt.datetime, o: float, h: float, lo: float, c: float, v: float, is_bar_end: bool
    ) -> list[Bar]:
        key, end = self._bucket(ts, is_bar_end)
        if self._done_key is not None and key <= self._done_key:
            self.dropped += 1
            return []
        out: list[Bar] = []
        cur = self._cur
        if cur is not None and key != self._cur_key:
            out.append(cur)
            self._done_key = self._cur_key
            cur = None
        if cur is None:
            self._cur = Bar(end, o, h, lo, c, v)
            self._cur_key = key
        else:
            if h > cur.high:
                cur.high = h
            if lo < cur.low:
                cur.low = lo
            cur.close = c
            cur.volume += v
        return out

    def add_tick(self, ts: dt.datetime, price: float, quantity: float = 0.0) -> list[Bar]:
        """Add a trade tick (``ts`` naive UTC, price INR, quantity shares); returns completed bars."""
        return self._add(ts, price, price, price, price, quantity, is_bar_end=False)

    def add_bar(
        self, end: dt.datetime, o: float, h: float, lo: float, c: float, v: float
    ) -> list[Bar]:
        """Add a smaller bar labelled by its END time (naive UTC); returns completed bars."""
        return self._add(end, o, h, lo, c, v, is_bar_end=True)

    def bar_is_complete(self, end: dt.datetime) -> bool:
        """True when the in-progress bar's bucket ends at or before ``end`` (naive UTC),
        i.e. it can be emitted without waiting for the next input (live feeds call this
        on a timer)."""
        return self._cur is not None and self._cur.end <= end

    def flush(self) -> list[Bar]:
        """Return and clear the bar in progress, if any (its bucket then counts as emitted)."""
        key = self._cur_key
        cur, self._cur, self._cur_key = self._cur, None, None
        if cur is None:
            return []
        self._done_key = key
        return [cur]
