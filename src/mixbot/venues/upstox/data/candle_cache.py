"""The on-disk candle cache of :mod:`mixbot.venues.upstox.data.candles`: CSV bars + coverage index.

Layout: ``data/upstox/candles/<sanitised key>/<unit><interval>.csv`` plus ``.json`` listing the
IST date ranges already fetched (see the :mod:`~mixbot.venues.upstox.data.candles` docstring).
Split out of :mod:`mixbot.venues.upstox.data.candles` (which re-exports every name here).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
import tempfile
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd

from mixbot.venues.upstox.data.candle_ranges import Interval, Ranges, _merge

log = logging.getLogger(__name__)

IST = ZoneInfo("Asia/Kolkata")
DEFAULT_CACHE_DIR = Path("data") / "upstox" / "candles"
COLUMNS = ["open", "high", "low", "close", "volume"]


def _empty(with_oi: bool = False) -> pd.DataFrame:
    cols = COLUMNS + (["oi"] if with_oi else [])
    frame = pd.DataFrame({c: pd.Series(dtype="float64") for c in cols})
    frame.index = pd.DatetimeIndex([], dtype="datetime64[ns]", name="datetime")
    return frame


def sanitise_key(instrument_key: str) -> str:
    """Folder name of a key: ``NSE_EQ|INE002A01018`` -> ``NSE_EQ_INE002A01018``."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", instrument_key).strip("_")


class CandleCache:
    """The cached bars of one instrument and interval (see the module docstring)."""

    def __init__(self, root: Path, instrument_key: str, interval: Interval) -> None:
        folder = root / sanitise_key(instrument_key)
        self.csv = folder / f"{interval.label}.csv"
        self.meta = folder / f"{interval.label}.json"
        self.instrument_key = instrument_key
        self.interval = interval

    def load(self) -> tuple[pd.DataFrame, Ranges]:
        """The cached bars (with ``oi``) and the covered IST date ranges ([] when none)."""
        covered: Ranges = []
        if self.meta.is_file():
            try:
                obj = json.loads(self.meta.read_text(encoding="utf-8"))
                covered = [
                    (dt.date.fromisoformat(a), dt.date.fromisoformat(b))
                    for a, b in obj.get("covered", [])
                ]
            except (ValueError, TypeError) as exc:
                log.warning("ignoring corrupt candle cache index %s: %s", self.meta, exc)
                covered = []
        if not self.csv.is_file() or not covered:
            return _empty(with_oi=True), []
        frame = pd.read_csv(self.csv, index_col="datetime")
        idx = pd.DatetimeIndex(pd.to_datetime(frame.index, utc=True))
        frame.index = pd.DatetimeIndex(idx.tz_localize(None).as_unit("ns"), name="datetime")
        if "oi" not in frame:
            frame["oi"] = 0.0
        return frame[[*COLUMNS, "oi"]].astype("float64"), covered

    def save(self, frame: pd.DataFrame, covered: Ranges) -> None:
        """Write bars and coverage atomically (CSV first, then the index)."""
        self.csv.parent.mkdir(parents=True, exist_ok=True)
        out = frame.copy()
        out.index = pd.DatetimeIndex(out.index).tz_localize("UTC")
        out.index.name = "datetime"
        _atomic_write(self.csv, out.to_csv(date_format="%Y-%m-%dT%H:%M:%S%z"))
        meta = {
            "instrument_key": self.instrument_key,
            "unit": self.interval.unit,
            "interval": self.interval.value,
            "covered": [[a.isoformat(), b.isoformat()] for a, b in _merge(covered)],
            "note": "IST dates fetched; bars are labelled by their END time, UTC",
        }
        _atomic_write(self.meta, json.dumps(meta, indent=1) + "\n")


def _atomic_write(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _local_dates(index: pd.DatetimeIndex) -> pd.Index:
    """IST trading dates of naive-UTC bar ends (a daily bar's end 10:00 UTC is its own date)."""
    return pd.DatetimeIndex(index).tz_localize("UTC").tz_convert(IST).date
