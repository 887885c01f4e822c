"""Upstox candle intervals and IST date ranges: parsing, request chunking, coverage gaps.

Split out of :mod:`mixbot.venues.upstox.data.candles` (which re-exports every name here).
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass

from mixbot.errors import ConfigError

_UNITS = {
    "m": "minutes",
    "min": "minutes",
    "mins": "minutes",
    "minute": "minutes",
    "minutes": "minutes",
    "h": "hours",
    "hr": "hours",
    "hour": "hours",
    "hours": "hours",
    "d": "days",
    "day": "days",
    "days": "days",
    "w": "weeks",
    "wk": "weeks",
    "week": "weeks",
    "weeks": "weeks",
    "mo": "months",
    "mon": "months",
    "month": "months",
    "months": "months",
}
_MAX_INTERVAL = {"minutes": 300, "hours": 5, "days": 1, "weeks": 1, "months": 1}


@dataclass(frozen=True)
class Interval:
    """A candle size: ``unit`` (minutes/hours/days/weeks/months) and ``value``."""

    unit: str
    value: int

    @property
    def label(self) -> str:
        """Cache file stem, e.g. ``"minutes1"``."""
        return f"{self.unit}{self.value}"

    @property
    def delta(self) -> dt.timedelta | None:
        """Length of an intraday candle; None for days and longer."""
        if self.unit == "minutes":
            return dt.timedelta(minutes=self.value)
        if self.unit == "hours":
            return dt.timedelta(hours=self.value)
        return None

    @property
    def max_span_months(self) -> int | None:
        """Widest range of one request in calendar months (None: no limit), per the V3 docs."""
        if self.unit == "minutes":
            return 1 if self.value <= 15 else 3
        if self.unit == "hours":
            return 3
        if self.unit == "days":
            return 120
        return None

    @property
    def intraday(self) -> bool:
        """True for minutes/hours (bars within the session)."""
        return self.unit in ("minutes", "hours")


def parse_interval(text: str) -> Interval:
    """``"1m"``, ``"5min"``, ``"1h"``, ``"1d"``/``"day"``, ``"1w"``, ``"1mo"``, ``"minutes/15"``.

    Raises:
        ConfigError: unknown unit or an interval Upstox does not offer (minutes 1-300,
            hours 1-5, days/weeks/months 1).
    """
    t = text.strip().lower().replace(" ", "")
    m = re.fullmatch(r"(\d+)([a-z]+)", t) or re.fullmatch(r"([a-z]+)[/:]?(\d*)", t)
    if not m:
        raise ConfigError(f"interval {text!r}: use e.g. 1m, 5m, 1h, 1d, 1w, 1mo")
    a, b = m.groups()
    num, word = (a, b) if a.isdigit() else (b or "1", a)
    unit = _UNITS.get(word)
    if unit is None:
        raise ConfigError(f"interval {text!r}: unknown unit {word!r} (use m, h, d, w or mo)")
    value = int(num)
    if not 1 <= value <= _MAX_INTERVAL[unit]:
        raise ConfigError(f"interval {text!r}: Upstox offers {unit} 1..{_MAX_INTERVAL[unit]} only")
    return Interval(unit, value)


def _add_months(d: dt.date, months: int) -> dt.date:
    y, m = divmod(d.month - 1 + months, 12)
    year, month = d.year + y, m + 1
    return dt.date(year, month, min(d.day, calendar.monthrange(year, month)[1]))


def chunk_ranges(start: dt.date, end: dt.date, interval: Interval) -> list[tuple[dt.date, dt.date]]:
    """Split ``start..end`` (inclusive IST dates) into request ranges within the API's limit.

    Each range starts the day after the previous one ends and spans at most the unit's limit:
    ``[d, d + N months - 1 day]`` (1 month for minutes 1-15, so 2025-01-01..2025-01-31,
    2025-02-01..2025-02-28, ...; 3 months for minutes > 15 and hours; 10 years for days).
    Returns [] when ``start > end``.
    """
    if start > end:
        return []
    months = interval.max_span_months
    if months is None:
        return [(start, end)]
    out = []
    d = start
    while d <= end:
        last = min(end, _add_months(d, months) - dt.timedelta(days=1))
        out.append((d, last))
        d = last + dt.timedelta(days=1)
    return out


Ranges = list[tuple[dt.date, dt.date]]


def _merge(ranges: Ranges) -> Ranges:
    out: Ranges = []
    for a, b in sorted(ranges):
        if out and a <= out[-1][1] + dt.timedelta(days=1):
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def missing_ranges(start: dt.date, end: dt.date, covered: Ranges) -> Ranges:
    """The parts of ``start..end`` (inclusive) not inside any ``covered`` range."""
    gaps: Ranges = []
    d = start
    for a, b in _merge(covered):
        if b < d:
            continue
        if a > end:
            break
        if a > d:
            gaps.append((d, min(end, a - dt.timedelta(days=1))))
        d = max(d, b + dt.timedelta(days=1))
        if d > end:
            break
    if d <= end:
        gaps.append((d, end))
    return gaps
