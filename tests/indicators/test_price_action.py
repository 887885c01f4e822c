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


# --- independent per-bar implementations of each documented rule, run on real data ---


def ref_engulfing(o: np.ndarray, c: np.ndarray) -> np.ndarray:
    """TA-Lib's CDLENGULFING rule (colour: white when close >= open), sign only."""
    out = np.zeros(len(c))
    for i in range(2, len(c)):  # TA-Lib's lookback is 2
        white, prev_white = c[i] >= o[i], c[i - 1] >= o[i - 1]
        if white and not prev_white:
            if (c[i] >= o[i - 1] and o[i] < c[i - 1]) or (c[i] > o[i - 1] and o[i] <= c[i - 1]):
                out[i] = 1
        elif not white and prev_white:
            if (o[i] >= c[i - 1] and c[i] < o[i - 1]) or (o[i] > c[i - 1] and c[i] <= o[i - 1]):
                out[i] = -1
    return out


def ref_fvg(h: np.ndarray, lo: np.ndarray) -> list[np.ndarray]:
    n = len(h)
    out = [np.full(n, np.nan) for _ in range(4)]
    bull: tuple[float, float] = (np.nan, np.nan)
    bear: tuple[float, float] = (np.nan, np.nan)
    for j in range(n):
        if j >= 2 and lo[j] > h[j - 2]:
            bull = (h[j - 2], lo[j])
        if j >= 2 and h[j] < lo[j - 2]:
            bear = (h[j], lo[j - 2])
        out[0][j], out[1][j], out[2][j], out[3][j] = *bull, *bear
    return out


def ref_order_blocks(
    o: np.ndarray,
    h: np.ndarray,
    lo: np.ndarray,
    c: np.ndarray,
    a: np.ndarray,
    strength: float,
    search: int,
) -> list[np.ndarray]:
    n = len(c)
    out = [np.full(n, np.nan) for _ in range(4)]
    bull: tuple[float, float] = (np.nan, np.nan)
    bear: tuple[float, float] = (np.nan, np.nan)
    for j in range(n):
        if np.isfinite(a[j]) and c[j] - o[j] >= strength * a[j]:
            for b in range(j - 1, max(j - search, 0) - 1, -1):
                if c[b] < o[b]:
                    bull = (lo[b], h[b])
                    break
        if np.isfinite(a[j]) and o[j] - c[j] >= strength * a[j]:
            for b in range(j - 1, max(j - search, 0) - 1, -1):
                if c[b] > o[b]:
                    bear = (lo[b], h[b])
                    break
        out[0][j], out[1][j], out[2][j], out[3][j] = *bull, *bear
    return out


def ref_sweep(h: np.ndarray, lo: np.ndarray, c: np.ndarray, lookback: int) -> np.ndarray:
    out = np.zeros(len(c))
    for i in range(lookback, len(c)):
        top, bottom = h[i - lookback : i].max(), lo[i - lookback : i].min()
        out[i] = float(lo[i] < bottom < c[i]) - float(h[i] > top > c[i])
    return out


def ref_swings(h: np.ndarray, lo: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    n = len(h)
    sh, sl = np.full(n, np.nan), np.full(n, np.nan)
    last_h = last_l = np.nan
    for i in range(n):
        j = i - k  # the candidate whose right-hand side has just closed
        if j - k >= 0:
            if h[j] > h[j - k : j].max() and h[j] >= h[j + 1 : i + 1].max():
                last_h = h[j]
            if lo[j] < lo[j - k : j].min() and lo[j] <= lo[j + 1 : i + 1].min():
                last_l = lo[j]
        sh[i], sl[i] = last_h, last_l
    return sh, sl


def ref_bos(c: np.ndarray, sh: np.ndarray, sl: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ev, state = np.zeros(len(c)), np.zeros(len(c))
    s = 0.0
    for i in range(1, len(c)):
        if np.isfinite(sh[i]) and c[i] > sh[i] and c[i - 1] <= sh[i]:
            ev[i] = 1.0
        elif np.isfinite(sl[i]) and c[i] < sl[i] and c[i - 1] >= sl[i]:
            ev[i] = -1.0
        s = ev[i] if ev[i] else s
        state[i] = s
    return ev, state


N_REAL = 20_000  # bars of each real series compared against the loops (keeps the test fast)


@pytest.fixture(scope="module")
def real(ohlc: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    d = {k: v[:N_REAL] for k, v in ohlc.items()}
    d["atr"] = atr(d["high"], d["low"], d["close"], 14)
    return d


def test_engulfing_matches_rule(real: dict[str, np.ndarray]) -> None:
    got = pa.engulfing(real["open"], real["high"], real["low"], real["close"])
    want = ref_engulfing(real["open"], real["close"])
    np.testing.assert_array_equal(got, want)
    assert (got == 1).sum() > 50 and (got == -1).sum() > 50


def test_fvg_matches_rule(real: dict[str, np.ndarray]) -> None:
    z = pa.fair_value_gaps(real["high"], real["low"])
    want = ref_fvg(real["high"], real["low"])
    for got, w in zip((z.bull_low, z.bull_high, z.bear_low, z.bear_high), want, strict=True):
        np.testing.assert_array_equal(got, w)
    assert len(np.unique(z.bull_low[~np.isnan(z.bull_low)])) > 50
    assert (z.bull_high[2:] > z.bull_low[2:])[~np.isnan(z.bull_low[2:])].all()


@pytest.mark.parametrize(("strength", "search"), [(1.0, 10), (0.5, 3), (2.0, 1)])
def test_order_blocks_match_rule(real: dict[str, np.ndarray], strength: float, search: int) -> None:
    r = real
    z = pa.order_blocks(r["open"], r["high"], r["low"], r["close"], r["atr"], strength, search)
    want = ref_order_blocks(r["open"], r["high"], r["low"], r["close"], r["atr"], strength, search)
    for got, w in zip((z.bull_low, z.bull_high, z.bear_low, z.bear_high), want, strict=True):
        np.testing.assert_array_equal(got, w)
    assert len(np.unique(z.bull_low[~np.isnan(z.bull_low)])) > 3
    assert len(np.unique(z.bear_low[~np.isnan(z.bear_low)])) > 3


@pytest.mark.parametrize("lookback", [1, 20])
def test_sweep_matches_rule(real: dict[str, np.ndarray], lookback: int) -> None:
    got = pa.liquidity_sweep(real["high"], real["low"], real["close"], lookback)
    np.testing.assert_array_equal(
        got, ref_sweep(real["high"], real["low"], real["close"], lookback)
    )
    assert (got == 1).sum() > 20 and (got == -1).sum() > 20


@pytest.mark.parametrize("k", [1, 3, 5])
def test_swings_and_bos_match_rule(real: dict[str, np.ndarray], k: int) -> None:
    sh, sl = pa.swing_levels(real["high"], real["low"], k)
    want_h, want_l = ref_swings(real["high"], real["low"], k)
    np.testing.assert_array_equal(sh, want_h)
    np.testing.assert_array_equal(sl, want_l)
    ev, state = pa.structure_break(real["high"], real["low"], real["close"], k)
    want_ev, want_state = ref_bos(real["close"], want_h, want_l)
    np.testing.assert_array_equal(ev, want_ev)
    np.testing.assert_array_equal(state, want_state)
    assert (ev == 1).sum() > 20 and (ev == -1).sum() > 20


def test_argument_checks() -> None:
    x = np.linspace(1, 2, 30)
    with pytest.raises(ValueError, match="same length"):
        pa.fair_value_gaps(x, x[:-1])
    with pytest.raises(ValueError, match="lookback"):
        pa.liquidity_sweep(x, x, x, lookback=0)
    with pytest.raises(ValueError, match="k must"):
        pa.swing_levels(x, x, k=0)
    with pytest.raises(ValueError, match="strength"):
        pa.order_blocks(x, x, x, x, x, strength=0.0)
    with pytest.raises(ValueError, match="search"):
        pa.order_blocks(x, x, x, x, x, search=0)
    bad = x.copy()
    bad[5] = np.nan
    with pytest.raises(ValueError, match="non-finite"):
        pa.engulfing(x, bad, x, x)


def test_short_inputs() -> None:
    for n in (0, 1, 2, 5):
        x = np.ones(n)  # flat: no pattern at all, whatever the length
        assert pa.engulfing(x, x, x, x).shape == (n,)
        assert pa.liquidity_sweep(x, x, x, 20).shape == (n,)
        assert np.isnan(pa.swing_levels(x, x, 3)[0]).all()
        assert (pa.structure_break(x, x, x, 3)[1] == 0).all()
        assert np.isnan(pa.fair_value_gaps(x, x).bull_low).all()
        assert np.isnan(pa.order_blocks(x, x, x, x, x).bear_high).all()
