"""The simulator's instruments: which Upstox instrument each data file plays, and the master.

Each data file given to the simulator becomes ONE instrument:

* an intraday vendor file whose symbol is ``<UNDERLYING>_F1`` (e.g. ``BANKNIFTY_F1_2019H1.txt``,
  the near-month BANKNIFTY future, continuous) -> an ``NSE_FO`` future with key
  ``NSE_FO|<exchange_token>`` (real Upstox format, e.g. ``NSE_FO|35005``), trading symbol
  the underlying name (``BANKNIFTY``; a continuous series has no single expiry), lot size
  and freeze quantity of the period (BANKNIFTY: 20 and 1200), tick INR 0.05;
* a daily file named after an NSE stock (``nse_daily/RELIANCE.csv``) -> an ``NSE_EQ`` row
  keyed by ISIN, as Upstox does (``NSE_EQ|INE002A01018``); unknown symbols get a made-up
  ISIN-like id ``INSIM<hash>``.

The instruments master (``NSE.json.gz``, gzip of a JSON list of objects) uses the field
names of Upstox's JSON BOD file. NOTE: like the real JSON file, ``tick_size`` is in PAISE
(5.0 = INR 0.05) and ``expiry`` is ms since epoch (23:59:59 IST of the expiry day; here the
last day of the data).

Bars come from :func:`mixbot.feeds.loaders.load_bars` (end-labelled, naive UTC, INR).
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from mixbot.errors import DataFileError
from mixbot.feeds.loaders import load_bars

IST = dt.timezone(dt.timedelta(hours=5, minutes=30))

#: underlying -> (exchange_token, lot_size, freeze_quantity, index key, index name)
FUTURES: dict[str, tuple[str, int, float, str]] = {
    "BANKNIFTY": ("35005", 20, 1200.0, "NSE_INDEX|Nifty Bank"),
    "NIFTY": ("35006", 75, 1800.0, "NSE_INDEX|Nifty 50"),
}
#: a few real NSE ISINs (Upstox NSE_EQ keys are ``NSE_EQ|<ISIN>``)
ISINS: dict[str, tuple[str, str]] = {
    "RELIANCE": ("INE002A01018", "RELIANCE INDUSTRIES LTD"),
    "TCS": ("INE467B01029", "TATA CONSULTANCY SERV LT"),
    "INFY": ("INE009A01021", "INFOSYS LIMITED"),
    "HDFCBANK": ("INE040A01034", "HDFC BANK LTD"),
    "ICICIBANK": ("INE090A01021", "ICICI BANK LTD."),
    "SBIN": ("INE062A01020", "STATE BANK OF INDIA"),
    "ITC": ("INE154A01025", "ITC LTD"),
}


@dataclass
class Instrument:
    """One simulated instrument (see the module docstring for the key formats)."""

    key: str
    segment: str  # NSE_FO / NSE_EQ
    trading_symbol: str
    name: str
    instrument_type: str  # FUT / EQ
    exchange_token: str
    lot_size: int
    tick: float  # INR
    freeze_quantity: float
    isin: str | None = None
    underlying_key: str | None = None
    expiry_ms: int | None = None

    @property
    def quote_key(self) -> str:
        """The key of this instrument in market-quote answers, ``SEGMENT:TRADING_SYMBOL``."""
        return f"{self.segment}:{self.trading_symbol}"

    def master_row(self) -> dict[str, Any]:
        """This instrument as a row of Upstox's JSON instruments file."""
        row: dict[str, Any] = {
            "segment": self.segment,
            "name": self.name,
            "exchange": "NSE",
            "instrument_type": self.instrument_type,
            "instrument_key": self.key,
            "lot_size": self.lot_size,
            "freeze_quantity": self.freeze_quantity,
            "exchange_token": self.exchange_token,
            "tick_size": round(self.tick * 100, 4),  # paise, as in the real file
            "trading_symbol": self.trading_symbol,
            "short_name": self.name,
            "security_type": "NORMAL",
        }
        if self.isin:
            row["isin"] = self.isin
        if self.instrument_type == "FUT":
            row.update(
                expiry=self.expiry_ms,
                minimum_lot=self.lot_size,
                asset_symbol=self.trading_symbol,
                underlying_symbol=self.trading_symbol,
                asset_type="INDEX",
                underlying_type="INDEX",
                underlying_key=self.underlying_key,
                asset_key=self.underlying_key,
                strike_price=0.0,
                weekly=False,
                qty_multiplier=1.0,
            )
        return row


@dataclass
class Series:
    """An instrument and its bars (arrays aligned; times are bar END, ms since epoch UTC).

    ``interval_ms`` is 60_000 for 1-minute files and 86_400_000 for daily files.
    Daily bars span the whole session (09:15-15:30 IST) of their date.
    """

    inst: Instrument
    end_ms: npt.NDArray[np.int64]
    o: npt.NDArray[np.float64]
    h: npt.NDArray[np.float64]
    lo: npt.NDArray[np.float64]
    c: npt.NDArray[np.float64]
    v: npt.NDArray[np.float64]
    interval_ms: int
    source: Path = field(default_factory=Path)

    @property
    def daily(self) -> bool:
        return self.interval_ms >= 86_400_000

    def days(self) -> list[dt.date]:
        """The IST trading dates present in the data, sorted."""
        return sorted({ist_date(int(t - 1)) for t in self.end_ms})


def ist_date(ms: int) -> dt.date:
    """The IST calendar date of an instant given in ms since epoch."""
    return dt.datetime.fromtimestamp(ms / 1000, IST).date()


def _first_symbol(path: Path) -> str | None:
    try:
        with path.open("r", encoding="utf-8", errors="replace") as fh:
            line = fh.readline()
    except OSError:
        return None
    m = re.match(r"\s*([A-Za-z][A-Za-z0-9&_-]*),\d{8},", line)
    return m.group(1) if m else None


def instrument_for(path: Path, daily: bool, last_ms: int) -> Instrument:
    """The Upstox instrument a data file stands for (rules in the module docstring)."""
    sym = _first_symbol(path) or path.stem
    sym = sym.upper()
    under = re.sub(r"(_F\d+.*|_\d{4}.*)$", "", sym)
    if not daily or under in FUTURES:
        token, lot, freeze, idx = FUTURES.get(
            under, (str(40000 + zlib.crc32(under.encode()) % 50000), 1, 10000.0, "")
        )
        last_day = ist_date(last_ms - 1)
        expiry = dt.datetime.combine(last_day, dt.time(23, 59, 59), IST)
        return Instrument(
            key=f"NSE_FO|{token}",
            segment="NSE_FO",
            trading_symbol=under,
            name=under,
            instrument_type="FUT",
            exchange_token=token,
            lot_size=lot,
            tick=0.05,
            freeze_quantity=freeze,
            underlying_key=idx or None,
            expiry_ms=int(expiry.timestamp() * 1000),
        )
    stock = re.sub(r"\.NS$", "", path.stem.upper())
    isin, name = ISINS.get(stock, (f"INSIM{zlib.crc32(stock.encode()) % 10**7:07d}", stock))
    return Instrument(
        key=f"NSE_EQ|{isin}",
        segment="NSE_EQ",
        trading_symbol=stock,
        name=name,
        instrument_type="EQ",
        exchange_token=str(1000 + zlib.crc32(stock.encode()) % 90000),
        lot_size=1,
        tick=0.05,
        freeze_quantity=100000.0,
        isin=isin,
    )


_SESSION_OPEN = dt.time(9, 15)


def load_series(path: Path) -> Series:
    """Load one data file (any layout :func:`load_bars` knows) as a :class:`Series`.

    Raises:
        DataFileError: unreadable file, or bars that are neither 1-minute nor daily.
    """
    res = load_bars(path)
    f = res.frame
    ns = f.index.as_unit("ns").asi8
    end_ms = (ns // 1_000_000).astype(np.int64)
    if res.interval_seconds == 60:
        interval = 60_000
    elif res.interval_seconds >= 86_400 or res.report.daily:
        interval = 86_400_000
    else:
        raise DataFileError(
            str(path), f"the simulator plays 1-minute or daily bars, not {res.interval_seconds}s"
        )
    inst = instrument_for(Path(path), interval >= 86_400_000, int(end_ms[-1]))
    return Series(
        inst=inst,
        end_ms=end_ms,
        o=f["open"].to_numpy(np.float64),
        h=f["high"].to_numpy(np.float64),
        lo=f["low"].to_numpy(np.float64),
        c=f["close"].to_numpy(np.float64),
        v=f["volume"].to_numpy(np.float64),
        interval_ms=interval,
        source=Path(path),
    )


def master_gz(instruments: list[Instrument]) -> bytes:
    """The gzip-compressed JSON list of master rows (``NSE.json.gz``)."""
    rows = [i.master_row() for i in instruments]
    return gzip.compress(json.dumps(rows).encode("utf-8"), mtime=0)
