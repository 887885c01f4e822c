"""Kline data of the Binance simulator: real BTCUSDT bar files as Binance klines.

Files are read with the project's loader (:func:`mixbot.feeds.loaders.load_many`, UTC), so
the bars are the ones a ``data_source: replay`` bot sees. Times here are epoch milliseconds
(UTC), a kline is keyed by its OPEN time as Binance does (``t``; close time ``T`` = open +
interval - 1 ms).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: Binance kline intervals (REST ``interval`` / stream ``kline_<interval>``) -> milliseconds.
INTERVAL_MS = {
    "1m": 60_000, "3m": 180_000, "5m": 300_000, "15m": 900_000, "30m": 1_800_000,
    "1h": 3_600_000, "2h": 7_200_000, "4h": 14_400_000, "6h": 21_600_000,
    "8h": 28_800_000, "12h": 43_200_000, "1d": 86_400_000,
}  # fmt: skip


@dataclass
class Klines:
    """Bars of one symbol at the file's bar size.

    Attributes:
        step_ms: bar size, ms (60,000 for the 1-minute file).
        open_ms: int64 open times, ms UTC, increasing.
        ohlcv: float64 (n, 5) open, high, low, close, volume (base asset units).
    """

    step_ms: int
    open_ms: np.ndarray
    ohlcv: np.ndarray

    @classmethod
    def load(cls, paths: list[Path]) -> Klines:
        """Read bar files (one symbol) with the project's loader.

        Raises:
            DataFileError: a file cannot be read (see :func:`mixbot.feeds.loaders.load_many`).
        """
        from mixbot.feeds.loaders import load_many

        res = load_many(paths, tz="UTC", session_close="00:00")
        step = int(res.interval_seconds) * 1000
        end_ms = res.frame.index.to_numpy().astype("datetime64[ms]").astype(np.int64)
        return cls(step, end_ms - step, res.frame.to_numpy(np.float64))

    def index_at(self, t_ms: int) -> int:
        """Number of bars that OPEN before ``t_ms``."""
        return int(np.searchsorted(self.open_ms, t_ms, side="left"))

    def closed_before(self, t_ms: int) -> int:
        """Number of bars whose close (open + step) is at or before ``t_ms``."""
        return int(np.searchsorted(self.open_ms + self.step_ms, t_ms, side="right"))

    def klines(
        self, interval_ms: int, start_ms: int | None, end_ms: int | None, limit: int, now_ms: int
    ) -> list[list[object]]:
        """Binance REST klines rows ``[t, o, h, l, c, v, T, q, n, V, Q, "0"]`` (numbers as
        strings like Binance) of ``interval_ms`` bars (a multiple of the file's, aggregated
        on the UTC epoch grid), open time in [start, end], only bars opened before
        ``now_ms``; the bar in progress is partial (up to the last closed file bar).

        Raises:
            ValueError: the interval is smaller than, or not a multiple of, the file's.
        """
        if interval_ms < self.step_ms or interval_ms % self.step_ms:
            raise ValueError("interval not served by this file")
        visible = self.closed_before(now_ms)
        opens, vals = self.open_ms[:visible], self.ohlcv[:visible]
        if not len(opens):
            return []
        bucket = opens - opens % interval_ms
        keys, first = np.unique(bucket, return_index=True)
        lo = start_ms if start_ms is not None else -(2**62)
        hi = end_ms if end_ms is not None else 2**62
        sel = [i for i, k in enumerate(keys) if lo <= k <= hi]
        if start_ms is None:
            sel = sel[-limit:]
        else:
            sel = sel[:limit]
        rows: list[list[object]] = []
        bounds = list(first) + [len(opens)]
        for i in sel:
            a, b = bounds[i], bounds[i + 1]
            chunk = vals[a:b]
            rows.append(kline_row(int(keys[i]), interval_ms, chunk))
        return rows


def kline_row(open_ms: int, interval_ms: int, chunk: np.ndarray) -> list[object]:
    """One REST kline row from the file bars ``chunk`` (n, 5) of one interval."""
    o, h, lo, c = chunk[0, 0], chunk[:, 1].max(), chunk[:, 2].min(), chunk[-1, 3]
    v = chunk[:, 4].sum()
    q = float((chunk[:, 3] * chunk[:, 4]).sum())
    return [
        open_ms, _s(o), _s(h), _s(lo), _s(c), _s(v, 8), open_ms + interval_ms - 1,
        _s(q, 8), int(len(chunk)), "0", "0", "0",
    ]  # fmt: skip


def _s(x: float, nd: int = 2) -> str:
    return f"{float(x):.{nd}f}"
