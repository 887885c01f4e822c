"""NSE session calendar of the simulator: status by simulated time, timings and holidays.

Times: the NSE regular session is 09:15-15:30 IST (UTC+05:30, no DST); instants are ms
since the Unix epoch (UTC). Status names are those of the V3 feed's ``MarketStatus`` enum
(``upstox_client.feeder.proto.MarketDataFeedV3_pb2``) and of ``/v2/market/status``:

* 09:00 ``PRE_OPEN_START``, 09:08 ``PRE_OPEN_END``, 09:15 ``NORMAL_OPEN``,
  15:30 ``NORMAL_CLOSE``, 15:40 ``CLOSING_START``, 16:00 ``CLOSING_END``;
* on a non-trading day, and before 09:00, the status is ``NORMAL_CLOSE``.

Trading days are the dates with data. Holidays are the WEEKDAYS between the first and the
last data date that have no data (the data files' gaps), reported as ``TRADING_HOLIDAY``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from mixbot.simulators.upstox.instruments import IST

SEGMENTS = ("NSE_EQ", "NSE_FO", "NSE_INDEX")
OPEN = dt.time(9, 15)
CLOSE = dt.time(15, 30)
_STEPS = (
    (dt.time(9, 0), "PRE_OPEN_START"),
    (dt.time(9, 8), "PRE_OPEN_END"),
    (OPEN, "NORMAL_OPEN"),
    (CLOSE, "NORMAL_CLOSE"),
    (dt.time(15, 40), "CLOSING_START"),
    (dt.time(16, 0), "CLOSING_END"),
)
CLOSED_EXCHANGES = ["NSE", "NFO", "CDS", "BSE", "BFO", "BCD", "NSCOM"]


def at_ms(day: dt.date, t: dt.time) -> int:
    """ms since epoch of wall time ``t`` IST on ``day``."""
    return int(dt.datetime.combine(day, t, IST).timestamp() * 1000)


def session_bounds(day: dt.date) -> tuple[int, int]:
    """(open, close) of ``day``'s regular session, ms since epoch."""
    return at_ms(day, OPEN), at_ms(day, CLOSE)


class Calendar:
    """Trading days (from the data) and the derived holidays."""

    def __init__(self, days: list[dt.date]) -> None:
        self.days = sorted(set(days))
        self._set = set(self.days)

    def is_trading_day(self, day: dt.date) -> bool:
        return day in self._set

    def holidays(self) -> list[dt.date]:
        """Weekdays inside the data range without data."""
        if not self.days:
            return []
        out = []
        d = self.days[0]
        while d <= self.days[-1]:
            if d.weekday() < 5 and d not in self._set:
                out.append(d)
            d += dt.timedelta(days=1)
        return out

    def status(self, now_ms: int) -> str:
        """The segment status at ``now_ms`` (see the module docstring)."""
        now = dt.datetime.fromtimestamp(now_ms / 1000, IST)
        if now.date() not in self._set:
            return "NORMAL_CLOSE"
        status = "NORMAL_CLOSE"
        for t, name in _STEPS:
            if now.time() >= t:
                status = name
        return status

    # ---------------------------------------------------------------- REST payloads

    def timings(self, day: dt.date) -> list[dict[str, Any]]:
        """``/v2/market/timings/{date}`` data: NSE and NFO sessions (empty on a holiday)."""
        if day not in self._set:
            return []
        start, end = session_bounds(day)
        return [{"exchange": ex, "start_time": start, "end_time": end} for ex in ("NSE", "NFO")]

    def holiday_rows(self, day: dt.date | None = None) -> list[dict[str, Any]]:
        """``/v2/market/holidays[/{date}]`` data."""
        days = self.holidays()
        if day is not None:
            days = [d for d in days if d == day]
        return [
            {
                "date": d.isoformat(),
                "description": "Holiday (no data in the simulator's files)",
                "holiday_type": "TRADING_HOLIDAY",
                "closed_exchanges": CLOSED_EXCHANGES,
                "open_exchanges": [],
            }
            for d in days
        ]
