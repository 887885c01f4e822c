"""Price-action indicators: hand-built bar sequences with known answers, causality on real data."""

from __future__ import annotations

import numpy as np
import pytest

from mixbot.indicators import atr
from mixbot.indicators import price_action as pa


def candles(spec: list[tuple[float, float]], wick: float = 0.1) -> tuple[np.ndarray, ...]:
    """(open, close) pairs -> open, high, low, close with a small wick on both ends."""
    o = np.array([s[0] for s in spec], dtype=np.float64)
    c = np.array([s[1] for s in spec], dtype=np.float64)
    return o, np.maximum(o, c) + wick, np.minimum(o, c) - wick, c


def test_engulfing_hand_built() -> None:
    o, h, lo, c = candles([(10, 10.2), (10, 10.2), (10, 9), (8.5, 10.5), (10.5, 11), (11.5, 10)])
    got = pa.engulfing(o, h, lo, c)
    # bar 2: the black body 10-9 does not cover the white 10-10.2 (equal opens, lower close
    # only); bar 3: white 8.5-10.5 engulfs the black 10-9; bar 5: black 11.5-10 engulfs
    # the white 10.5-11
    assert list(got) == [0, 0, 0, 1, 0, -1]
    # TA-Lib colours a doji (open == close) white, so a black body can engulf it
    o, h, lo, c = candles([(10, 10.2), (10, 10), (10.1, 9.5)])
    assert list(pa.engulfing(o, h, lo, c)) == [0, 0, -1]


def test_fair_value_gap_hand_built() -> None:
    high = np.array([10.0, 12.0, 14.0, 14.5, 13.0, 11.0, 10.5])
    low = np.array([9.0, 10.5, 11.0, 13.5, 12.0, 9.0, 9.5])
    z = pa.fair_value_gaps(high, low)
    # bar 2: low 11 > high[0] 10 -> bullish gap [10, 11]; bar 3: low 13.5 > high[1] 12 -> [12, 13.5]
    # bar 5: high 11 < low[3] 13.5 -> bearish gap [11, 13.5]; bar 6: 10.5 < low[4] 12 -> [10.5, 12]
    np.testing.assert_array_equal(z.bull_low, [np.nan, np.nan, 10, 12, 12, 12, 12])
    np.testing.assert_array_equal(z.bull_high, [np.nan, np.nan, 11, 13.5, 13.5, 13.5, 13.5])
    np.testing.assert_array_equal(z.bear_low, [np.nan] * 5 + [11, 10.5])
    np.testing.assert_array_equal(z.bear_high, [np.nan] * 5 + [13.5, 12])


def test_zone_distance() -> None:
    d = pa.zone_distance([9.0, 10.5, 13.0, 5.0], [10.0] * 3 + [np.nan], [12.0] * 4, [2.0] * 4)
    np.testing.assert_array_equal(d, [-0.5, 0.0, 0.5, np.nan])


def test_order_block_hand_built() -> None:
    # bars 0-4 small, bar 5 bearish (the block), bar 6 a strong white body of 3 (ATR 1)
    o, h, lo, c = candles([(10, 10.2)] * 5 + [(10.2, 9.8), (9.8, 12.8), (12.8, 12.9)])
    a = np.ones(len(c))
    z = pa.order_blocks(o, h, lo, c, a, strength=2.0, search=3)
    assert np.isnan(z.bull_low[:6]).all()
    np.testing.assert_allclose(z.bull_low[6:], 9.7)
    np.testing.assert_allclose(z.bull_high[6:], 10.3)
    assert np.isnan(z.bear_low).all()
    # a displacement too weak or a block too far back makes no block
    assert np.isnan(pa.order_blocks(o, h, lo, c, a, strength=3.5).bull_low).all()
    o2, h2, lo2, c2 = candles([(10.2, 9.8)] + [(10, 10.2)] * 4 + [(9.8, 12.8)])
    assert np.isnan(pa.order_blocks(o2, h2, lo2, c2, np.ones(6), 2.0, search=3).bull_low).all()
    z2 = pa.order_blocks(o2, h2, lo2, c2, np.ones(6), 2.0, search=5)
    np.testing.assert_allclose(z2.bull_low[5], 9.7)


def test_liquidity_sweep_hand_built() -> None:
    high = np.array([10.0, 11.0, 10.5, 11.5, 10.8, 10.6])
    low = np.array([9.0, 9.5, 9.2, 9.6, 8.5, 9.4])
    close = np.array([9.5, 10.5, 10.0, 10.8, 9.3, 10.0])
    got = pa.liquidity_sweep(high, low, close, lookback=3)
    # bar 3: high 11.5 > max(11, 10.5, 10) = 11 and closes 10.8 < 11 -> bearish sweep
    # bar 4: low 8.5 < min(9.5, 9.2, 9.6) = 9.2, close 9.3 > 9.2 -> bullish sweep
    assert list(got) == [0, 0, 0, -1, 1, 0]
    close[3] = 11.2  # a close above the old high is a breakout, not a sweep
    assert pa.liquidity_sweep(high, low, close, lookback=3)[3] == 0


def test_swings_are_confirmed_with_lag() -> None:
    high = np.array([1.0, 2, 3, 5, 3, 2, 1, 2, 3, 4, 6, 7])
    low = high - 0.5
    sh, sl = pa.swing_levels(high, low, k=2)
    # swing high at bar 3 (5.0) needs bars 4 and 5: known from bar 5 on, not before
    assert np.isnan(sh[:5]).all()
    np.testing.assert_array_equal(sh[5:], 5.0)
    # swing low at bar 6 (0.5), known at bar 8
    assert np.isnan(sl[:8]).all() and (sl[8:] == 0.5).all()
    ev, state = pa.structure_break(high, low, high - 0.1, k=2)
    # close 5.9 at bar 10 crosses above the swing high 5.0 (bar 9 closed at 3.9)
    assert list(np.flatnonzero(ev)) == [10] and ev[10] == 1
    assert list(state) == [0.0] * 10 + [1.0, 1.0]


@pytest.mark.parametrize("k", [50, 51, 777, 4000])
def test_causal_on_real_data(ohlc: dict[str, np.ndarray], k: int) -> None:
    o, h, lo, c = ohlc["open"], ohlc["high"], ohlc["low"], ohlc["close"]
    a = atr(h, lo, c, 14)

    def run(n: int) -> list[np.ndarray]:
        z1 = pa.fair_value_gaps(h[:n], lo[:n])
        z2 = pa.order_blocks(o[:n], h[:n], lo[:n], c[:n], a[:n])
        s = pa.swing_levels(h[:n], lo[:n], 3)
        return [
            pa.engulfing(o[:n], h[:n], lo[:n], c[:n]),
            pa.liquidity_sweep(h[:n], lo[:n], c[:n], 20),
            *pa.structure_break(h[:n], lo[:n], c[:n], 3),
            *s,
            z1.bull_low,
            z1.bull_high,
            z1.bear_low,
            z1.bear_high,
            z2.bull_low,
            z2.bull_high,
            z2.bear_low,
            z2.bear_high,
        ]

    full, part = run(len(c)), run(k)
    for f, p in zip(full, part, strict=True):
        np.testing.assert_array_equal(p, f[:k])
