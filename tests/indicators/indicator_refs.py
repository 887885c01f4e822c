"""Independent reference computations shared by the indicator tests."""

from __future__ import annotations

import numpy as np


def wilder_atr(high: np.ndarray, low: np.ndarray, close: np.ndarray, period: int) -> np.ndarray:
    """Independent Wilder ATR: seed = simple mean of TR[1..period], then Wilder smoothing."""
    n = len(close)
    out = np.full(n, np.nan)
    if n <= period:
        return out
    prev_close = close[:-1]
    tr = np.maximum.reduce(
        [high[1:] - low[1:], np.abs(high[1:] - prev_close), np.abs(low[1:] - prev_close)]
    )  # tr[j] is the true range of bar j + 1
    value = tr[:period].mean()
    out[period] = value
    for i in range(period + 1, n):
        value = (value * (period - 1) + tr[i - 1]) / period
        out[i] = value
    return out
