"""The simulator's market: which instrument each bar file plays, and its quote events.

Each ``--data`` file becomes ONE instrument. Its OpenAlgo symbol and exchange come from the
file name: ``BANKNIFTY_F1_2019H1.txt`` (a continuous near-month future, symbol
``<UNDERLYING>_F1``) -> ``BANKNIFTY`` on ``NFO``; ``nse_daily/RELIANCE.csv`` -> ``RELIANCE``
on ``NSE``. (A real OpenAlgo future is ``BANKNIFTY31JAN19FUT``; a continuous series has no
single expiry, so the simulator keeps the underlying's name.) ``FILE:SYMBOL[:EXCHANGE]``
overrides both.

Quote events. Every bar ``[start, end]`` (bars are labelled by their END time, naive UTC;
1-minute bars last 60 s, daily bars the NSE session 09:15-15:30 IST) is played as five
events of that instrument, in time order:

====================  ===================================  ===========================
time                  price                                cumulative volume
====================  ===================================  ===========================
start + 1 s           open (the GAP trade: it may jump)    + about a quarter
start + 1/3           high, or low first on a down bar     + about a quarter
start + 2/3           the other extreme                    + about a quarter
end - 1 s             close                                + the rest (sum = bar volume)
end                   close, NO trade (volume unchanged)   unchanged: a clock quote
====================  ===================================  ===========================

The last event is a quote without a trade (OpenAlgo's quote mode repeats the LTP with the
day's cumulative volume unchanged): it tells a client that the bar's time is over, so a
bar closes on time without waiting for the next trade. The day's cumulative volume starts
again at 0 on each trading day (IST). The price path between two trades of one bar is taken
as continuous (the exchange fills resting orders at their own price when the path crosses
it); the open is a jump from the previous close.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mixbot.feeds.loaders import load_bars

IST = dt.timezone(dt.timedelta(hours=5, minutes=30))
_EPOCH = dt.datetime(1970, 1, 1)


@dataclass
class Instrument:
    """One simulated instrument: OpenAlgo ``symbol`` / ``exchange``, its bars (end-labelled
    naive-UTC ``ends`` as datetime64[ms], OHLCV rows in INR / units) and bar length (s)."""

    symbol: str
    exchange: str
    ends: np.ndarray
    ohlcv: np.ndarray
    bar_seconds: int
    lot_size: int = 1
    tick_size: float = 0.05
    prev_close: dict[dt.date, float] = field(default_factory=dict)

    @property
    def daily(self) -> bool:
        return self.bar_seconds == 22_500


@dataclass(frozen=True)
class Event:
    """One quote of :mod:`module docstring <mixbot.simulators.openalgo.market>`.

    Attributes:
        ts_ms: exchange time, epoch ms UTC.
        inst: index of the instrument.
        price: last traded price, INR.
        volume: the day's cumulative volume after it (units).
        trade_qty: quantity of the trade (0: a clock quote, no trade).
        gap: True for the bar's opening trade (a jump from the previous price).
        bar: index of the bar in the instrument's series.
    """

    ts_ms: int
    inst: int
    price: float
    volume: float
    trade_qty: float
    gap: bool
    bar: int


def ms_of(t: dt.datetime) -> int:
    """Epoch ms of a naive-UTC datetime."""
    return (t - _EPOCH) // dt.timedelta(milliseconds=1)


def ist_day(ms: int) -> dt.date:
    """The IST calendar date of epoch ms ``ms``."""
    return dt.datetime.fromtimestamp(ms / 1000.0, IST).date()


def load_instrument(spec: str, start: str | None = None, end: str | None = None) -> Instrument:
    """The instrument of one ``--data`` argument (``FILE[:SYMBOL[:EXCHANGE]]``), its bars cut
    to IST dates ``start``..``end`` (inclusive, ``YYYY-MM-DD``; None: unbounded).

    Raises:
        DataFileError: the file cannot be read (from :func:`load_bars`).
        ValueError: no bar inside ``start``..``end``.
    """
    parts = spec.split(":")
    path = Path(parts[0])
    frame = load_bars(path).frame
    ends = frame.index.values.astype("datetime64[ms]")
    days = np.array([ist_day(int(x)) for x in ends.astype("int64")])
    keep = np.ones(len(ends), dtype=bool)
    if start:
        keep &= days >= dt.date.fromisoformat(start)
    if end:
        keep &= days <= dt.date.fromisoformat(end)
    if not keep.any():
        raise ValueError(f"{path}: no bar between {start or 'the start'} and {end or 'the end'}")
    ends, ohlcv = ends[keep], frame.to_numpy(dtype=float)[keep]
    step = int(np.median(np.diff(ends.astype("int64")))) // 1000 if len(ends) > 1 else 60
    bar_seconds = step if 0 < step <= 3600 else 22_500  # daily: the session 09:15-15:30
    stem = path.stem.upper()
    m = re.match(r"([A-Z0-9&-]+?)_F\d", stem)
    symbol = parts[1] if len(parts) > 1 and parts[1] else (m.group(1) if m else stem.split("_")[0])
    exchange = parts[2] if len(parts) > 2 else ("NFO" if m else "NSE")
    inst = Instrument(symbol, exchange, ends, ohlcv, bar_seconds)
    inst.lot_size = {"BANKNIFTY": 20, "NIFTY": 75}.get(symbol, 1) if exchange == "NFO" else 1
    last: float | None = None
    for i, e in enumerate(ends.astype("int64")):
        d = ist_day(int(e))
        if last is not None and d not in inst.prev_close:
            inst.prev_close[d] = last
        last = float(ohlcv[i, 3])
    return inst


def bar_events(inst: Instrument, idx: int, i: int, day_volume: float) -> list[Event]:
    """The five quote events of bar ``i`` of ``inst`` (instrument index ``idx``), the day's
    cumulative volume before it being ``day_volume`` (see the module docstring)."""
    o, h, lo, c, v = (float(x) for x in inst.ohlcv[i])
    end = int(inst.ends[i].astype("int64"))
    span = inst.bar_seconds * 1000
    start = end - span
    first, second = (lo, h) if c < o else (h, lo)
    q: list[float] = [float(round(v / 4.0))] * 3
    q.append(max(0.0, v - sum(q)))
    times = (start + 1000, start + span // 3, start + 2 * span // 3, end - 1000)
    out: list[Event] = []
    cum = day_volume
    for k, (t, p) in enumerate(zip(times, (o, first, second, c), strict=True)):
        cum += q[k]
        out.append(Event(t, idx, p, cum, q[k], k == 0, i))
    out.append(Event(end, idx, c, cum, 0.0, False, i))
    return out


def merged_bars(instruments: list[Instrument]) -> Iterator[tuple[int, list[tuple[int, int]]]]:
    """``(end_ms, [(instrument index, bar index), ...])`` for every distinct bar end of all
    instruments, in time order (a "step" of the simulator plays one of these)."""
    groups: dict[int, list[tuple[int, int]]] = {}
    for idx, inst in enumerate(instruments):
        for i, e in enumerate(inst.ends.astype("int64")):
            groups.setdefault(int(e), []).append((idx, i))
    for end in sorted(groups):
        yield end, groups[end]
