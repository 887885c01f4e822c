"""Thin, validated wrappers over TA-Lib (``import talib``).

Every function takes 1-D arrays (numpy arrays, pandas Series or sequences) of equal
length, converts them to C-contiguous ``float64`` (the only dtype TA-Lib accepts) and
returns new ``float64`` arrays of the same length, with NaN at the warm-up positions.
Prices are in the units of the input and so are price-valued outputs.

All outputs are causal: ``out[i]`` depends only on ``inputs[0..i]``.

Input values must be finite, except that *leading* NaNs are allowed so that an
indicator can be chained on the output of another (TA-Lib starts computing at the
first non-NaN value; the warm-up then counts from there). A NaN or infinity after
the first finite value raises :class:`ValueError`, because TA-Lib would silently
propagate it into every later value of the recursive indicators (EMA, RSI, ATR).

The results assume TA-Lib's global settings are at their defaults: compatibility
mode ``0`` (``talib.set_compatibility``) and unstable period ``0``
(``talib.set_unstable_period``). Reference for the formulas: the TA-Lib C sources
(https://github.com/TA-Lib/ta-lib, ``src/ta_func/ta_*.c``) and J. Welles Wilder,
*New Concepts in Technical Trading Systems* (1978) for RSI and ATR.
"""

from __future__ import annotations

import math
import operator
from typing import Any

import numpy as np
import numpy.typing as npt
import talib

#: A 1-D ``float64`` numpy array, the type every indicator returns.
FloatArray = npt.NDArray[np.float64]

#: TA-Lib rejects periods above this value.
MAX_PERIOD = 100_000


def as_float_array(
    values: Any, name: str = "input", *, allow_leading_nan: bool = False
) -> FloatArray:
    """Convert ``values`` to a 1-D C-contiguous ``float64`` array and check its values.

    Args:
        values: a 1-D array-like (numpy array, pandas Series, list) of numbers.
        name: how the input is named in error messages (``"high"``, ``"close"``...).
        allow_leading_nan: accept NaNs before the first finite value (the warm-up of
            a chained indicator); any other NaN or infinity is rejected.

    Returns:
        The values as a ``float64`` array (a copy only when a conversion was needed).

    Raises:
        ValueError: when the input is not 1-D or holds a non-finite value where it is
            not allowed (the message gives the first offending index).
    """
    try:
        arr = np.ascontiguousarray(np.asarray(values, dtype=np.float64))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name}: cannot convert to a float64 array ({exc})") from exc
    if arr.ndim != 1:
        raise ValueError(f"{name}: expected a 1-D array, got shape {arr.shape}")
    finite = np.isfinite(arr)
    if not finite.all():
        bad = np.flatnonzero(~finite)
        if allow_leading_nan:
            first_finite = int(np.argmax(finite)) if finite.any() else arr.size
            leading = bad < first_finite
            # Leading entries must be NaN (not +-inf); anything after them is an error.
            bad = bad[~(leading & np.isnan(arr[bad]))]
        if bad.size:
            i = int(bad[0])
            raise ValueError(
                f"{name}: non-finite value {float(arr[i])!r} at index {i}"
                + (" (only leading NaNs are allowed)" if allow_leading_nan else "")
            )
    return arr


def check_period(period: Any, name: str = "period", minimum: int = 1) -> int:
    """Return ``period`` as an ``int`` after checking ``minimum <= period <= MAX_PERIOD``.

    Raises:
        ValueError: when ``period`` is not an integer (``bool`` is refused) or out of range.
    """
    if isinstance(period, bool):
        raise ValueError(f"{name} must be an integer, got {period!r}")
    try:
        p = operator.index(period)
    except TypeError:
        raise ValueError(f"{name} must be an integer, got {period!r}") from None
    if p < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {p}")
    if p > MAX_PERIOD:
        raise ValueError(f"{name} must be <= {MAX_PERIOD} (TA-Lib's limit), got {p}")
    return p


def check_same_length(**arrays: FloatArray) -> int:
    """Return the common length of the named arrays.

    Raises:
        ValueError: naming every array and its length when the lengths differ.
    """
    lengths = {name: a.shape[0] for name, a in arrays.items()}
    if len(set(lengths.values())) > 1:
        detail = ", ".join(f"{k}={v}" for k, v in lengths.items())
        raise ValueError(f"input arrays must have the same length, got {detail}")
    return next(iter(lengths.values()), 0)


def rsi(close: Any, period: int = 14) -> FloatArray:
    """Relative Strength Index (Wilder), via ``talib.RSI``.

    Args:
        close: 1-D float array of prices (any price unit).
        period: look-back in bars, ``>= 2`` (TA-Lib's minimum).

    Returns:
        RSI in ``[0, 100]`` (dimensionless), same length as ``close``.
        Warm-up: the first ``period`` values are NaN (the first RSI is at index
        ``period``, after ``period`` price changes).

    Formula (Wilder 1978, as implemented by TA-Lib): ``gain_t = max(c_t - c_{t-1}, 0)``,
    ``loss_t = max(c_{t-1} - c_t, 0)``; the average gain/loss are seeded with the
    simple mean of the first ``period`` gains/losses and then smoothed as
    ``avg_t = (avg_{t-1} * (period - 1) + x_t) / period``;
    ``RSI = 100 * avg_gain / (avg_gain + avg_loss)`` (= ``100 - 100 / (1 + RS)``).
    TA-Lib returns 0 (not 50) when both averages are zero (a perfectly flat window).
    """
    c = as_float_array(close, "close", allow_leading_nan=True)
    p = check_period(period, minimum=2)
    return np.asarray(talib.RSI(c, timeperiod=p), dtype=np.float64)


def bbands(
    close: Any, period: int = 20, dev: float = 2.0
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Bollinger Bands (John Bollinger), via ``talib.BBANDS`` with an SMA middle band.

    Args:
        close: 1-D float array of prices (any price unit).
        period: window in bars, ``>= 2`` (TA-Lib's minimum).
        dev: band width in standard deviations, finite and ``>= 0`` (same for both bands).

    Returns:
        ``(upper, middle, lower)``, each in the price units of ``close`` and of the same
        length. Warm-up: the first ``period - 1`` values are NaN.

    Formula: ``middle = SMA(close, period)``; ``upper/lower = middle +- dev * sigma`` where
    ``sigma`` is the POPULATION standard deviation of the last ``period`` closes (divisor
    ``period``, not ``period - 1``), which is what TA-Lib's ``STDDEV`` computes. Pandas'
    ``rolling().std()`` defaults to the sample deviation (``ddof=1``): use ``ddof=0`` to
    compare. TA-Lib computes the variance as ``E[x^2] - E[x]^2`` in a running sum, so
    expect a relative rounding error around 1e-9 of the price on long series.
    """
    c = as_float_array(close, "close", allow_leading_nan=True)
    p = check_period(period, minimum=2)
    d = float(dev)
    if not math.isfinite(d) or d < 0:
        raise ValueError(f"dev must be a finite number >= 0, got {dev!r}")
    upper, middle, lower = talib.BBANDS(
        c, timeperiod=p, nbdevup=d, nbdevdn=d, matype=talib.MA_Type.SMA
    )
    return (
        np.asarray(upper, dtype=np.float64),
        np.asarray(middle, dtype=np.float64),
        np.asarray(lower, dtype=np.float64),
    )


def atr(high: Any, low: Any, close: Any, period: int = 14) -> FloatArray:
    """Average True Range (Wilder), via ``talib.ATR``.

    Args:
        high, low, close: 1-D float arrays of equal length (same price unit).
        period: smoothing period in bars, ``>= 1``.

    Returns:
        ATR in the price units of the input, same length. Warm-up: the first ``period``
        values are NaN (the true range needs the previous close, so the first ATR is at
        index ``period``).

    Formula (Wilder 1978, as implemented by TA-Lib):
    ``TR_t = max(h_t - l_t, |h_t - c_{t-1}|, |l_t - c_{t-1}|)`` for ``t >= 1``;
    ``ATR_period = mean(TR_1 .. TR_period)`` (simple mean seed);
    ``ATR_t = (ATR_{t-1} * (period - 1) + TR_t) / period`` afterwards.
    With ``period == 1`` this is the true range itself.
    """
    h = as_float_array(high, "high", allow_leading_nan=True)
    lo = as_float_array(low, "low", allow_leading_nan=True)
    c = as_float_array(close, "close", allow_leading_nan=True)
    check_same_length(high=h, low=lo, close=c)
    p = check_period(period, minimum=1)
    return np.asarray(talib.ATR(h, lo, c, timeperiod=p), dtype=np.float64)


def sma(x: Any, period: int) -> FloatArray:
    """Simple moving average, via ``talib.SMA``.

    Args:
        x: 1-D float array (any unit; the output has the same unit).
        period: window in bars, ``>= 1``.

    Returns:
        ``mean(x[i - period + 1 .. i])`` at index ``i``; the first ``period - 1`` values
        are NaN (warm-up).
    """
    a = as_float_array(x, "x", allow_leading_nan=True)
    p = check_period(period, minimum=1)
    return np.asarray(talib.SMA(a, timeperiod=p), dtype=np.float64)


def ema(x: Any, period: int) -> FloatArray:
    """Exponential moving average, via ``talib.EMA``.

    Args:
        x: 1-D float array (any unit; the output has the same unit).
        period: span in bars, ``>= 1``; the smoothing factor is ``alpha = 2 / (period + 1)``.

    Returns:
        Same length as ``x``; the first ``period - 1`` values are NaN (warm-up).
        TA-Lib (default compatibility mode) seeds the EMA at index ``period - 1`` with the
        simple mean of the first ``period`` values, then ``e_t = e_{t-1} + alpha * (x_t -
        e_{t-1})``. This differs from pandas ``ewm(span=period, adjust=False)``, which
        seeds with ``x_0``; the two converge as ``(1 - alpha)^t``.
    """
    a = as_float_array(x, "x", allow_leading_nan=True)
    p = check_period(period, minimum=1)
    return np.asarray(talib.EMA(a, timeperiod=p), dtype=np.float64)
