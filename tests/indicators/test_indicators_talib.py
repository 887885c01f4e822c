"""TA-Lib wrappers: validation, and RSI/ATR/BBANDS/SMA/EMA on real data against
independent numpy/pandas computations written here."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from indicator_refs import wilder_atr

from mixbot.indicators import atr, bbands, ema, rsi, sma


def wilder_rsi(close: np.ndarray, period: int) -> np.ndarray:
    """Wilder's RSI: averages seeded with the simple mean of the first `period` changes."""
    n = len(close)
    out = np.full(n, np.nan)
    diff = np.diff(close)
    gain = np.where(diff > 0, diff, 0.0)
    loss = np.where(diff < 0, -diff, 0.0)
    if n <= period:
        return out
    avg_gain = gain[:period].mean()
    avg_loss = loss[:period].mean()

    def value(g: float, lo: float) -> float:
        if g + lo == 0:  # flat window: TA-Lib's convention is 0
            return 0.0
        if lo == 0:
            return 100.0
        return 100.0 - 100.0 / (1.0 + g / lo)

    out[period] = value(avg_gain, avg_loss)
    for i in range(period + 1, n):
        avg_gain = (avg_gain * (period - 1) + gain[i - 1]) / period
        avg_loss = (avg_loss * (period - 1) + loss[i - 1]) / period
        out[i] = value(avg_gain, avg_loss)
    return out


def warmup(a: np.ndarray) -> int:
    """Number of leading NaNs."""
    return int(np.argmax(~np.isnan(a))) if (~np.isnan(a)).any() else len(a)


@pytest.mark.parametrize("period", [2, 14, 30])
def test_rsi_matches_wilder(ohlc: dict[str, np.ndarray], period: int) -> None:
    close = ohlc["close"]
    got = rsi(close, period)
    want = wilder_rsi(close, period)
    assert warmup(got) == period
    assert np.isnan(want[:period]).all()
    np.testing.assert_allclose(got[period:], want[period:], rtol=0, atol=1e-8)
    assert np.nanmin(got) >= 0 and np.nanmax(got) <= 100


@pytest.mark.parametrize("period", [1, 14, 20])
def test_atr_matches_wilder(ohlc: dict[str, np.ndarray], period: int) -> None:
    h, lo, c = ohlc["high"], ohlc["low"], ohlc["close"]
    got = atr(h, lo, c, period)
    want = wilder_atr(h, lo, c, period)
    assert warmup(got) == period
    np.testing.assert_allclose(got[period:], want[period:], rtol=1e-10)


@pytest.mark.parametrize(("period", "dev"), [(20, 2.0), (5, 1.5)])
def test_bbands_population_std(ohlc: dict[str, np.ndarray], period: int, dev: float) -> None:
    close = ohlc["close"]
    upper, middle, lower = bbands(close, period, dev)
    s = pd.Series(close)
    mid = s.rolling(period).mean().to_numpy()
    std = s.rolling(period).std(ddof=0).to_numpy()
    for a in (upper, middle, lower):
        assert warmup(a) == period - 1
    k = period - 1
    scale = np.abs(close[k:])
    # TA-Lib's running sums leave ~1e-9 relative noise in the price level.
    np.testing.assert_allclose(middle[k:], mid[k:], rtol=0, atol=1e-9 * scale.max())
    np.testing.assert_allclose(upper[k:] - middle[k:], dev * std[k:], atol=1e-6 * scale.max())
    np.testing.assert_allclose(middle[k:] - lower[k:], dev * std[k:], atol=1e-6 * scale.max())
    # Population, not sample, deviation: the sample std would be sqrt(n/(n-1)) larger.
    sample = s.rolling(period).std(ddof=1).to_numpy()
    assert np.nanmax(np.abs(upper[k:] - middle[k:] - dev * sample[k:])) > 1e-3


def test_sma_ema(reliance: dict[str, np.ndarray]) -> None:
    close = reliance["close"]
    for period in (1, 5, 50):
        got = sma(close, period)
        want = pd.Series(close).rolling(period).mean().to_numpy()
        assert warmup(got) == period - 1
        np.testing.assert_allclose(got[period - 1 :], want[period - 1 :], rtol=1e-9)
        # EMA: seeded with the SMA of the first `period` values, alpha = 2 / (period + 1).
        alpha = 2.0 / (period + 1)
        e = np.full(len(close), np.nan)
        e[period - 1] = close[:period].mean()
        for i in range(period, len(close)):
            e[i] = e[i - 1] + alpha * (close[i] - e[i - 1])
        got_e = ema(close, period)
        assert warmup(got_e) == period - 1
        np.testing.assert_allclose(got_e[period - 1 :], e[period - 1 :], rtol=1e-10)


def test_causality(ohlc: dict[str, np.ndarray]) -> None:
    h, lo, c = ohlc["high"], ohlc["low"], ohlc["close"]
    full = {
        "rsi": rsi(c, 14),
        "atr": atr(h, lo, c, 14),
        "bb_upper": bbands(c, 20, 2.0)[0],
        "sma": sma(c, 20),
        "ema": ema(c, 20),
    }
    for k in (1, 15, 21, 500, len(c) // 2, len(c) - 1):
        part = {
            "rsi": rsi(c[:k], 14),
            "atr": atr(h[:k], lo[:k], c[:k], 14),
            "bb_upper": bbands(c[:k], 20, 2.0)[0],
            "sma": sma(c[:k], 20),
            "ema": ema(c[:k], 20),
        }
        for name, values in part.items():
            assert len(values) == k
            np.testing.assert_array_equal(values, full[name][:k], err_msg=f"{name} k={k}")


def test_accepts_series_lists_and_ints() -> None:
    prices = [10, 11, 12, 11, 13, 14]
    got = sma(pd.Series(prices), 2)
    assert got.dtype == np.float64 and got.flags.c_contiguous
    np.testing.assert_allclose(got[1:], [10.5, 11.5, 11.5, 12.0, 13.5])
    strided = np.arange(20, dtype=np.float32)[::2]  # non-contiguous float32
    np.testing.assert_allclose(sma(strided, 2)[1:], np.arange(1.0, 19.0, 2.0))


def test_leading_nan_allowed_for_chaining(reliance: dict[str, np.ndarray]) -> None:
    r = rsi(reliance["close"], 14)
    smoothed = sma(r, 3)
    assert warmup(smoothed) == 14 + 2
    np.testing.assert_allclose(smoothed[16:], pd.Series(r).rolling(3).mean().to_numpy()[16:])


def test_short_and_empty_inputs() -> None:
    assert rsi(np.array([1.0, 2.0, 3.0]), 14).shape == (3,)
    assert np.isnan(rsi(np.array([1.0, 2.0, 3.0]), 14)).all()
    assert sma(np.array([]), 3).shape == (0,)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda x: rsi(x, 0), "period must be >= 2"),
        (lambda x: rsi(x, 1), "period must be >= 2"),
        (lambda x: sma(x, 0), "period must be >= 1"),
        (lambda x: ema(x, -3), "period must be >= 1"),
        (lambda x: atr(x, x, x, 0), "period must be >= 1"),
        (lambda x: bbands(x, 1), "period must be >= 2"),
        (lambda x: sma(x, 2.5), "period must be an integer"),
        (lambda x: sma(x, True), "period must be an integer"),
        (lambda x: sma(x, 200_000), "TA-Lib's limit"),
        (lambda x: bbands(x, 5, -1.0), "dev must be"),
        (lambda x: atr(x, x[:-1], x, 14), "same length.*low=9"),
        (lambda x: sma(np.vstack([x, x]), 3), "1-D"),
        (lambda x: sma(np.where(np.arange(10) == 4, np.nan, x), 3), "index 4"),
        (lambda x: sma(np.where(np.arange(10) == 0, np.inf, x), 3), "index 0"),
        (lambda x: sma(["a", "b"], 3), "cannot convert"),
    ],
)
def test_bad_arguments_raise_value_error(call: object, match: str) -> None:
    x = np.linspace(100.0, 110.0, 10)
    with pytest.raises(ValueError, match=match):
        call(x)  # type: ignore[operator]
