"""Ichimoku on real data against pandas rolling max/min (and the `ta` package when
installed), displacement, warm-up and causality."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mixbot.indicators import IchimokuResult, ichimoku


def midpoint(high: np.ndarray, low: np.ndarray, window: int) -> np.ndarray:
    return (
        pd.Series(high).rolling(window).max().to_numpy()
        + pd.Series(low).rolling(window).min().to_numpy()
    ) / 2


def shifted(x: np.ndarray, bars: int) -> np.ndarray:
    return pd.Series(x).shift(bars).to_numpy()


def leading_nans(a: np.ndarray) -> int:
    return int(np.argmax(~np.isnan(a)))


@pytest.mark.parametrize(
    "params", [(9, 26, 52, 26), (7, 22, 44, 22), (1, 2, 3, 0), (20, 60, 120, 30)]
)
def test_matches_pandas_rolling(
    ohlc: dict[str, np.ndarray], params: tuple[int, int, int, int]
) -> None:
    t, k, b, d = params
    h, lo, c = ohlc["high"], ohlc["low"], ohlc["close"]
    res = ichimoku(h, lo, c, tenkan=t, kijun=k, senkou_b=b, displacement=d)
    assert isinstance(res, IchimokuResult)
    tenkan = midpoint(h, lo, t)
    kijun = midpoint(h, lo, k)
    want = IchimokuResult(
        tenkan=tenkan,
        kijun=kijun,
        senkou_a=shifted((tenkan + kijun) / 2, d),
        senkou_b=shifted(midpoint(h, lo, b), d),
    )
    for name in IchimokuResult._fields:
        got_a, want_a = getattr(res, name), getattr(want, name)
        assert got_a.dtype == np.float64 and got_a.shape == c.shape
        np.testing.assert_array_equal(np.isnan(got_a), np.isnan(want_a), err_msg=name)
        np.testing.assert_allclose(got_a, want_a, rtol=1e-12, err_msg=name)
    # Documented warm-ups.
    assert leading_nans(res.tenkan) == t - 1
    assert leading_nans(res.kijun) == k - 1
    assert leading_nans(res.senkou_a) == max(t, k) - 1 + d
    assert leading_nans(res.senkou_b) == b - 1 + d


def test_default_warmups_and_plotting_alignment(reliance: dict[str, np.ndarray]) -> None:
    h, lo, c = reliance["high"], reliance["low"], reliance["close"]
    res = ichimoku(h, lo, c)
    assert [leading_nans(a) for a in res] == [8, 25, 51, 77]
    now = ichimoku(h, lo, c, displacement=0)
    i = 1000
    # The cloud under bar i was computed 26 bars earlier.
    assert res.senkou_a[i] == now.senkou_a[i - 26] == (res.tenkan[i - 26] + res.kijun[i - 26]) / 2
    hi, lw = h[i - 26 - 51 : i - 26 + 1], lo[i - 26 - 51 : i - 26 + 1]
    assert res.senkou_b[i] == (hi.max() + lw.min()) / 2


def test_agrees_with_ta_package(ohlc: dict[str, np.ndarray]) -> None:
    ta_trend = pytest.importorskip("ta.trend")
    h, lo, c = ohlc["high"], ohlc["low"], ohlc["close"]
    res = ichimoku(h, lo, c)
    ind = ta_trend.IchimokuIndicator(
        pd.Series(h), pd.Series(lo), window1=9, window2=26, window3=52, visual=False
    )
    np.testing.assert_allclose(res.tenkan[8:], ind.ichimoku_conversion_line().to_numpy()[8:])
    np.testing.assert_allclose(res.kijun[25:], ind.ichimoku_base_line().to_numpy()[25:])
    # `ta` returns the un-displaced spans (visual=False): ours are them shifted by 26.
    np.testing.assert_allclose(res.senkou_a[51:], ind.ichimoku_a().to_numpy()[25:-26])
    np.testing.assert_allclose(res.senkou_b[77:], ind.ichimoku_b().to_numpy()[51:-26])


def test_causality(ohlc: dict[str, np.ndarray]) -> None:
    h, lo, c = ohlc["high"], ohlc["low"], ohlc["close"]
    full = ichimoku(h, lo, c)
    for k in (1, 9, 26, 60, 78, 79, 1000, len(c) - 1):
        part = ichimoku(h[:k], lo[:k], c[:k])
        for name in IchimokuResult._fields:
            np.testing.assert_array_equal(
                getattr(part, name), getattr(full, name)[:k], err_msg=f"{name} k={k}"
            )


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"tenkan": 0}, "tenkan must be >= 1"),
        ({"kijun": -1}, "kijun must be >= 1"),
        ({"senkou_b": 1.5}, "senkou_b must be an integer"),
        ({"displacement": -1}, "displacement must be >= 0"),
    ],
)
def test_bad_parameters(kwargs: dict[str, float], match: str) -> None:
    x = np.linspace(100, 110, 30)
    with pytest.raises(ValueError, match=match):
        ichimoku(x + 1, x - 1, x, **kwargs)  # type: ignore[arg-type]


def test_bad_inputs() -> None:
    x = np.linspace(100, 110, 30)
    with pytest.raises(ValueError, match="same length"):
        ichimoku(x + 1, x - 1, x[:5])
    y = x.copy()
    y[7] = np.inf
    with pytest.raises(ValueError, match="high: non-finite value inf at index 7"):
        ichimoku(y, x - 1, x)
