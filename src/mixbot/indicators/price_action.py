"""Causal price-action ("smart money") indicators: engulfing, fair-value gaps, order
blocks, liquidity sweeps and market-structure breaks.

Conventions (as in :mod:`mixbot.indicators`): inputs are 1-D arrays of equal length
(prices in any one unit, INR for NSE), converted to ``float64``; every output has the
input length and is CAUSAL: ``out[i]`` depends only on bars ``0..i``. A pattern that
needs bars to its right (a swing point) is reported only once those bars have closed:
a swing high at bar ``j`` confirmed by ``k`` bars becomes known at bar ``j + k``.

Zones (fair-value gaps, order blocks) are returned as :class:`Zones`: at each bar the
bottom/top of the MOST RECENT zone of each side known at that bar's close (NaN before
the first one). :func:`zone_distance` turns a zone into a scale-free signed distance of
the close, in ATR units.

The smart-money concepts (fair-value gap, order block, liquidity sweep, break of
structure) come from the "ICT" (Inner Circle Trader, M. J. Huddleston) trading
literature, which gives no single formal definition; the rules implemented here are
the simple, documented ones below, close to those of the open-source
``smartmoneyconcepts`` Python package (github.com/joshyattridge/smart-money-concepts)
but made strictly causal. Engulfing is TA-Lib's ``CDLENGULFING`` (S. Nison, *Japanese
Candlestick Charting Techniques*, 1991).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import talib
from numpy.lib.stride_tricks import sliding_window_view

from mixbot.indicators.talib_wrappers import (
    FloatArray,
    as_float_array,
    check_period,
    check_same_length,
)

IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Zones:
    """The most recent bullish and bearish zone known at each bar (price units, (n,)).

    ``bull_low[i]``/``bull_high[i]``: bottom/top of the latest bullish zone formed at or
    before bar ``i``; ``bear_low``/``bear_high`` the same for bearish zones. NaN until
    the first zone of that side appears.
    """

    bull_low: FloatArray
    bull_high: FloatArray
    bear_low: FloatArray
    bear_high: FloatArray


def _ohlc(open_: Any, high: Any, low: Any, close: Any) -> tuple[FloatArray, ...]:
    o = as_float_array(open_, "open")
    h = as_float_array(high, "high")
    lo = as_float_array(low, "low")
    c = as_float_array(close, "close")
    check_same_length(open=o, high=h, low=lo, close=c)
    return o, h, lo, c


def last_index(mask: npt.NDArray[np.bool_]) -> IntArray:
    """Index of the latest ``True`` at or before each position (-1 when none), shape (n,)."""
    idx = np.where(mask, np.arange(mask.shape[0], dtype=np.int64), -1)
    return np.maximum.accumulate(idx) if idx.size else idx


def _carry(values: FloatArray, where: IntArray) -> FloatArray:
    """``values[where[i]]`` (NaN where ``where[i] < 0``): a forward fill by index."""
    out = np.full(where.shape[0], np.nan)
    ok = where >= 0
    out[ok] = values[where[ok]]
    return out


def engulfing(open_: Any, high: Any, low: Any, close: Any) -> FloatArray:
    """Engulfing candle pattern via ``talib.CDLENGULFING``, scaled to -1 / 0 / +1.

    Args:
        open_, high, low, close: 1-D price arrays of equal length.

    Returns:
        float64 (n,): +1 bullish engulfing at bar ``i`` (a white body at ``i`` engulfing
        the black body of ``i - 1``), -1 bearish (mirror), 0 otherwise. TA-Lib's rule
        (``ta_CDLENGULFING.c``; a candle is WHITE when ``close >= open``, so a doji is
        white, BLACK otherwise): bullish when bar ``i`` is white, bar ``i-1`` black and
        (``close[i] >= open[i-1]`` and ``open[i] < close[i-1]``, or ``close[i] >
        open[i-1]`` and ``open[i] <= close[i-1]``); bearish mirrors it. TA-Lib returns
        +-100 (+-80 in TA-Lib >= 0.6 when one body end is equal), mapped by its sign.
        TA-Lib's lookback is 2, so bars 0 and 1 are 0. Uses bars ``i - 1`` and ``i`` only.
    """
    o, h, lo, c = _ohlc(open_, high, low, close)
    return np.sign(talib.CDLENGULFING(o, h, lo, c)).astype(np.float64)


def fair_value_gaps(high: Any, low: Any) -> Zones:
    """Three-bar fair-value gaps (FVG, ICT "imbalance").

    Rule: a BULLISH gap forms at bar ``j >= 2`` when ``low[j] > high[j-2]`` (bar ``j-1``
    moved so fast that bars ``j-2`` and ``j`` do not overlap); its zone is
    ``[high[j-2], low[j]]``. A BEARISH gap forms when ``high[j] < low[j-2]``, zone
    ``[high[j], low[j-2]]``. The gap is known at the close of bar ``j``.

    Args:
        high, low: 1-D price arrays of equal length.

    Returns:
        :class:`Zones` with the latest bullish/bearish gap known at each bar (mitigated
        or not: no fill tracking), NaN before the first gap.
    """
    h = as_float_array(high, "high")
    lo = as_float_array(low, "low")
    n = check_same_length(high=h, low=lo)
    bull = np.zeros(n, dtype=bool)
    bear = np.zeros(n, dtype=bool)
    bull[2:] = lo[2:] > h[:-2]
    bear[2:] = h[2:] < lo[:-2]
    h2 = np.full(n, np.nan)  # high two bars back
    l2 = np.full(n, np.nan)
    h2[2:] = h[:-2]
    l2[2:] = lo[:-2]
    ib, ir = last_index(bull), last_index(bear)
    return Zones(_carry(h2, ib), _carry(lo, ib), _carry(h, ir), _carry(l2, ir))


def order_blocks(
    open_: Any,
    high: Any,
    low: Any,
    close: Any,
    atr: Any,
    strength: float = 1.0,
    search: int = 10,
) -> Zones:
    """Order blocks: the last opposite candle before a strong (displacement) bar.

    Rule (a simple reading of the ICT order block): bar ``j`` is a bullish displacement
    when its body ``close[j] - open[j] >= strength * atr[j]`` (ATR of bars <= ``j``).
    The bullish order block is then the latest BEARISH candle (``close < open``) at an
    index ``b`` with ``j - search <= b < j``, and its zone is ``[low[b], high[b]]``;
    it is known at the close of bar ``j``. Bearish mirror: a bearish displacement
    (``open[j] - close[j] >= strength * atr[j]``) and the latest bullish candle before
    it. A displacement with no opposite candle within ``search`` bars makes no block.

    Args:
        open_, high, low, close: 1-D price arrays of equal length.
        atr: ATR in price units, (n,), NaN allowed in the warm-up (no block there).
        strength: minimum body of the displacement bar, in ATRs (> 0).
        search: how many bars before the displacement to look for the opposite candle.

    Returns:
        :class:`Zones` of the latest bullish/bearish order block at each bar.
    """
    o, h, lo, c = _ohlc(open_, high, low, close)
    a = as_float_array(atr, "atr", allow_leading_nan=True)
    n = check_same_length(close=c, atr=a)
    s = check_period(search, "search", minimum=1)
    if not strength > 0:
        raise ValueError(f"strength must be > 0, got {strength!r}")
    body = c - o
    with np.errstate(invalid="ignore"):
        up = body >= strength * a  # NaN ATR compares False
        down = -body >= strength * a
    pos = np.arange(n, dtype=np.int64)
    prev_bear = np.full(n, -1, dtype=np.int64)  # latest bearish candle strictly before i
    prev_bull = np.full(n, -1, dtype=np.int64)
    prev_bear[1:] = last_index(c < o)[:-1]
    prev_bull[1:] = last_index(c > o)[:-1]
    bull_j = up & (prev_bear >= 0) & (pos - prev_bear <= s)
    bear_j = down & (prev_bull >= 0) & (pos - prev_bull <= s)
    # Candle index of the block, carried forward from its displacement bar.
    jb, jr = last_index(bull_j), last_index(bear_j)
    bb = np.where(jb >= 0, prev_bear[np.maximum(jb, 0)], -1)
    br = np.where(jr >= 0, prev_bull[np.maximum(jr, 0)], -1)
    return Zones(_carry(lo, bb), _carry(h, bb), _carry(lo, br), _carry(h, br))


def zone_distance(close: Any, zone_low: Any, zone_high: Any, atr: Any) -> FloatArray:
    """Signed distance of the close from a zone, in ATR units.

    ``(close - zone_high) / atr`` above the zone, ``(close - zone_low) / atr`` below it,
    0 inside ``[zone_low, zone_high]``; NaN where the zone or the ATR is NaN. ATR values
    ``<= 0`` give +-inf/NaN: callers floor the ATR first (see :mod:`mixbot.ml.features`).
    """
    c = as_float_array(close, "close")
    zl = np.asarray(zone_low, dtype=np.float64)
    zh = np.asarray(zone_high, dtype=np.float64)
    a = np.asarray(atr, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        d = np.where(c > zh, c - zh, np.where(c < zl, c - zl, 0.0))
        d = np.where(np.isnan(zl) | np.isnan(zh), np.nan, d)
        return np.asarray(d / a, dtype=np.float64)


def _prior_extremes(h: FloatArray, lo: FloatArray, lookback: int) -> tuple[FloatArray, ...]:
    """Max of ``high[i-lookback..i-1]`` and min of ``low[i-lookback..i-1]`` (NaN before)."""
    n = h.shape[0]
    hi_prev = np.full(n, np.nan)
    lo_prev = np.full(n, np.nan)
    if n > lookback:
        hi_prev[lookback:] = sliding_window_view(h[:-1], lookback).max(axis=1)
        lo_prev[lookback:] = sliding_window_view(lo[:-1], lookback).min(axis=1)
    return hi_prev, lo_prev


def liquidity_sweep(high: Any, low: Any, close: Any, lookback: int = 20) -> FloatArray:
    """Liquidity sweep (stop hunt) of the prior ``lookback``-bar extreme, -1 / 0 / +1.

    Rule: with ``H = max(high[i-lookback .. i-1])`` and ``L = min(low[i-lookback .. i-1])``
    (the resting stops above the range high / below the range low), bar ``i`` is a
    BEARISH sweep (-1) when ``high[i] > H`` and ``close[i] < H`` (it ran the stops and
    closed back inside), a BULLISH sweep (+1) when ``low[i] < L`` and ``close[i] > L``.
    A bar sweeping both sides gives 0; the first ``lookback`` bars give 0.

    Args:
        high, low, close: 1-D price arrays of equal length.
        lookback: the range length in bars (>= 1).

    Returns:
        float64 (n,) of -1, 0, +1.
    """
    h = as_float_array(high, "high")
    lo = as_float_array(low, "low")
    c = as_float_array(close, "close")
    check_same_length(high=h, low=lo, close=c)
    n_back = check_period(lookback, "lookback", minimum=1)
    hp, lp = _prior_extremes(h, lo, n_back)
    with np.errstate(invalid="ignore"):
        bear = (h > hp) & (c < hp)
        bull = (lo < lp) & (c > lp)
    return bull.astype(np.float64) - bear.astype(np.float64)


def swing_levels(high: Any, low: Any, k: int = 3) -> tuple[FloatArray, FloatArray]:
    """Latest CONFIRMED swing-high and swing-low prices known at each bar.

    Rule (a fractal of width ``2k + 1``, after B. Williams): bar ``j`` is a swing high
    when ``high[j] > max(high[j-k .. j-1])`` and ``high[j] >= max(high[j+1 .. j+k])``
    (strict on the left so a flat top counts once, at its first bar); a swing low
    mirrors it on the lows. The swing needs the ``k`` bars to its right, so it becomes
    known at bar ``j + k``: the value at bar ``i`` is the price of the latest swing
    with ``j + k <= i`` (NaN before the first).

    Args:
        high, low: 1-D price arrays of equal length.
        k: bars on each side (>= 1).

    Returns:
        ``(swing_high, swing_low)``, float64 (n,) in price units.
    """
    h = as_float_array(high, "high")
    lo = as_float_array(low, "low")
    n = check_same_length(high=h, low=lo)
    k = check_period(k, "k", minimum=1)
    is_hi = np.zeros(n, dtype=bool)
    is_lo = np.zeros(n, dtype=bool)
    if n >= 2 * k + 1:
        wh = sliding_window_view(h, 2 * k + 1)  # row r covers bars r .. r + 2k, centre r + k
        wl = sliding_window_view(lo, 2 * k + 1)
        ch, cl = wh[:, k], wl[:, k]
        is_hi[k : n - k] = (ch > wh[:, :k].max(axis=1)) & (ch >= wh[:, k + 1 :].max(axis=1))
        is_lo[k : n - k] = (cl < wl[:, :k].min(axis=1)) & (cl <= wl[:, k + 1 :].min(axis=1))
    # Known at j + k: shift the detection mask right by k bars.
    known_hi = np.zeros(n, dtype=bool)
    known_lo = np.zeros(n, dtype=bool)
    known_hi[k:] = is_hi[: n - k]
    known_lo[k:] = is_lo[: n - k]
    src_hi = last_index(known_hi) - k
    src_lo = last_index(known_lo) - k
    return _carry(h, np.where(src_hi >= 0, src_hi, -1)), _carry(
        lo, np.where(src_lo >= 0, src_lo, -1)
    )


def structure_break(high: Any, low: Any, close: Any, k: int = 3) -> tuple[FloatArray, FloatArray]:
    """Market-structure break (break of structure, BOS) against confirmed swings.

    Rule: with ``SH[i]`` / ``SL[i]`` the latest confirmed swing high / low known at bar
    ``i`` (:func:`swing_levels`, confirmation lag ``k``), bar ``i`` is a bullish break
    (+1) when ``close[i] > SH[i]`` and ``close[i-1] <= SH[i]`` (the close crosses above
    the swing high), a bearish break (-1) when ``close[i] < SL[i]`` and
    ``close[i-1] >= SL[i]``; 0 otherwise (and where no swing is known yet).

    Returns:
        ``(event, state)``, float64 (n,): ``event`` is the -1/0/+1 break at each bar;
        ``state`` is the direction of the latest break at or before bar ``i`` (the
        prevailing structure: +1 bullish, -1 bearish, 0 before the first break).
    """
    c = as_float_array(close, "close")
    sh, sl = swing_levels(high, low, k)
    check_same_length(close=c, swing=sh)
    prev = np.empty_like(c)
    prev[:1] = np.nan
    prev[1:] = c[:-1]
    with np.errstate(invalid="ignore"):
        up = (c > sh) & (prev <= sh)
        down = (c < sl) & (prev >= sl)
    event = up.astype(np.float64) - down.astype(np.float64)
    last = last_index(event != 0)
    state = np.where(last >= 0, event[np.maximum(last, 0)], 0.0)
    return event, state.astype(np.float64)
