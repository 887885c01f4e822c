"""Bar series prepared for the engine: load, filter by date, aggregate, index.

Both the backtest feed and the replay feed start from :func:`prepare_series`, so a
backtest and a replayed session of the same config see exactly the same bars.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from mixbot.errors import ConfigError
from mixbot.feeds.aggregator import BarAggregator
from mixbot.feeds.loaders import LoadResult, load_bars, load_many
from mixbot.feeds.quality import QualityReport
from mixbot.market.profile import MarketProfile
from mixbot.market.registry import NSE

_EPOCH = np.datetime64("0001-01-01T00:00:00", "us")


@dataclass
class BarSeries:
    """Bars as numpy arrays (oldest first), ready for a Backtrader feed.

    Attributes:
        end: bar END times, naive UTC, ``datetime64[us]``, shape (n,).
        num: the same times as Backtrader float day numbers (``bt.date2num``), shape (n,).
        open, high, low, close: INR, float64; volume: shares/contracts, float64.
        minutes: bar END time in minutes after local (market time zone) midnight, int64.
        report: the loader's data-quality report.
        source_interval_s: bar spacing of the file in seconds.
    """

    end: np.ndarray
    num: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    minutes: np.ndarray
    report: QualityReport
    source_interval_s: int

    def __len__(self) -> int:
        return int(self.close.shape[0])


def date2num(end: np.ndarray) -> np.ndarray:
    """Vectorised ``backtrader.date2num`` of naive UTC datetime64 values (days since 0001-01-01, +1)."""
    return (end.astype("datetime64[us]") - _EPOCH) / np.timedelta64(1, "D") + 1.0


def local_minutes(end: np.ndarray, tz: str) -> np.ndarray:
    """Minutes after local midnight in ``tz`` of naive-UTC datetime64 values."""
    idx = pd.DatetimeIndex(end).tz_localize("UTC").tz_convert(tz)
    return (idx.hour * 60 + idx.minute).to_numpy(dtype=np.int64)


def load_path(path: Path, tz: str, session_close: str) -> LoadResult:
    """Load a file, or every file of a folder (sorted by name) as one series."""
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
        if not files:
            raise ConfigError(f"data.path {path} is a folder with no files in it")
        return load_many(files, tz=tz, session_close=session_close)
    return load_bars(path, tz=tz, session_close=session_close)


def _filter_dates(
    frame: pd.DataFrame, tz: str, date_from: str | None, date_to: str | None
) -> pd.DataFrame:
    if not date_from and not date_to:
        return frame
    local_dates = frame.index.tz_localize("UTC").tz_convert(tz).normalize().tz_localize(None)
    mask = np.ones(len(frame), dtype=bool)
    try:
        if date_from:
            mask &= local_dates >= pd.Timestamp(date_from)
        if date_to:
            mask &= local_dates <= pd.Timestamp(date_to)
    except ValueError as exc:
        raise ConfigError(f"data.from / data.to must be YYYY-MM-DD dates: {exc}") from exc
    out = frame[mask]
    if out.empty:
        raise ConfigError(
            f"no bars between {date_from or 'start'} and {date_to or 'end'} "
            f"(file covers {frame.index[0].date()} .. {frame.index[-1].date()} UTC)"
        )
    return out


def aggregate_frame(
    frame: pd.DataFrame, interval_minutes: int, open_min: int, close_min: int, tz: str
) -> pd.DataFrame:
    """Aggregate end-labelled bars with the live :class:`BarAggregator` (same rules as live)."""
    agg = BarAggregator(interval_minutes, open_min, close_min, tz)
    rows: list[tuple[dt.datetime, float, float, float, float, float]] = []
    idx = frame.index.to_pydatetime()
    cols = [frame[c].to_numpy().tolist() for c in ("open", "high", "low", "close", "volume")]
    for t, o, h, lo, c, v in zip(idx, *cols):
        done = agg.add_bar(t, o, h, lo, c, v)
        if agg.bar_is_complete(t):  # emit a bucket once complete, as the replay/live feeds do
            done += agg.flush()
        for b in done:
            rows.append((b.end, b.open, b.high, b.low, b.close, b.volume))
    for b in agg.flush():
        rows.append((b.end, b.open, b.high, b.low, b.close, b.volume))
    out = pd.DataFrame(
        rows, columns=["datetime", "open", "high", "low", "close", "volume"]
    ).set_index("datetime")
    return out


def prepare_series(
    path: Path,
    *,
    interval_minutes: int,
    tz: str | None = None,
    session_open_min: int | None = None,
    session_close_min: int | None = None,
    date_from: str | None = None,
    date_to: str | None = None,
    aggregate: bool = True,
    market: MarketProfile = NSE,
) -> BarSeries:
    """Load ``path`` and return the bars the strategy will see.

    Bars smaller than ``interval_minutes`` are aggregated (session-aligned, see
    :mod:`mixbot.feeds.aggregator`) unless ``aggregate`` is False (the replay feed
    aggregates as it plays); a file of LARGER bars than asked is an error.

    ``tz`` (IANA) and the session bounds (minutes after local midnight) default to those of
    ``market`` (:data:`mixbot.market.NSE`: Asia/Kolkata, 555 = 09:15, 930 = 15:30); a bot
    passes its config's ``market`` section.

    Raises:
        DataFileError: the file cannot be read (see :func:`mixbot.feeds.loaders.load_bars`).
        ConfigError: no bars in the date range, or the file's bars are larger than the interval.
    """
    tz = tz or market.timezone
    session_open_min = market.session_open_min if session_open_min is None else session_open_min
    if session_close_min is None:
        session_close_min = market.session_close_min
    close = f"{session_close_min // 60:02d}:{session_close_min % 60:02d}"
    res = load_path(path, tz, close)
    frame = _filter_dates(res.frame, tz, date_from, date_to)
    step_s = int(res.interval_seconds)
    want_s = interval_minutes * 60
    if step_s > want_s and not (interval_minutes >= 1440 and step_s >= 86400):
        raise ConfigError(
            f"{path}: file bars are {step_s // 60} minutes apart but data.interval asks for "
            f"{interval_minutes} minutes; pick an interval of at least the file's bar size"
        )
    if aggregate and step_s < want_s:
        frame = aggregate_frame(frame, interval_minutes, session_open_min, session_close_min, tz)
    end = frame.index.to_numpy().astype("datetime64[us]")
    return BarSeries(
        end=end,
        num=date2num(end),
        open=frame["open"].to_numpy(np.float64),
        high=frame["high"].to_numpy(np.float64),
        low=frame["low"].to_numpy(np.float64),
        close=frame["close"].to_numpy(np.float64),
        volume=frame["volume"].to_numpy(np.float64),
        minutes=local_minutes(end, tz),
        report=res.report,
        source_interval_s=step_s,
    )
