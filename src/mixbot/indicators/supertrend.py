"""Supertrend (Olivier Seban), computed once over a whole price series.

Definition (Olivier Seban's Supertrend, in the form popularised by the TradingView
"SuperTrend" script of KivancOzbilgic and TradingView's ``ta.supertrend`` reference):

* ``ATR`` = Wilder's Average True Range over ``period`` bars (TA-Lib ``ATR``: seeded
  with the simple mean of the first ``period`` true ranges, first value at index
  ``period``), see :func:`mixbot.indicators.talib_wrappers.atr`;
* basic bands: ``basic_upper = (h + l) / 2 + multiplier * ATR``,
  ``basic_lower = (h + l) / 2 - multiplier * ATR``;
* final bands ratchet: ``final_upper_t = basic_upper_t`` if ``basic_upper_t <
  final_upper_{t-1}`` or ``close_{t-1} > final_upper_{t-1}``, else ``final_upper_{t-1}``;
  symmetrically ``final_lower_t = basic_lower_t`` if ``basic_lower_t > final_lower_{t-1}``
  or ``close_{t-1} < final_lower_{t-1}``, else ``final_lower_{t-1}``;
* trend: in a downtrend the trend turns up when ``close_t > final_upper_{t-1}``; in an
  uptrend it turns down when ``close_t < final_lower_{t-1}`` (the close crosses the final
  band of the PRIOR bar, i.e. the Supertrend line that was plotted at bar ``t-1``, as in
  KivancOzbilgic's script and pandas-ta). TradingView's built-in ``ta.supertrend``
  instead compares with the current bar's final band, so it can flip earlier;
* line: ``final_lower_t`` in an uptrend (below price), ``final_upper_t`` in a downtrend.
  Rarely, a very wide bar (a gap opening) flips the trend while its own band lies beyond
  its close, so on that bar the line is on the "wrong" side of the close (once in
  45,964 BANKNIFTY 1-minute bars of 2019 H1 with 10 / 3.0); the next bar corrects it.

pandas-ta ratchets only the band of the current trend and seeds its ATR differently, so
its directions agree with these on about 99.8 % of real bars, not all of them.

Initial direction convention: the first bar with a valid ATR (index ``period``) is an
UPTREND (+1) and its line is that bar's basic lower band; the flip rule applies from the
next bar on. This is the convention of KivancOzbilgic's script (``trend = 1``). The
effect of this arbitrary start dies out at the first flip.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from mixbot.indicators.talib_wrappers import (
    FloatArray,
    as_float_array,
    atr,
    check_period,
    check_same_length,
)

#: Direction array type: +1 uptrend, -1 downtrend, 0 warm-up.
DirectionArray = npt.NDArray[np.int8]


class SupertrendResult(NamedTuple):
    """Supertrend output, one value per input bar.

    Attributes:
        line: the Supertrend line, ``float64``, in the price units of the input; NaN
            during the warm-up (indices ``0 .. period - 1``).
        direction: ``int8``; ``+1`` uptrend (line is the lower band, below price), ``-1``
            downtrend (line is the upper band, above price), ``0`` during the warm-up.
    """

    line: FloatArray
    direction: DirectionArray


def supertrend(
    high: Any, low: Any, close: Any, period: int = 10, multiplier: float = 3.0
) -> SupertrendResult:
    """Compute the Supertrend over whole arrays (see the module docstring for the formula).

    Args:
        high, low, close: 1-D float arrays of equal length, finite values, same price unit.
        period: ATR period in bars, ``>= 1``.
        multiplier: band width in ATRs, finite and ``> 0``.

    Returns:
        :class:`SupertrendResult` ``(line, direction)``, each of the input length.
        Warm-up: the first ``period`` bars (ATR needs ``period`` true ranges, and the
        first true range needs the previous close) have ``line = NaN`` and
        ``direction = 0``; a series of ``period`` bars or fewer is all warm-up.

    Causality: ``line[i]`` and ``direction[i]`` depend only on bars ``0..i``, so a
    strategy may act on them at the close of bar ``i``.

    Raises:
        ValueError: on mismatched lengths, non-finite inputs, ``period < 1`` or a
            non-positive ``multiplier``.
    """
    h = as_float_array(high, "high")
    lo = as_float_array(low, "low")
    c = as_float_array(close, "close")
    n = check_same_length(high=h, low=lo, close=c)
    p = check_period(period, minimum=1)
    m = float(multiplier)
    if not math.isfinite(m) or m <= 0:
        raise ValueError(f"multiplier must be a finite number > 0, got {multiplier!r}")

    line = np.full(n, np.nan, dtype=np.float64)
    direction = np.zeros(n, dtype=np.int8)
    if n <= p:
        return SupertrendResult(line, direction)

    a = atr(h, lo, c, p)
    start = p  # first index where TA-Lib's ATR is defined (inputs are all finite)
    hl2 = (h[start:] + lo[start:]) * 0.5
    width = m * a[start:]
    basic_upper = (hl2 + width).tolist()
    basic_lower = (hl2 - width).tolist()
    closes = c[start:].tolist()

    # Plain Python loop over Python floats: O(n), about 0.1 us per bar operation.
    count = len(closes)
    out_line = [0.0] * count
    out_up = [True] * count
    final_upper = basic_upper[0]
    final_lower = basic_lower[0]
    up = True
    out_line[0] = final_lower
    prev_close = closes[0]
    for j in range(1, count):
        bu = basic_upper[j]
        bl = basic_lower[j]
        cj = closes[j]
        # Flip against the PRIOR bar's final bands.
        if up:
            if cj < final_lower:
                up = False
        elif cj > final_upper:
            up = True
        # Ratchet the final bands with this bar's basic bands and the previous close.
        if not (bu < final_upper or prev_close > final_upper):
            bu = final_upper
        if not (bl > final_lower or prev_close < final_lower):
            bl = final_lower
        final_upper = bu
        final_lower = bl
        out_line[j] = bl if up else bu
        out_up[j] = up
        prev_close = cj

    line[start:] = out_line
    direction[start:] = np.where(np.array(out_up, dtype=bool), 1, -1).astype(np.int8)
    return SupertrendResult(line, direction)
