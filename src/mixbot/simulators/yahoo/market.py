"""The simulator's market: tickers from real bar files, the session clock, chart bars.

Tickers: each ``--data`` argument is ``FILE`` or ``TICKER=FILE``. Without a ticker, a daily
file ``RELIANCE.csv`` serves ``RELIANCE.NS``, a 1-minute vendor file serves its first
column's symbol without the contract suffix (``BANKNIFTY_F1`` -> ``BANKNIFTY.NS``). A ticker
may have one daily and one 1-minute file; intraday intervals need the 1-minute file, daily
bars come from the daily file or else from the 1-minute bars of each day.

Sessions: NSE 09:15-15:30 IST (UTC+05:30, no DST) on every date with data between ``start``
and ``end``. The clock (:class:`SimClock`) plays only the trading time: each day's
``[09:10, 15:45]`` IST (five minutes before the open, fifteen after the close), then jumps to
the next trading day; after the last day it stands at 15:45 IST and :attr:`SimClock.finished`
is True. ``speed``: simulated seconds per wall second (0 = the clock moves only through
:meth:`SimClock.advance` / :meth:`SimClock.set_time`: tests step it).

Bars at simulated "now" (Yahoo's labels: the bar START, epoch seconds):

* a bar that has ended is complete; the bar in progress is returned too, as Yahoo does, but
  PARTIAL: the 1-minute bars it contains that have ended, and the minute in progress as its
  open only (O=H=L=C = open, volume 0). Clients must not take it for a closed bar;
* N-minute bars are aggregated from 1-minute bars in buckets counted from 09:15 IST (the
  last bucket of the day ends at 15:30); 1-minute file bars are labelled by their END
  (09:16 = the bar 09:15-09:16);
* a daily bar is labelled 09:15 IST of its date (Yahoo's NSE daily timestamps); today's is
  in progress until 15:30.
"""

from __future__ import annotations

import bisect
import datetime as dt
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from mixbot.feeds.loaders import load_bars

IST = ZoneInfo("Asia/Kolkata")
OPEN = dt.time(9, 15)
CLOSE = dt.time(15, 30)
PRE_S = 300.0  # clock time shown before each open, s
POST_S = 900.0  # clock time shown after each close, s


def at(day: dt.date, t: dt.time) -> float:
    """Epoch seconds of wall time ``t`` IST on ``day``."""
    return dt.datetime.combine(day, t, IST).timestamp()


def ist_date(epoch: float) -> dt.date:
    """The IST date of an instant (epoch seconds)."""
    return dt.datetime.fromtimestamp(epoch, IST).date()


@dataclass
class Bars:
    """Bars of one file: ``end`` epoch seconds (int64, increasing), OHLCV float64 arrays."""

    end: np.ndarray
    o: np.ndarray
    h: np.ndarray
    lo: np.ndarray
    c: np.ndarray
    v: np.ndarray
    source: Path

    @classmethod
    def load(cls, path: Path) -> tuple[Bars, bool]:
        """The file's bars and whether they are daily.

        Raises:
            DataFileError: unreadable file; ValueError: neither 1-minute nor daily bars.
        """
        res = load_bars(path)
        f = res.frame
        daily = res.interval_seconds >= 86_400 or res.report.daily
        if not daily and res.interval_seconds != 60:
            raise ValueError(f"{path}: the simulator serves 1-minute or daily files")
        end = (f.index.as_unit("ns").asi8 // 1_000_000_000).astype(np.int64)
        o, h, lo, c, v = (
            f[k].to_numpy(np.float64) for k in ("open", "high", "low", "close", "volume")
        )
        return cls(end=end, o=o, h=h, lo=lo, c=c, v=v, source=Path(path)), daily

    def days(self) -> list[dt.date]:
        """IST dates with bars (a bar ending at midnight belongs to the day before)."""
        idx = pd.to_datetime(self.end - 1, unit="s", utc=True).tz_convert(IST)
        return sorted(set(idx.date))


def default_ticker(path: Path) -> str:
    """Ticker a file serves when none is given (module doc)."""
    first = ""
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            line = fh.readline()
        cell = line.split(",")[0].strip()
        if re.fullmatch(r"[A-Z][A-Z0-9&_-]*", cell) and not cell.startswith("DATE"):
            first = cell
    except OSError:
        pass
    sym = (first or path.stem).upper()
    if not first and re.search(r"\.(NS|BO)$", sym):
        return sym
    return re.sub(r"(_F\d+.*|_\d{4}.*)$", "", sym) + ".NS"


@dataclass
class Ticker:
    """One ticker's files: ``daily`` and/or ``minute`` bars."""

    symbol: str
    daily: Bars | None = None
    minute: Bars | None = None

    def days(self) -> list[dt.date]:
        """IST dates with bars in either file."""
        got: set[dt.date] = set()
        for b in (self.daily, self.minute):
            if b is not None:
                got.update(b.days())
        return sorted(got)


def load_tickers(args: list[str]) -> dict[str, Ticker]:
    """``FILE`` / ``TICKER=FILE`` arguments -> tickers (module doc).

    Raises:
        ValueError: two files of the same kind for one ticker, or a bad file.
    """
    out: dict[str, Ticker] = {}
    for arg in args:
        name, sep, file = arg.partition("=")
        path = Path(file if sep else name)
        bars, daily = Bars.load(path)
        sym = (name if sep else default_ticker(path)).upper()
        t = out.setdefault(sym, Ticker(sym))
        if (t.daily if daily else t.minute) is not None:
            raise ValueError(f"{sym}: two {'daily' if daily else '1-minute'} files")
        if daily:
            t.daily = bars
        else:
            t.minute = bars
    return out


class SimClock:
    """Simulated time over the trading days (module doc). Thread-safe."""

    def __init__(self, days: list[dt.date], speed: float = 0.0) -> None:
        if not days:
            raise ValueError("no trading day to play")
        if speed < 0:
            raise ValueError("speed must be >= 0")
        self.days = days
        self.speed = float(speed)
        self._segs = [(at(d, OPEN) - PRE_S, at(d, CLOSE) + POST_S) for d in days]
        lens = [b - a for a, b in self._segs]
        self._cum = [0.0, *np.cumsum(lens).tolist()]
        self._lock = threading.Lock()
        self._elapsed = 0.0
        self._anchor = time.monotonic()
        self.running = False

    @property
    def total(self) -> float:
        """Trading time of all days, simulated seconds."""
        return float(self._cum[-1])

    def _elapsed_now(self) -> float:
        e = self._elapsed
        if self.running and self.speed > 0:
            e += (time.monotonic() - self._anchor) * self.speed
        return min(e, self.total)

    def start(self) -> None:
        """Let time run at ``speed`` (no effect at speed 0)."""
        with self._lock:
            self._anchor = time.monotonic()
            self.running = True

    def now(self) -> float:
        """Simulated now, epoch seconds."""
        with self._lock:
            e = self._elapsed_now()
        # a boundary belongs to the end of the day before (its post-close time)
        i = min(max(bisect.bisect_left(self._cum, e) - 1, 0), len(self._segs) - 1)
        return self._segs[i][0] + (e - self._cum[i])

    @property
    def finished(self) -> bool:
        """True once the last day's post-close time is reached."""
        with self._lock:
            return self._elapsed_now() >= self.total

    def advance(self, seconds: float) -> float:
        """Move simulated time forward by ``seconds`` of trading time; returns the new now."""
        with self._lock:
            self._elapsed = self._elapsed_now() + max(0.0, float(seconds))
            self._anchor = time.monotonic()
        return self.now()

    def set_time(self, epoch: float) -> float:
        """Jump to ``epoch`` (or the next trading time after it; never backwards)."""
        k = bisect.bisect_right([a for a, _ in self._segs], epoch) - 1
        if k < 0:
            e = 0.0
        else:
            a, b = self._segs[k]
            e = self._cum[k] + min(epoch - a, b - a)
        with self._lock:
            self._elapsed = max(self._elapsed_now(), e)
            self._anchor = time.monotonic()
        return self.now()

    def session_of(self, epoch: float) -> tuple[float, float] | None:
        """(open, close) epoch seconds of the trading day of ``epoch``, or None."""
        day = ist_date(epoch)
        if day not in self.days:
            return None
        return at(day, OPEN), at(day, CLOSE)


@dataclass
class ChartBars:
    """Bars of one chart answer: ``start`` epoch seconds and OHLCV lists (Yahoo order)."""

    start: list[int] = field(default_factory=list)
    o: list[float] = field(default_factory=list)
    h: list[float] = field(default_factory=list)
    lo: list[float] = field(default_factory=list)
    c: list[float] = field(default_factory=list)
    v: list[float] = field(default_factory=list)

    def add(self, start: int, o: float, h: float, lo: float, c: float, v: float) -> None:
        self.start.append(int(start))
        self.o.append(o)
        self.h.append(h)
        self.lo.append(lo)
        self.c.append(c)
        self.v.append(v)


def _minute_frame(m: Bars, a: float, b: float, now: float) -> pd.DataFrame:
    """1-minute bars with START in [a, b) visible at ``now`` (the minute in progress as its
    open only), as a frame indexed by start epoch seconds."""
    start = m.end - 60
    i, j = np.searchsorted(start, [a, b])
    sel = slice(int(i), int(j))
    f = pd.DataFrame(
        {"o": m.o[sel], "h": m.h[sel], "lo": m.lo[sel], "c": m.c[sel], "v": m.v[sel]},
        index=start[sel],
    )
    f = f[f.index <= now]
    if len(f) and f.index[-1] + 60 > now:  # in progress: only its open is known
        k = f.index[-1]
        f.loc[k, ["h", "lo", "c"]] = f.loc[k, "o"]
        f.loc[k, "v"] = 0.0
    return f


def intraday_bars(t: Ticker, minutes: int, a: float, b: float, now: float) -> ChartBars:
    """N-minute bars with START in ``[a, b)`` as seen at ``now`` (module doc)."""
    out = ChartBars()
    if t.minute is None:
        return out
    f = _minute_frame(t.minute, a - minutes * 60, b, now)
    if f.empty:
        return out
    local = pd.DatetimeIndex(pd.to_datetime(f.index, unit="s", utc=True)).tz_convert(IST)
    day_open = local.normalize() + pd.Timedelta(hours=9, minutes=15)
    k = ((local - day_open) // pd.Timedelta(minutes=minutes)).to_numpy()
    k = np.maximum(k, 0)
    bucket = (day_open + pd.to_timedelta(k * minutes, unit="min")).tz_convert("UTC")
    f["bucket"] = pd.DatetimeIndex(bucket).as_unit("s").asi8
    for start, g in f.groupby("bucket", sort=True):
        if a <= start < b:
            out.add(
                int(start), float(g.o.iloc[0]), float(g.h.max()), float(g.lo.min()),
                float(g.c.iloc[-1]), float(g.v.sum()),
            )  # fmt: skip
    return out


def daily_bars(t: Ticker, a: float, b: float, now: float) -> ChartBars:
    """Daily bars (labelled 09:15 IST of their date) with that label in ``[a, b)`` at ``now``;
    today's in progress (from the 1-minute bars so far, else its open only)."""
    out = ChartBars()
    today = ist_date(now)
    if t.daily is not None:
        d = t.daily
        for i in range(len(d.end)):
            day = ist_date(float(d.end[i]) - 1)
            label = at(day, OPEN)
            if not a <= label < b or label > now:
                continue
            if day == today and now < at(day, CLOSE):
                m = intraday_bars(t, 375, label, label + 1, now) if t.minute is not None else None
                if m is not None and m.start:
                    out.add(int(label), m.o[0], m.h[0], m.lo[0], m.c[0], m.v[0])
                else:
                    out.add(int(label), *(float(d.o[i]),) * 4, 0.0)
                continue
            out.add(
                int(label), float(d.o[i]), float(d.h[i]), float(d.lo[i]), float(d.c[i]),
                float(d.v[i]),
            )  # fmt: skip
        return out
    m = intraday_bars(t, 375, a, b, now)
    for k, start in enumerate(m.start):
        out.add(start, m.o[k], m.h[k], m.lo[k], m.c[k], m.v[k])
    return out
