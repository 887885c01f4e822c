"""The model's declared, versioned feature set (``FEATURE_SET_ID``) and its Normalizer.

Every feature is CAUSAL (row ``i`` uses bars ``0..i`` only) and scale-free (log returns,
ratios to ATR or price, bounded oscillators, -1/0/+1 events): no raw prices, so one model
can see different instruments and price levels. Rows before :func:`warmup_bars` hold NaN;
every later row is finite (the ATR is floored, zero volume gives a volume feature of 0).

Feature set ``"fs1"`` (``F = 23`` columns for daily bars, 25 with ``intraday=True``),
in column order (ATR = Wilder ATR(14), floored at ``1e-6 * close``):

==================  =========================================================================
``ret_1/5/20``      log return over 1/5/20 bars: ``ln(close[i] / close[i-k])``
``sma20_atr``       ``(close - SMA20(close)) / ATR``; ``sma50_atr``, ``ema20_atr`` alike
``rsi14``           Wilder RSI(14) / 100, in [0, 1]
``macd_atr``        MACD line ``EMA12 - EMA26`` of the close, / ATR (G. Appel, 1979)
``macd_signal_atr`` signal ``EMA9`` of the MACD line, / ATR
``macd_hist_atr``   ``(line - signal) / ATR``
``atr_pct``         ``ATR / close`` (fraction, not percent)
``bb_pos``          Bollinger(20, 2) position ``(close - lower) / (upper - lower)`` (0.5 when
                    the bands are flat)
``bb_width``        ``(upper - lower) / middle`` (fraction)
``vol_ratio``       ``ln(volume / SMA20(volume))``; 0 when either is 0 (indices)
``range_atr``       ``(high - low) / ATR``
``engulf``          engulfing pattern -1/0/+1 (TA-Lib ``CDLENGULFING``)
``fvg_bull_atr``    signed ATR distance of the close to the latest bullish fair-value gap
``fvg_bear_atr``    same for the latest bearish gap
``ob_bull_atr``     same for the latest bullish order block (displacement body >= 1 ATR)
``ob_bear_atr``     same for the latest bearish order block
``sweep``           liquidity sweep of the prior 20-bar high (-1) / low (+1)
``bos``             break of structure this bar (-1/0/+1), swings of 3 bars a side
``structure``       direction of the latest break of structure (-1/0/+1)
``tod_sin/cos``     intraday only: ``sin/cos(2 pi t / 375)``, ``t`` = minutes after the
                    09:15 IST session open of the bar END (``Bars.minutes - 555``)
==================  =========================================================================

Zone distances (see :func:`mixbot.indicators.price_action.zone_distance`) are 0 inside
the zone and clipped to ``+-ZONE_CLIP`` ATRs; before the first zone of a side they take
the clip value on the zone's usual side (``+ZONE_CLIP`` for bullish zones, which sit
below the price, ``-ZONE_CLIP`` for bearish ones).

Intraday, the look-backs run across session boundaries (``ret_20`` at 09:20 includes the
overnight gap); the time-of-day columns let the model tell those bars apart.

Sources: Wilder (1978) RSI/ATR; Bollinger bands (J. Bollinger); TA-Lib for the
indicators (through :mod:`mixbot.indicators`); price-action rules in
:mod:`mixbot.indicators.price_action`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from mixbot.indicators import atr, bbands, ema, rsi, sma
from mixbot.indicators import price_action as pa
from mixbot.strategy.mixin import Bars

#: Bump whenever a column, its order or its definition changes.
FEATURE_SET_ID: str = "fs1"

#: Session of the NSE in minutes after IST midnight (09:15 - 15:30).
SESSION_OPEN_MIN = 555
SESSION_LENGTH_MIN = 375
#: Zone distances are clipped to this many ATRs.
ZONE_CLIP = 10.0
#: ATR floor as a fraction of the close (flat placeholder bars have an ATR of 0).
ATR_FLOOR_FRAC = 1e-6

_BASE_NAMES: tuple[str, ...] = (
    "ret_1",
    "ret_5",
    "ret_20",
    "sma20_atr",
    "sma50_atr",
    "ema20_atr",
    "rsi14",
    "macd_atr",
    "macd_signal_atr",
    "macd_hist_atr",
    "atr_pct",
    "bb_pos",
    "bb_width",
    "vol_ratio",
    "range_atr",
    "engulf",
    "fvg_bull_atr",
    "fvg_bear_atr",
    "ob_bull_atr",
    "ob_bear_atr",
    "sweep",
    "bos",
    "structure",
)
_INTRADAY_NAMES: tuple[str, ...] = ("tod_sin", "tod_cos")

#: Warm-up: SMA50 has its first value at index 49 (the longest look-back of the set;
#: MACD's signal starts at 33, ret_20 at 20, ATR14 at 14).
_WARMUP = 49


def feature_names(intraday: bool) -> list[str]:
    """Column names of :func:`compute_features`, in order (23, or 25 when intraday)."""
    return list(_BASE_NAMES + (_INTRADAY_NAMES if intraday else ()))


def warmup_bars() -> int:
    """Number of leading rows with a NaN; rows ``>= warmup_bars()`` are all finite."""
    return _WARMUP


def _log_return(c: npt.NDArray[np.float64], k: int) -> npt.NDArray[np.float64]:
    out = np.full(c.shape[0], np.nan)
    if c.shape[0] > k:
        out[k:] = np.log(c[k:] / c[:-k])
    return out


def _volume_ratio(v: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """``ln(v / SMA20(v))``, 0 where the volume or its mean is 0; NaN in the warm-up."""
    mean = sma(v, 20)
    out = np.full(v.shape[0], np.nan)
    ok = ~np.isnan(mean)
    pos = ok & (v > 0) & (mean > 0)
    out[ok] = 0.0
    out[pos] = np.log(v[pos] / mean[pos])
    return out


def _zone_feature(
    c: npt.NDArray[np.float64], zl: Any, zh: Any, a: npt.NDArray[np.float64], empty: float
) -> npt.NDArray[np.float64]:
    d = pa.zone_distance(c, zl, zh, a)
    d = np.clip(d, -ZONE_CLIP, ZONE_CLIP)
    return np.where(np.isnan(zl) & ~np.isnan(a), empty, d)


def _trend_block(bars: Bars, a: npt.NDArray[np.float64]) -> list[npt.NDArray[np.float64]]:
    """Returns, MA distances, RSI, MACD, ATR%, Bollinger, volume and range columns."""
    c = np.asarray(bars.close, dtype=np.float64)
    h = np.asarray(bars.high, dtype=np.float64)
    lo = np.asarray(bars.low, dtype=np.float64)
    v = np.asarray(bars.volume, dtype=np.float64)
    macd = ema(c, 12) - ema(c, 26)
    signal = ema(macd, 9)
    upper, middle, lower = bbands(c, 20, 2.0)
    width = upper - lower
    with np.errstate(invalid="ignore", divide="ignore"):
        bb_pos = np.where(width > 0, (c - lower) / width, 0.5)
    bb_pos = np.where(np.isnan(width), np.nan, bb_pos)
    return [
        _log_return(c, 1),
        _log_return(c, 5),
        _log_return(c, 20),
        (c - sma(c, 20)) / a,
        (c - sma(c, 50)) / a,
        (c - ema(c, 20)) / a,
        rsi(c, 14) / 100.0,
        macd / a,
        signal / a,
        (macd - signal) / a,
        a / c,
        bb_pos,
        width / middle,
        _volume_ratio(v),
        (h - lo) / a,
    ]


def _price_action_block(bars: Bars, a: npt.NDArray[np.float64]) -> list[npt.NDArray[np.float64]]:
    """Engulfing, FVG and order-block distances, sweep, break of structure, structure."""
    o = np.asarray(bars.open, dtype=np.float64)
    h = np.asarray(bars.high, dtype=np.float64)
    lo = np.asarray(bars.low, dtype=np.float64)
    c = np.asarray(bars.close, dtype=np.float64)
    fvg = pa.fair_value_gaps(h, lo)
    ob = pa.order_blocks(o, h, lo, c, a, strength=1.0, search=10)
    bos, structure = pa.structure_break(h, lo, c, k=3)
    return [
        pa.engulfing(o, h, lo, c),
        _zone_feature(c, fvg.bull_low, fvg.bull_high, a, ZONE_CLIP),
        _zone_feature(c, fvg.bear_low, fvg.bear_high, a, -ZONE_CLIP),
        _zone_feature(c, ob.bull_low, ob.bull_high, a, ZONE_CLIP),
        _zone_feature(c, ob.bear_low, ob.bear_high, a, -ZONE_CLIP),
        pa.liquidity_sweep(h, lo, c, lookback=20),
        bos,
        structure,
    ]


def compute_features(bars: Bars, intraday: bool) -> npt.NDArray[np.float64]:
    """The feature matrix of ``bars``.

    Args:
        bars: closed bars, oldest first (prices INR, ``minutes`` after IST midnight of
            each bar END, used only when ``intraday``).
        intraday: add the time-of-day columns.

    Returns:
        float64 array of shape ``(len(bars), len(feature_names(intraday)))``; rows before
        :func:`warmup_bars` contain NaN, later rows are finite. Row ``i`` depends only on
        bars ``0..i``.

    Raises:
        ValueError: non-finite or non-positive prices, or arrays of different lengths.
    """
    c = np.asarray(bars.close, dtype=np.float64)
    if c.size and not (np.isfinite(c).all() and (c > 0).all()):
        raise ValueError("compute_features: close prices must be finite and > 0")
    raw_atr = atr(bars.high, bars.low, c, 14)
    a = np.maximum(raw_atr, ATR_FLOOR_FRAC * c)  # NaN stays NaN in the warm-up
    cols = _trend_block(bars, a) + _price_action_block(bars, a)
    if intraday:
        t = np.asarray(bars.minutes, dtype=np.float64) - SESSION_OPEN_MIN
        ang = 2.0 * np.pi * t / SESSION_LENGTH_MIN
        cols += [np.sin(ang), np.cos(ang)]
    x = np.column_stack(cols) if c.size else np.empty((0, len(cols)))
    x[: min(_WARMUP, x.shape[0])] = np.nan  # uniform warm-up across columns
    return np.asarray(x, dtype=np.float64)


class Normalizer:
    """Per-column z-score from TRAINING rows only, clipped, as float32 for the model.

    ``transform(x) = clip((x - mean) / std, -clip, +clip)`` with ``std`` floored at
    ``std_floor`` (constant columns such as ``vol_ratio`` of an index map to 0). The
    statistics are stored with the model (:meth:`to_dict`, JSON-able) together with the
    feature names and :data:`FEATURE_SET_ID`, and checked on :meth:`from_dict`.
    """

    def __init__(
        self,
        names: list[str] | None = None,
        clip: float = 10.0,
        std_floor: float = 1e-8,
    ) -> None:
        self.names = list(names) if names is not None else None
        self.clip = float(clip)
        self.std_floor = float(std_floor)
        self.mean: npt.NDArray[np.float64] | None = None
        self.std: npt.NDArray[np.float64] | None = None
        self.n_rows = 0
        self.feature_set_id = FEATURE_SET_ID

    def fit(self, x: npt.NDArray[np.floating[Any]]) -> Normalizer:
        """Compute mean/std (population, ddof=0) over the rows of ``x`` without NaN.

        Raises:
            ValueError: ``x`` is not 2-D, its width differs from ``names``, or no row is
                finite.
        """
        arr = np.asarray(x, dtype=np.float64)
        if arr.ndim != 2:
            raise ValueError(f"Normalizer.fit: expected a 2-D array, got shape {arr.shape}")
        if self.names is not None and arr.shape[1] != len(self.names):
            raise ValueError(f"Normalizer.fit: {arr.shape[1]} columns, names has {len(self.names)}")
        rows = arr[np.isfinite(arr).all(axis=1)]
        if rows.shape[0] == 0:
            raise ValueError("Normalizer.fit: no finite row to fit on")
        self.mean = rows.mean(axis=0)
        self.std = np.maximum(rows.std(axis=0), self.std_floor)
        self.n_rows = int(rows.shape[0])
        return self

    def transform(self, x: npt.NDArray[np.floating[Any]]) -> npt.NDArray[np.float32]:
        """Normalised ``x`` as float32, same shape (NaN rows stay NaN).

        Raises:
            RuntimeError: called before :meth:`fit`.
            ValueError: the column count does not match the fitted statistics.
        """
        if self.mean is None or self.std is None:
            raise RuntimeError("Normalizer.transform called before fit")
        arr = np.asarray(x, dtype=np.float64)
        if arr.ndim != 2 or arr.shape[1] != self.mean.shape[0]:
            raise ValueError(
                f"Normalizer.transform: expected (n, {self.mean.shape[0]}), got {arr.shape}"
            )
        z = np.clip((arr - self.mean) / self.std, -self.clip, self.clip)
        return z.astype(np.float32)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able state: feature set id, names, mean, std, clip, floor, row count."""
        if self.mean is None or self.std is None:
            raise RuntimeError("Normalizer.to_dict called before fit")
        return {
            "feature_set_id": self.feature_set_id,
            "names": self.names,
            "mean": [float(v) for v in self.mean],
            "std": [float(v) for v in self.std],
            "clip": self.clip,
            "std_floor": self.std_floor,
            "n_rows": self.n_rows,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Normalizer:
        """Rebuild from :meth:`to_dict` output.

        Raises:
            ValueError: a different feature-set id, or lengths that do not match.
        """
        fs = d.get("feature_set_id")
        if fs != FEATURE_SET_ID:
            raise ValueError(
                f"normalizer was fitted on feature set {fs!r}; this code computes "
                f"{FEATURE_SET_ID!r}: retrain the model"
            )
        norm = cls(d.get("names"), clip=float(d["clip"]), std_floor=float(d["std_floor"]))
        norm.mean = np.asarray(d["mean"], dtype=np.float64)
        norm.std = np.asarray(d["std"], dtype=np.float64)
        norm.n_rows = int(d.get("n_rows", 0))
        if norm.mean.shape != norm.std.shape or (
            norm.names is not None and len(norm.names) != norm.mean.shape[0]
        ):
            raise ValueError("normalizer dict: names, mean and std lengths differ")
        return norm
