"""The simulator's instruments and bars: real 1-minute files, served as IB would serve them.

Each ``--data`` file is one instrument (:class:`Instrument`): its bars come from
:func:`mixbot.feeds.loaders.load_bars` (END-labelled, naive UTC; NSE files in IST). What
kind of contract it is follows from the file (the shared data's layout): NSE index futures
files (``BANKNIFTY_F1_*``, ``NIFTY_F1_*``) -> ``FUT`` on ``NSE`` in INR with the 2019 lot
size as the multiplier (BANKNIFTY 20, NIFTY 75: one IB contract = one NSE lot), other NSE
files -> ``STK`` on ``NSE``; US files (``orcl-1995-2014.txt`` ...) -> ``STK`` on ``SMART`` in
USD. Only 1-minute files can be replayed (the live bars are 5-second real-time bars made
from them).

Five-second bars. IB's ``reqRealTimeBars`` gives 5-second bars (bar START time, epoch s).
From each 1-minute bar the simulator makes 12: the first carries the minute's open, high,
low and close, the other eleven stay flat at the close; the volume is spread in whole units
(the remainder in the last). Aggregated back they give exactly the file's minute, so a bot
on these bars sees the bars a file replay sees.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from mixbot.errors import DataFileError
from mixbot.feeds.loaders import load_bars
from mixbot.simulators.ibkr.messages import SimContract

#: 2019 NSE lot sizes of the index futures in the shared data (one IB contract = one lot).
LOT_SIZES = {"BANKNIFTY": 20, "NIFTY": 75}
#: Real-time bar size, seconds (IB: "barSize: Must be 5").
RT_BAR_S = 5


@dataclass
class Instrument:
    """One replayed instrument: its contract and its 1-minute bars (END times, epoch s UTC;
    prices in the contract's currency)."""

    contract: SimContract
    end_s: npt.NDArray[np.int64]
    o: npt.NDArray[np.float64]
    h: npt.NDArray[np.float64]
    lo: npt.NDArray[np.float64]
    c: npt.NDArray[np.float64]
    v: npt.NDArray[np.float64]

    def bar(self, i: int) -> tuple[int, float, float, float, float, float]:
        """``(end epoch s, open, high, low, close, volume)`` of bar ``i``."""
        return (
            int(self.end_s[i]),
            float(self.o[i]),
            float(self.h[i]),
            float(self.lo[i]),
            float(self.c[i]),
            float(self.v[i]),
        )

    def upto(self, end_s: int) -> int:
        """How many bars end at or before ``end_s``."""
        return int(np.searchsorted(self.end_s, end_s, side="right"))


def contract_for(path: Path, con_id: int, last_day: dt.date) -> SimContract:
    """The contract a data file stands for (see the module docstring)."""
    stem = path.stem
    us = re.match(r"^([a-z]+)-\d{4}-\d{4}$", stem)
    if us:
        sym = us.group(1).upper()
        return SimContract(
            con_id, sym, "STK", "SMART", "NASDAQ", "USD", "", "", 0.01, "US/Eastern", sym
        )
    sym = re.split(r"[_\-.]", stem)[0].upper()
    if "_F1" in stem.upper() or sym in LOT_SIZES:
        lot = LOT_SIZES.get(sym, 1)
        return SimContract(
            con_id, sym, "FUT", "NSE", "NSE", "INR", str(lot), last_day.strftime("%Y%m%d"),
            0.05, "Asia/Kolkata", f"{sym} futures",
        )  # fmt: skip
    return SimContract(con_id, sym, "STK", "NSE", "NSE", "INR", "", "", 0.05, "Asia/Kolkata", sym)


def load_instrument(path: Path, con_id: int) -> Instrument:
    """Load one 1-minute file as an instrument.

    Raises:
        DataFileError: unreadable file, or bars that are not 1-minute bars.
    """
    tz = "US/Eastern" if re.match(r"^[a-z]+-\d{4}-\d{4}$", path.stem) else "Asia/Kolkata"
    res = load_bars(path, tz=tz)
    if res.interval_seconds != 60:
        raise DataFileError(
            str(path), f"the IBKR simulator replays 1-minute bars, not {res.interval_seconds}s"
        )
    f = res.frame
    end_s = (f.index.as_unit("ns").asi8 // 1_000_000_000).astype(np.int64)
    last = dt.datetime.fromtimestamp(int(end_s[-1]), dt.UTC).date()
    return Instrument(
        contract=contract_for(path, con_id, last),
        end_s=end_s,
        o=f["open"].to_numpy(np.float64),
        h=f["high"].to_numpy(np.float64),
        lo=f["low"].to_numpy(np.float64),
        c=f["close"].to_numpy(np.float64),
        v=f["volume"].to_numpy(np.float64),
    )


def five_second_bars(
    end_s: int, o: float, h: float, lo: float, c: float, v: float
) -> list[tuple[int, float, float, float, float, float]]:
    """The 12 real-time bars ``(start epoch s, o, h, l, c, volume)`` of the minute ending at
    ``end_s`` (see the module docstring)."""
    n = 60 // RT_BAR_S
    each = float(int(v) // n)
    out = []
    for k in range(n):
        start = end_s - 60 + k * RT_BAR_S
        vol = each if k < n - 1 else v - each * (n - 1)
        out.append((start, o, h, lo, c, vol) if k == 0 else (start, c, c, c, c, vol))
    return out


_DURATION = {"S": 1, "D": 86_400, "W": 7 * 86_400, "M": 31 * 86_400, "Y": 366 * 86_400}


def duration_seconds(text: str) -> int:
    """IB's ``durationStr`` (``"3600 S"``, ``"2 D"``, ``"1 W"``, ``"1 M"``, ``"1 Y"``) in
    seconds (months 31 days, years 366: the simulator errs on the long side).

    Raises:
        ValueError: not ``<integer> <S|D|W|M|Y>``.
    """
    m = re.fullmatch(r"\s*(\d+)\s+([SDWMY])\s*", text or "")
    if not m:
        raise ValueError(f"invalid duration {text!r}")
    return int(m.group(1)) * _DURATION[m.group(2)]


def parse_end(text: str, now_s: int) -> int:
    """``endDateTime`` of reqHistoricalData: "" = now, else ``YYYYmmdd HH:MM:SS[ UTC]`` or
    ``YYYYmmdd-HH:MM:SS`` (UTC), as epoch seconds.

    Raises:
        ValueError: another format or time zone.
    """
    text = (text or "").strip()
    if not text:
        return now_s
    text = text.replace("-", " ")
    parts = text.split()
    if len(parts) == 3 and parts[2] not in ("UTC", "GMT"):
        raise ValueError(f"the simulator takes endDateTime in UTC only, not {parts[2]!r}")
    when = dt.datetime.strptime(" ".join(parts[:2]), "%Y%m%d %H:%M:%S")
    return int(when.replace(tzinfo=dt.UTC).timestamp())


def bar_date(start_s: int, format_date: int, tz: str) -> str:
    """A bar's START time as IB sends it: epoch seconds (formatDate 2) or
    ``YYYYmmdd HH:MM:SS <zone>`` in the instrument's zone (formatDate 1)."""
    if format_date == 2:
        return str(start_s)
    from zoneinfo import ZoneInfo

    local = dt.datetime.fromtimestamp(start_s, ZoneInfo(tz))
    return f"{local:%Y%m%d %H:%M:%S} {tz}"
