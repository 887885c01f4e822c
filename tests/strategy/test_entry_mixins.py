"""Entry mixins on real data, checked against independent pandas/numpy versions of their rules.

Each mixin's signals (``compute`` + ``should_enter`` over every bar) must equal the signal
set of the documented rule computed here from scratch (Wilder RSI in numpy, Bollinger Bands
from pandas rolling mean/std with ddof=0, Ichimoku from rolling max/min). Bars where a
compared quantity lies within float noise of its threshold are left out of the comparison.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mixbot.feeds.series import prepare_series
from mixbot.indicators import supertrend
from mixbot.strategy.entry.rsi_bb import RSIBBEntryMixin, RSIBBVolumeEntryMixin
from mixbot.strategy.entry.rsi_ichimoku import RSIIchimokuEntryMixin
from mixbot.strategy.entry.rsi_supertrend import RSIVolumeSupertrendEntryMixin
from mixbot.strategy.mixin import Bars

TOL = 1e-6


def wilder_rsi(close: np.ndarray, period: int) -> np.ndarray:
    """Wilder RSI: averages seeded with the mean of the first ``period`` changes."""
    out = np.full(close.shape, np.nan)
    diff = np.diff(close)
    gain = np.where(diff > 0, diff, 0.0)
    loss = np.where(diff < 0, -diff, 0.0)
    if diff.size < period:
        return out
    ag = gain[:period].mean()
    al = loss[:period].mean()

    def value(g: float, lo: float) -> float:
        return 100.0 * g / (g + lo) if (g + lo) > 0 else 0.0

    out[period] = value(ag, al)
    for k in range(period, diff.size):
        ag = (ag * (period - 1) + gain[k]) / period
        al = (al * (period - 1) + loss[k]) / period
        out[k + 1] = value(ag, al)
    return out


def bollinger(close: np.ndarray, period: int, dev: float) -> tuple[np.ndarray, np.ndarray]:
    s = pd.Series(close)
    mid = s.rolling(period).mean()
    sd = s.rolling(period).std(ddof=0)
    return (mid + dev * sd).to_numpy(), (mid - dev * sd).to_numpy()


def near(a: np.ndarray, b: np.ndarray | float, scale: np.ndarray | float = 1.0) -> np.ndarray:
    """Bars where ``a`` and ``b`` are within float noise of each other."""
    return np.abs(a - b) <= TOL * np.maximum(np.abs(scale), 1.0)


def bars_of(series) -> Bars:  # type: ignore[no-untyped-def]
    return Bars(
        series.open, series.high, series.low, series.close, series.volume, series.minutes, 0
    )


def signals(mixin, bars: Bars) -> set[int]:  # type: ignore[no-untyped-def]
    mixin.compute(bars)
    return {i for i in range(len(bars)) if mixin.should_enter(bars, i)}


def assert_same(got: set[int], want: np.ndarray, ambiguous: np.ndarray) -> None:
    keep = ~ambiguous
    want_set = set(np.flatnonzero(want & keep).tolist())
    got_kept = {i for i in got if keep[i]}
    assert want_set, "the reference rule gives no signal: test data or params are wrong"
    assert got_kept == want_set, (
        f"mixin-only {sorted(got_kept - want_set)[:10]}, reference-only "
        f"{sorted(want_set - got_kept)[:10]}"
    )
    assert ambiguous.sum() < 0.01 * len(ambiguous)


@pytest.fixture(scope="module")
def reliance(data_dir: Path):  # type: ignore[no-untyped-def]
    return prepare_series(data_dir / "nse_daily/RELIANCE.csv", interval_minutes=1440)


@pytest.fixture(scope="module")
def banknifty(data_dir: Path):  # type: ignore[no-untyped-def]
    return prepare_series(
        data_dir / "nse_1min/BANKNIFTY_F1_2019H1.txt",
        interval_minutes=1,
        date_to="2019-02-28",
    )


def rsi_bb_reference(
    s, rsi_p: int, oversold: float, bb_p: int, dev: float
) -> tuple[np.ndarray, np.ndarray]:  # type: ignore[no-untyped-def]
    close = s.close
    r = wilder_rsi(close, rsi_p)
    _, lower = bollinger(close, bb_p, dev)
    with np.errstate(invalid="ignore"):
        want = (r < oversold) & (close < lower)
    ambiguous = near(r, oversold, 100.0) | near(close, lower, close)
    return want, ambiguous


@pytest.mark.parametrize(("oversold", "dev"), [(30.0, 2.0), (35.0, 1.5), (40.0, 2.5)])
def test_rsi_bb_entry_reliance_daily(reliance, oversold: float, dev: float) -> None:  # type: ignore[no-untyped-def]
    m = RSIBBEntryMixin({"e_rsi_oversold": oversold, "e_bb_dev": dev})
    got = signals(m, bars_of(reliance))
    want, amb = rsi_bb_reference(reliance, 14, oversold, 20, dev)
    assert_same(got, want, amb)
    assert min(got) >= m.warmup() - 1


def test_rsi_bb_entry_banknifty_1min(banknifty) -> None:  # type: ignore[no-untyped-def]
    m = RSIBBEntryMixin({"e_rsi_oversold": 25.0, "e_bb_dev": 2.5})
    got = signals(m, bars_of(banknifty))
    want, amb = rsi_bb_reference(banknifty, 14, 25.0, 20, 2.5)
    assert_same(got, want, amb)
    assert len(got) > 20


@pytest.mark.parametrize(("oversold", "ratio", "vol_p"), [(40.0, 1.2, 20), (35.0, 1.5, 10)])
def test_rsi_bb_volume_entry_reliance_daily(reliance, oversold, ratio, vol_p) -> None:  # type: ignore[no-untyped-def]
    m = RSIBBVolumeEntryMixin(
        {"e_rsi_oversold": oversold, "e_min_volume_ratio": ratio, "e_vol_ma_period": vol_p}
    )
    got = signals(m, bars_of(reliance))
    want, amb = rsi_bb_reference(reliance, 14, oversold, 20, 2.0)
    vol = reliance.volume
    avg = pd.Series(vol).rolling(vol_p).mean().to_numpy()
    with np.errstate(invalid="ignore"):
        want &= (avg > 0) & (vol > ratio * avg)
    amb |= near(vol, ratio * avg, vol)
    assert_same(got, want, amb)
    # the volume filter removes some RSI+BB signals on this data
    plain = signals(RSIBBEntryMixin({"e_rsi_oversold": oversold}), bars_of(reliance))
    assert got < plain


def ichimoku_reference(high, low, tenkan: int, kijun: int, senkou: int, disp: int):  # type: ignore[no-untyped-def]
    h, lo = pd.Series(high), pd.Series(low)

    def mid(n: int) -> pd.Series:
        return (h.rolling(n).max() + lo.rolling(n).min()) / 2.0

    t, k = mid(tenkan), mid(kijun)
    span_a = ((t + k) / 2.0).shift(disp)
    span_b = mid(senkou).shift(disp)
    return t.to_numpy(), k.to_numpy(), span_a.to_numpy(), span_b.to_numpy()


@pytest.mark.parametrize(
    "params",
    [
        {},
        {
            "e_tenkan": 7,
            "e_kijun": 22,
            "e_senkou": 44,
            "e_displacement": 22,
            "e_rsi_overbought": 65,
        },
    ],
)
def test_rsi_ichimoku_entry_reliance_daily(reliance, params) -> None:  # type: ignore[no-untyped-def]
    m = RSIIchimokuEntryMixin(params)
    p = m.p
    got = signals(m, bars_of(reliance))
    t, k, a, b = ichimoku_reference(
        reliance.high, reliance.low, p.e_tenkan, p.e_kijun, p.e_senkou, p.e_displacement
    )
    close = reliance.close
    r = wilder_rsi(close, p.e_rsi_period)
    t0, k0 = np.roll(t, 1), np.roll(k, 1)
    t0[0] = k0[0] = np.nan
    top = np.maximum(a, b)
    with np.errstate(invalid="ignore"):
        want = (t > k) & (t0 <= k0) & (close > top) & (r < p.e_rsi_overbought)
    # midpoints of rolling extremes are exact in both versions: only RSI needs a tolerance
    amb = near(r, p.e_rsi_overbought, 100.0)
    assert_same(got, want, amb)
    # the cloud at bar i uses data up to i - displacement only: truncating the data after
    # a signal bar does not change that bar's signal
    last = max(got)
    cut = reliance.close.shape[0] - 1 - last
    assert cut >= 0
    short = Bars(
        *(x[: last + 1] for x in (reliance.open, reliance.high, reliance.low, close)),
        reliance.volume[: last + 1],
        reliance.minutes[: last + 1],
        0,
    )
    m2 = RSIIchimokuEntryMixin(params)
    m2.compute(short)
    assert m2.should_enter(short, last)


@pytest.mark.parametrize(("ratio", "ob"), [(1.0, 70.0), (0.0, 65.0), (1.5, 75.0)])
def test_rsi_volume_supertrend_entry_reliance_daily(reliance, ratio, ob) -> None:  # type: ignore[no-untyped-def]
    m = RSIVolumeSupertrendEntryMixin({"e_min_volume_ratio": ratio, "e_rsi_overbought": ob})
    got = signals(m, bars_of(reliance))
    st = supertrend(reliance.high, reliance.low, reliance.close, 10, 3.0)
    d = st.direction.astype(int)
    prev = np.concatenate([[0], d[:-1]])
    flip = (d == 1) & (prev == -1)
    r = wilder_rsi(reliance.close, 14)
    vol = reliance.volume
    avg = pd.Series(vol).rolling(20).mean().to_numpy()
    with np.errstate(invalid="ignore"):
        want = flip & (r < ob)
        if ratio > 0:
            want &= (avg > 0) & (vol > ratio * avg)
    amb = near(r, ob, 100.0)
    if ratio > 0:
        amb |= near(vol, ratio * avg, vol)
    assert_same(got, want, amb)
    assert got <= set(np.flatnonzero(flip).tolist())
