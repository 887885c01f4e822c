"""Supertrend on real data against an independent implementation written from the
definition here (own Wilder ATR, final bands computed first, then the trend), plus
pandas-ta-classic when it is installed."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from indicator_refs import wilder_atr

from mixbot.indicators import SupertrendResult, supertrend


def reference_supertrend(
    high: np.ndarray, low: np.ndarray, close: np.ndarray, period: int, multiplier: float
) -> tuple[np.ndarray, np.ndarray]:
    """Straight from the definition, in two passes.

    1. final bands (they do not depend on the trend):
       fu[t] = bu[t] if bu[t] < fu[t-1] or close[t-1] > fu[t-1] else fu[t-1]
       fl[t] = bl[t] if bl[t] > fl[t-1] or close[t-1] < fl[t-1] else fl[t-1]
    2. trend: starts up at the first ATR bar; down -> up when close[t] > fu[t-1],
       up -> down when close[t] < fl[t-1]; line = fl when up, fu when down.
    """
    n = len(close)
    a = wilder_atr(high, low, close, period)
    hl2 = (high + low) / 2
    bu = hl2 + multiplier * a
    bl = hl2 - multiplier * a
    fu = np.full(n, np.nan)
    fl = np.full(n, np.nan)
    line = np.full(n, np.nan)
    direction = np.zeros(n, dtype=int)
    s = period
    if n <= s:
        return line, direction
    fu[s], fl[s] = bu[s], bl[s]
    for t in range(s + 1, n):
        fu[t] = bu[t] if (bu[t] < fu[t - 1] or close[t - 1] > fu[t - 1]) else fu[t - 1]
        fl[t] = bl[t] if (bl[t] > fl[t - 1] or close[t - 1] < fl[t - 1]) else fl[t - 1]
    direction[s] = 1
    for t in range(s + 1, n):
        d = direction[t - 1]
        if d == 1 and close[t] < fl[t - 1]:
            d = -1
        elif d == -1 and close[t] > fu[t - 1]:
            d = 1
        direction[t] = d
    line[s:] = np.where(direction[s:] == 1, fl[s:], fu[s:])
    return line, direction


def flips(direction: np.ndarray) -> int:
    d = direction[direction != 0]
    return int(np.count_nonzero(np.diff(d)))


@pytest.mark.parametrize(("period", "multiplier"), [(10, 3.0), (7, 2.0), (1, 1.5)])
def test_matches_reference(ohlc: dict[str, np.ndarray], period: int, multiplier: float) -> None:
    h, lo, c = ohlc["high"], ohlc["low"], ohlc["close"]
    got = supertrend(h, lo, c, period, multiplier)
    assert isinstance(got, SupertrendResult)
    assert got.line.dtype == np.float64 and got.direction.dtype == np.int8
    want_line, want_dir = reference_supertrend(h, lo, c, period, multiplier)
    # Warm-up: exactly `period` bars.
    assert np.isnan(got.line[:period]).all() and (got.direction[:period] == 0).all()
    assert not np.isnan(got.line[period:]).any()
    assert set(np.unique(got.direction[period:])) <= {-1, 1}
    np.testing.assert_array_equal(got.direction, want_dir)
    np.testing.assert_allclose(got.line[period:], want_line[period:], rtol=1e-10)
    n_flips = flips(got.direction)
    assert n_flips == flips(want_dir)
    assert n_flips > 50  # real data: the trend does change
    # The line is below the close in an uptrend and above it in a downtrend, except
    # rarely: a very wide bar (e.g. a gap opening) can flip the trend while its own
    # basic band lies beyond the close (happens once in BANKNIFTY 2019 H1 at 10/3.0).
    wrong = ((got.direction == 1) & (c < got.line)) | ((got.direction == -1) & (c > got.line))
    assert np.count_nonzero(wrong) <= max(2, len(c) // 10_000)


def test_causality(ohlc: dict[str, np.ndarray]) -> None:
    h, lo, c = ohlc["high"], ohlc["low"], ohlc["close"]
    full = supertrend(h, lo, c, 10, 3.0)
    for k in (1, 10, 11, 12, 250, len(c) // 3, len(c) - 1):
        part = supertrend(h[:k], lo[:k], c[:k], 10, 3.0)
        np.testing.assert_array_equal(part.line, full.line[:k], err_msg=f"k={k}")
        np.testing.assert_array_equal(part.direction, full.direction[:k], err_msg=f"k={k}")


def test_agrees_with_pandas_ta_classic(ohlc: dict[str, np.ndarray]) -> None:
    """pandas-ta(-classic) ratchets only the active band and uses an EWM-seeded ATR, so
    agreement is close but not exact; the flip rule (prior bar's band) is the same."""
    pta = pytest.importorskip("pandas_ta_classic")
    h, lo, c = ohlc["high"], ohlc["low"], ohlc["close"]
    got = supertrend(h, lo, c, 10, 3.0)
    other = pta.supertrend(pd.Series(h), pd.Series(lo), pd.Series(c), length=10, multiplier=3.0)
    other_dir = other.iloc[:, 1].to_numpy()
    s = slice(200, None)  # past both warm-ups and the ATR seeding difference
    assert (got.direction[s] == other_dir[s]).mean() > 0.995
    assert abs(flips(got.direction[s]) - flips(other_dir[s])) <= 0.01 * flips(other_dir[s]) + 2


def test_400k_bars_in_one_vectorised_pass(banknifty: dict[str, np.ndarray]) -> None:
    """Shape and finiteness on 400k bars (its speed: benchmarks/data_speed.py)."""
    reps = 400_000 // len(banknifty["close"]) + 1
    h, lo, c = (np.tile(banknifty[k], reps)[:400_000] for k in ("high", "low", "close"))
    res = supertrend(h, lo, c, 10, 3.0)
    assert res.line.shape == (400_000,)
    assert np.isfinite(res.line[200:]).all()


def test_short_series_is_all_warmup() -> None:
    x = np.linspace(100, 101, 10)
    res = supertrend(x + 1, x - 1, x, period=10)
    assert np.isnan(res.line).all() and (res.direction == 0).all()
    res = supertrend(x + 1, x - 1, x, period=9)
    assert res.direction.tolist() == [0] * 9 + [1]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"period": 0}, "period must be >= 1"),
        ({"multiplier": 0.0}, "multiplier"),
        ({"multiplier": float("nan")}, "multiplier"),
    ],
)
def test_bad_parameters(kwargs: dict[str, float], match: str) -> None:
    x = np.linspace(100, 110, 30)
    with pytest.raises(ValueError, match=match):
        supertrend(x + 1, x - 1, x, **kwargs)  # type: ignore[arg-type]


def test_bad_inputs() -> None:
    x = np.linspace(100, 110, 30)
    with pytest.raises(ValueError, match="same length"):
        supertrend(x + 1, x[:-1] - 1, x)
    y = x.copy()
    y[0] = np.nan  # no leading-NaN allowance for prices
    with pytest.raises(ValueError, match="close: non-finite value nan at index 0"):
        supertrend(x + 1, x - 1, y)
