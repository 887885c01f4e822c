"""Ichimoku Kinko Hyo (Goichi Hosoda), computed once over a whole price series.

Definition as documented by StockCharts ChartSchool, "Ichimoku Cloud"
(https://school.stockcharts.com/doku.php?id=technical_indicators:ichimoku_cloud), with
Hosoda's default settings 9 / 26 / 52 / 26:

* Tenkan-sen (conversion line) = (highest high + lowest low) / 2 over the last 9 bars;
* Kijun-sen (base line) = (highest high + lowest low) / 2 over the last 26 bars;
* Senkou Span A (leading span A) = (Tenkan-sen + Kijun-sen) / 2, plotted 26 bars AHEAD;
* Senkou Span B (leading span B) = (highest high + lowest low) / 2 over the last 52
  bars, plotted 26 bars AHEAD;
* Chikou Span (lagging span) = close, plotted 26 bars BEHIND.

Causality. The arrays returned here are indexed by the bar at which a value is PLOTTED,
and each value at index ``i`` uses data up to bar ``i`` only:

* ``senkou_a[i]`` and ``senkou_b[i]`` are the cloud as drawn above bar ``i``, i.e. the
  spans computed at bar ``i - displacement`` (shifted forward). This is what a chart
  shows under price at bar ``i`` and what a strategy comparing price with the cloud
  needs; it only uses data up to ``i - displacement``. (The StockCharts and backtrader
  convention; TradingView's built-in Ichimoku plots the leading spans with an offset of
  ``displacement - 1`` bars, so its cloud sits one bar earlier.)
* The Chikou span is NOT returned: drawn at bar ``i`` it is ``close[i + displacement]``,
  a future value. The legitimate use of the Chikou at bar ``i`` (is today's close above
  the price ``displacement`` bars ago?) is ``close[i]`` versus ``close[i - displacement]``,
  which a strategy can compute from the closes directly.
* The un-displaced "future cloud" (the spans computed at bar ``i``, plotted at
  ``i + displacement``) is also causal: call with ``displacement=0`` to get it.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import talib

from mixbot.indicators.talib_wrappers import (
    FloatArray,
    as_float_array,
    check_period,
    check_same_length,
)


class IchimokuResult(NamedTuple):
    """Ichimoku lines, one value per input bar, in the price units of the input.

    With the default parameters ``(9, 26, 52, 26)`` the warm-up lengths (leading NaNs) are
    tenkan 8, kijun 25, senkou_a 51 and senkou_b 77 bars.

    Attributes:
        tenkan: Tenkan-sen at bar ``i`` (window ``tenkan``); warm-up ``tenkan - 1``.
        kijun: Kijun-sen at bar ``i`` (window ``kijun``); warm-up ``kijun - 1``.
        senkou_a: Senkou Span A as plotted at bar ``i`` = ``(tenkan + kijun) / 2`` computed
            at bar ``i - displacement``; warm-up ``max(tenkan, kijun) - 1 + displacement``.
        senkou_b: Senkou Span B as plotted at bar ``i`` = midpoint over the ``senkou_b``
            window ending at bar ``i - displacement``; warm-up
            ``senkou_b - 1 + displacement``.
    """

    tenkan: FloatArray
    kijun: FloatArray
    senkou_a: FloatArray
    senkou_b: FloatArray


def _midpoint(high: FloatArray, low: FloatArray, window: int) -> FloatArray:
    """(highest high + lowest low) / 2 over the trailing ``window`` bars (TA-Lib MIDPRICE)."""
    if window == 1:  # TA-Lib's MIDPRICE needs a window of at least 2
        return (high + low) * 0.5
    return np.asarray(talib.MIDPRICE(high, low, timeperiod=window), dtype=np.float64)


def _shift_forward(x: FloatArray, bars: int) -> FloatArray:
    """Return ``y`` with ``y[i] = x[i - bars]`` and NaN for ``i < bars``."""
    out = np.full_like(x, np.nan)
    if bars < x.shape[0]:
        out[bars:] = x[: x.shape[0] - bars]
    return out


def ichimoku(
    high: Any,
    low: Any,
    close: Any,
    tenkan: int = 9,
    kijun: int = 26,
    senkou_b: int = 52,
    displacement: int = 26,
) -> IchimokuResult:
    """Compute the Ichimoku lines a strategy may use at each bar (see the module docstring).

    Args:
        high, low, close: 1-D float arrays of equal length, finite values, same price unit.
            ``close`` is only validated (it feeds the Chikou span, which is not returned
            because it is not causal); pass it so the signature matches the other
            indicators and a future Chikou-based helper.
        tenkan: Tenkan-sen window in bars, ``>= 1`` (default 9).
        kijun: Kijun-sen window in bars, ``>= 1`` (default 26).
        senkou_b: Senkou Span B window in bars, ``>= 1`` (default 52).
        displacement: how many bars ahead the leading spans are plotted, ``>= 0``
            (default 26).

    Returns:
        :class:`IchimokuResult` ``(tenkan, kijun, senkou_a, senkou_b)``, each of the input
        length, NaN during the warm-ups listed on :class:`IchimokuResult`.

    Raises:
        ValueError: on mismatched lengths, non-finite inputs or out-of-range periods.
    """
    h = as_float_array(high, "high")
    lo = as_float_array(low, "low")
    c = as_float_array(close, "close")
    check_same_length(high=h, low=lo, close=c)
    t = check_period(tenkan, "tenkan")
    k = check_period(kijun, "kijun")
    b = check_period(senkou_b, "senkou_b")
    d = check_period(displacement, "displacement", minimum=0)

    tenkan_line = _midpoint(h, lo, t)
    kijun_line = _midpoint(h, lo, k)
    span_a_now = (tenkan_line + kijun_line) * 0.5
    span_b_now = _midpoint(h, lo, b)
    return IchimokuResult(
        tenkan=tenkan_line,
        kijun=kijun_line,
        senkou_a=_shift_forward(span_a_now, d),
        senkou_b=_shift_forward(span_b_now, d),
    )
