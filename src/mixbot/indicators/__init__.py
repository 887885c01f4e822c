"""Vectorised technical indicators for mixbot strategies.

Indicators are computed ONCE per data feed over whole 1-D ``float64`` numpy arrays
(not bar by bar); a strategy then indexes the result arrays at the current bar.

Conventions shared by every function here:

* inputs are 1-D arrays (numpy, pandas Series or sequences) of equal length, converted
  to C-contiguous ``float64``; outputs have the input length and the input's price unit;
* outputs are causal: ``out[i]`` depends only on ``inputs[0..i]``, so ``out[i]`` may be
  used when deciding at the close of bar ``i`` (Ichimoku's leading spans are returned as
  plotted at bar ``i``, i.e. computed ``displacement`` bars earlier; its non-causal
  lagging span is not returned);
* warm-up positions are NaN (Supertrend's direction is 0 there);
* bad arguments (period below the minimum, mismatched lengths, NaN/inf inside the
  series) raise :class:`ValueError` with a message naming the problem.

Modules: :mod:`.talib_wrappers` (RSI, Bollinger Bands, ATR, SMA, EMA over TA-Lib),
:mod:`.supertrend` and :mod:`.ichimoku`.
"""

from __future__ import annotations

from mixbot.indicators.ichimoku import IchimokuResult, ichimoku
from mixbot.indicators.supertrend import SupertrendResult, supertrend
from mixbot.indicators.talib_wrappers import FloatArray, atr, bbands, ema, rsi, sma

__all__ = [
    "FloatArray",
    "IchimokuResult",
    "SupertrendResult",
    "atr",
    "bbands",
    "ema",
    "ichimoku",
    "rsi",
    "sma",
    "supertrend",
]
