"""Feature set fs1 on real data: causality, warm-up, independent checks, and the Normalizer."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mixbot.feeds.series import prepare_series
from mixbot.ml import features as fm
from mixbot.ml.features import (
    FEATURE_SET_ID,
    Normalizer,
    compute_features,
    feature_names,
    warmup_bars,
)
from mixbot.strategy.mixin import Bars


def bars_of(s) -> Bars:  # type: ignore[no-untyped-def]
    return Bars(s.open, s.high, s.low, s.close, s.volume, s.minutes, 0)


def head(b: Bars, k: int) -> Bars:
    return Bars(
        b.open[:k], b.high[:k], b.low[:k], b.close[:k], b.volume[:k], b.minutes[:k], b.offset
    )


@pytest.fixture(scope="module")
def daily(data_dir: Path) -> Bars:
    return bars_of(prepare_series(data_dir / "nse_daily/RELIANCE.csv", interval_minutes=1440))


@pytest.fixture(scope="module")
def minute(data_dir: Path) -> Bars:
    s = prepare_series(data_dir / "nse_1min/BANKNIFTY_F1_2019H1.txt", interval_minutes=1)
    return bars_of(s)


@pytest.fixture(scope="module", params=["daily", "minute"])
def case(request: pytest.FixtureRequest) -> tuple[Bars, bool]:
    b = request.getfixturevalue(request.param)
    return b, request.param == "minute"


def col(x: np.ndarray, name: str, intraday: bool) -> np.ndarray:
    return x[:, feature_names(intraday).index(name)]


def test_names() -> None:
    assert FEATURE_SET_ID == "fs1"
    daily_names, intra_names = feature_names(False), feature_names(True)
    assert 20 <= len(daily_names) <= 26 and len(intra_names) == len(daily_names) + 2
    assert intra_names[: len(daily_names)] == daily_names
    assert intra_names[-2:] == ["tod_sin", "tod_cos"]
    assert len(set(intra_names)) == len(intra_names)


def test_shape_warmup_and_finite(case: tuple[Bars, bool]) -> None:
    b, intraday = case
    x = compute_features(b, intraday)
    w = warmup_bars()
    assert x.dtype == np.float64 and x.shape == (len(b), len(feature_names(intraday)))
    assert np.isfinite(x[w:]).all()
    assert np.isnan(x[:w]).any(axis=1).all()
    # every column actually varies after the warm-up (no dead feature on real data)
    assert (x[w:].std(axis=0) > 0).all()


@pytest.mark.parametrize("frac", [0.0, 0.003, 0.01, 0.2, 0.5, 0.77, 1.0])
def test_causal(case: tuple[Bars, bool], frac: float) -> None:
    """Features of bars[:k] equal the full run's rows < k (future bars change nothing)."""
    b, intraday = case
    full = compute_features(b, intraday)
    k = max(warmup_bars() - 1, int(frac * len(b)))
    part = compute_features(head(b, k), intraday)
    assert part.shape == (k, full.shape[1])
    np.testing.assert_allclose(part, full[:k], rtol=0, atol=1e-12)


def test_independent_columns(case: tuple[Bars, bool]) -> None:
    b, intraday = case
    x = compute_features(b, intraday)
    w = warmup_bars()
    c = pd.Series(b.close)
    for k in (1, 5, 20):
        want = np.log(c / c.shift(k)).to_numpy()
        np.testing.assert_allclose(col(x, f"ret_{k}", intraday)[w:], want[w:], atol=1e-12)
    mid = c.rolling(20).mean()
    sd = c.rolling(20).std(ddof=0)
    bb_pos = ((c - (mid - 2 * sd)) / (4 * sd)).to_numpy()
    ok = (sd.to_numpy() > 1e-6 * c.to_numpy())[w:]
    np.testing.assert_allclose(col(x, "bb_pos", intraday)[w:][ok], bb_pos[w:][ok], atol=1e-6)
    np.testing.assert_allclose(
        col(x, "bb_width", intraday)[w:], (4 * sd / mid).to_numpy()[w:], atol=1e-8
    )
    rng = col(x, "range_atr", intraday) * col(x, "atr_pct", intraday) * b.close
    np.testing.assert_allclose(rng[w:], (b.high - b.low)[w:], rtol=1e-9, atol=1e-9)
    v = pd.Series(b.volume)
    vr = np.log(v / v.rolling(20).mean()).to_numpy()
    vpos = (b.volume > 0)[w:]
    np.testing.assert_allclose(col(x, "vol_ratio", intraday)[w:][vpos], vr[w:][vpos], atol=1e-8)
    if intraday:
        t = (b.minutes - 555) / 375 * 2 * np.pi
        np.testing.assert_allclose(col(x, "tod_sin", True)[w:], np.sin(t)[w:], atol=1e-12)
        np.testing.assert_allclose(col(x, "tod_cos", True)[w:], np.cos(t)[w:], atol=1e-12)
        # the first bar of a session ends at 09:16: one minute after the open
        first = np.flatnonzero(b.minutes == 556)
        assert first.size > 100
    rsi = col(x, "rsi14", intraday)[w:]
    assert rsi.min() >= 0 and rsi.max() <= 1
    for name in ("engulf", "sweep", "bos", "structure"):
        assert set(np.unique(col(x, name, intraday)[w:])) <= {-1.0, 0.0, 1.0}
    for name in ("fvg_bull_atr", "fvg_bear_atr", "ob_bull_atr", "ob_bear_atr"):
        assert np.abs(col(x, name, intraday)[w:]).max() <= fm.ZONE_CLIP


def test_zero_volume_gives_zero_volume_feature(daily: Bars) -> None:
    """Indices carry no volume: the volume column is 0, the rest is unchanged and finite."""
    b = replace(daily, volume=np.zeros_like(daily.volume))
    x = compute_features(b, False)
    w = warmup_bars()
    j = feature_names(False).index("vol_ratio")
    assert (x[w:, j] == 0).all()
    ref = compute_features(daily, False)
    others = [i for i in range(x.shape[1]) if i != j]
    np.testing.assert_array_equal(x[w:, others], ref[w:, others])


def test_flat_bars_stay_finite() -> None:
    """Placeholder bars with O=H=L=C (ATR 0) must not produce inf/NaN after the warm-up."""
    n = 120
    c = np.full(n, 250.0)
    c[60:] = 251.0
    b = Bars(c, c.copy(), c.copy(), c, np.zeros(n), np.full(n, 930, dtype=np.int64), 0)
    x = compute_features(b, False)
    w = warmup_bars()
    assert np.isfinite(x[w:]).all()
    # no order block and no bearish gap ever forms: the documented fill values
    for name, fill in (("fvg_bear_atr", -10), ("ob_bull_atr", 10), ("ob_bear_atr", -10)):
        assert (col(x, name, False)[w:] == fill).all(), name
    # the step makes one bullish gap at bar 60 (low 251 > high[58] 250); the close sits on
    # its top edge from then on (distance 0); before it, the fill value
    fvg = col(x, "fvg_bull_atr", False)
    assert (fvg[w:60] == 10).all() and (fvg[60:] == 0).all()
    assert (col(x, "vol_ratio", False)[w:] == 0).all()
    assert (col(x, "bb_pos", False)[w:60] == 0.5).all()  # bands of zero width


def test_short_input() -> None:
    for n in (0, 1, 10, warmup_bars()):
        c = np.linspace(100, 101, n)
        b = Bars(c, c + 1, c - 1, c, np.ones(n), np.full(n, 600, dtype=np.int64), 0)
        x = compute_features(b, True)
        assert x.shape == (n, len(feature_names(True)))
        assert np.isnan(x).any(axis=1).all()


def test_bad_prices() -> None:
    c = np.linspace(100, 110, 80)
    c[40] = 0.0
    b = Bars(c, c, c, c, np.ones(80), np.zeros(80, dtype=np.int64), 0)
    with pytest.raises(ValueError, match="close"):
        compute_features(b, False)


def test_normalizer_uses_train_rows_only(minute: Bars) -> None:
    x = compute_features(minute, True)
    split = len(x) // 2
    train, test = x[:split], x[split:]
    norm = Normalizer(feature_names(True)).fit(train)
    # independent statistics: finite training rows, population std
    rows = train[~np.isnan(train).any(axis=1)]
    mean = rows.sum(axis=0) / len(rows)
    std = np.sqrt(((rows - mean) ** 2).sum(axis=0) / len(rows))
    assert norm.n_rows == len(rows) == split - warmup_bars()
    np.testing.assert_allclose(norm.mean, mean, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(norm.std, std, rtol=1e-10, atol=1e-12)
    z = norm.transform(test)
    assert z.dtype == np.float32 and z.shape == test.shape
    want = np.clip((test - mean) / std, -10, 10).astype(np.float32)
    np.testing.assert_allclose(z, want, rtol=1e-6, atol=1e-6)
    # fitting on everything gives different statistics: the test half was not used above
    full = Normalizer().fit(x)
    assert not np.allclose(full.mean, norm.mean)
    assert np.abs(z).max() <= 10


def test_normalizer_round_trip_and_guards(daily: Bars) -> None:
    x = compute_features(daily, False)
    norm = Normalizer(feature_names(False), clip=5.0).fit(x[:3000])
    d = json.loads(json.dumps(norm.to_dict()))
    assert d["feature_set_id"] == FEATURE_SET_ID and d["names"] == feature_names(False)
    back = Normalizer.from_dict(d)
    np.testing.assert_array_equal(back.transform(x), norm.transform(x))
    assert np.nanmax(np.abs(back.transform(x))) <= 5.0
    assert np.isnan(back.transform(x[:5])).all()  # warm-up rows stay NaN
    with pytest.raises(ValueError, match="feature set"):
        Normalizer.from_dict({**d, "feature_set_id": "fs0"})
    with pytest.raises(ValueError, match="lengths"):
        Normalizer.from_dict({**d, "std": d["std"][:-1]})
    with pytest.raises(RuntimeError):
        Normalizer().transform(x)
    with pytest.raises(ValueError, match="columns"):
        Normalizer(["a"]).fit(x)
    with pytest.raises(ValueError, match="finite"):
        Normalizer().fit(np.full((4, 3), np.nan))
    with pytest.raises(ValueError):
        norm.transform(x[:, :3])


def test_normalizer_constant_column() -> None:
    x = np.column_stack([np.arange(10.0), np.full(10, 3.0)])
    z = Normalizer(std_floor=1e-8).fit(x).transform(x)
    assert np.isfinite(z).all() and (z[:, 1] == 0).all()


def seeded_ema(x: np.ndarray, period: int) -> np.ndarray:
    """EMA seeded with the mean of the first ``period`` finite values (TA-Lib's convention)."""
    out = np.full(len(x), np.nan)
    start = int(np.argmax(np.isfinite(x)))
    alpha = 2.0 / (period + 1)
    first = start + period - 1
    e = x[start : first + 1].mean()
    out[first] = e
    for i in range(first + 1, len(x)):
        e += alpha * (x[i] - e)
        out[i] = e
    return out


def test_trend_columns_independent(daily: Bars) -> None:
    """MA distances and MACD in ATR units from a Wilder ATR and EMAs written here."""
    x = compute_features(daily, False)
    w = warmup_bars()
    c, h, lo = daily.close, daily.high, daily.low
    prev = c[:-1]
    tr = np.maximum.reduce([h[1:] - lo[1:], np.abs(h[1:] - prev), np.abs(lo[1:] - prev)])
    a = np.full(len(c), np.nan)
    a[14] = tr[:14].mean()
    for k in range(14, len(tr)):
        a[k + 1] = (a[k] * 13 + tr[k]) / 14
    np.testing.assert_allclose(col(x, "atr_pct", False)[w:], (a / c)[w:], rtol=1e-9)
    s = pd.Series(c)
    for name, ma in (
        ("sma20_atr", s.rolling(20).mean().to_numpy()),
        ("sma50_atr", s.rolling(50).mean().to_numpy()),
        ("ema20_atr", seeded_ema(c, 20)),
    ):
        np.testing.assert_allclose(col(x, name, False)[w:], ((c - ma) / a)[w:], atol=1e-7)
    line = seeded_ema(c, 12) - seeded_ema(c, 26)
    signal = seeded_ema(line, 9)
    np.testing.assert_allclose(col(x, "macd_atr", False)[w:], (line / a)[w:], atol=1e-8)
    np.testing.assert_allclose(col(x, "macd_signal_atr", False)[w:], (signal / a)[w:], atol=1e-8)
    np.testing.assert_allclose(
        col(x, "macd_hist_atr", False)[w:], ((line - signal) / a)[w:], atol=1e-8
    )


def test_zone_columns_from_price_action(minute: Bars) -> None:
    """The zone columns are the indicator zones' clipped ATR distances, filled before the first."""
    from mixbot.indicators import atr, price_action

    b = minute
    x = compute_features(b, True)
    w = warmup_bars()
    a = np.maximum(atr(b.high, b.low, b.close, 14), 1e-6 * b.close)
    z = price_action.fair_value_gaps(b.high, b.low)
    top = z.bull_high
    want = np.where(
        b.close > top, b.close - top, np.where(b.close < z.bull_low, b.close - z.bull_low, 0)
    )
    want = np.clip(want / a, -10, 10)
    np.testing.assert_allclose(col(x, "fvg_bull_atr", True)[w:], want[w:], atol=1e-12)
    # inside the gap the distance is exactly 0, and that happens on real data
    assert (col(x, "fvg_bull_atr", True)[w:] == 0).mean() > 0.01
