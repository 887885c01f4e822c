"""Triple-barrier labels: hand-built cases, and real data against a per-bar loop written here."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mixbot.feeds.series import prepare_series
from mixbot.indicators import atr
from mixbot.ml.labels import BUY, CLASS_NAMES, HOLD, SELL, UNDEFINED, triple_barrier


def reference_labels(
    high: np.ndarray,
    low: np.ndarray,
    close: np.ndarray,
    a: np.ndarray,
    sl: float,
    tp: float,
    horizon: int,
) -> np.ndarray:
    """Straightforward per-bar walk: each side's first event decides that side."""
    n = len(close)
    out = np.full(n, -1, dtype=np.int8)
    for i in range(n - horizon):
        if not (np.isfinite(a[i]) and a[i] > 0):
            continue
        long_win = short_win = None  # bar offset of the winning take-profit
        long_done = short_done = False
        for h in range(1, horizon + 1):
            hi, lo = high[i + h], low[i + h]
            if not long_done:
                if lo <= close[i] - sl * a[i]:  # the stop first, even if tp also touched
                    long_done = True
                elif hi >= close[i] + tp * a[i]:
                    long_win, long_done = h, True
            if not short_done:
                if hi >= close[i] + sl * a[i]:
                    short_done = True
                elif lo <= close[i] - tp * a[i]:
                    short_win, short_done = h, True
            if long_done and short_done:
                break
        if long_win is not None and (short_win is None or long_win < short_win):
            out[i] = BUY
        elif short_win is not None and (long_win is None or short_win < long_win):
            out[i] = SELL
        else:
            out[i] = HOLD
    return out


def test_constants() -> None:
    assert (SELL, HOLD, BUY) == (0, 1, 2)
    assert CLASS_NAMES[SELL] == "SELL" and CLASS_NAMES[HOLD] == "HOLD" and CLASS_NAMES[BUY] == "BUY"
    assert UNDEFINED == -1


def flat(n: int, price: float = 100.0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    c = np.full(n, price)
    return c.copy(), c.copy(), c, np.ones(n)


def test_take_profit_before_stop_is_buy() -> None:
    h, lo, c, a = flat(8)
    h[2] = 102.0  # bar 0's tp (100 + 2) touched at offset 2
    lo[4] = 99.0  # its stop (100 - 1) touched later
    lab = triple_barrier(h, lo, c, a, sl_mult=1.0, tp_mult=2.0, horizon=4)
    # bar 1 sees the same future; bars 2 and 3 see only the stop; the last 4 are undefined
    assert list(lab) == [BUY, BUY, HOLD, HOLD, -1, -1, -1, -1]


def test_stop_before_take_profit_is_not_buy() -> None:
    h, lo, c, a = flat(6)
    lo[1] = 99.0  # long stop at offset 1
    h[3] = 102.0  # long tp later: too late
    lab = triple_barrier(h, lo, c, a, sl_mult=1.0, tp_mult=2.0, horizon=5)
    # the short side: its tp (98) never touched, its stop (101) at offset 3 -> not SELL
    assert lab[0] == HOLD


def test_same_bar_stop_counts_first() -> None:
    h, lo, c, a = flat(4)
    h[1], lo[1] = 103.0, 97.0  # one wide bar touches every barrier of bar 0
    lab = triple_barrier(h, lo, c, a, sl_mult=1.0, tp_mult=2.0, horizon=2)
    assert lab[0] == HOLD
    # the same bar touching only the long side's barriers (tp and stop) still blocks BUY
    h, lo, c, a = flat(4)
    h[2], lo[2] = 102.5, 98.5
    assert triple_barrier(h, lo, c, a, 1.0, 2.0, 2)[0] == HOLD


def test_sell_mirror() -> None:
    h, lo, c, a = flat(6)
    lo[3] = 97.0  # short tp (100 - 3)
    h[4] = 101.5  # short stop (100 + 1.5) afterwards
    lab = triple_barrier(h, lo, c, a, sl_mult=1.5, tp_mult=3.0, horizon=3)
    assert lab[0] == SELL
    h[3] = 101.5  # the short stop in the same bar as its tp: stop first
    assert triple_barrier(h, lo, c, a, 1.5, 3.0, 3)[0] == HOLD


def test_both_sides_when_tp_below_sl() -> None:
    # tp < sl: price reaches +tp then -tp without any stop: the earlier take-profit wins
    h, lo, c, a = flat(6)
    h[1] = 100.5
    lo[2] = 99.5
    assert triple_barrier(h, lo, c, a, sl_mult=2.0, tp_mult=0.5, horizon=4)[0] == BUY
    h, lo, c, a = flat(6)
    lo[1] = 99.5
    h[2] = 100.5
    assert triple_barrier(h, lo, c, a, sl_mult=2.0, tp_mult=0.5, horizon=4)[0] == SELL
    h, lo, c, a = flat(6)
    h[1], lo[1] = 100.5, 99.5  # both take-profits in one bar, no stop: ambiguous
    assert triple_barrier(h, lo, c, a, sl_mult=2.0, tp_mult=0.5, horizon=4)[0] == HOLD


def test_exact_touch_counts_and_horizon_is_inclusive() -> None:
    h, lo, c, a = flat(5)
    h[3] = 102.0  # exactly the barrier, on the last bar of the window
    assert triple_barrier(h, lo, c, a, 1.0, 2.0, 3)[0] == BUY
    assert triple_barrier(h, lo, c, a, 1.0, 2.0, 2)[0] == HOLD  # beyond the window


def test_undefined_tail_and_atr() -> None:
    h, lo, c, a = flat(10)
    a[:3] = np.nan
    a[5] = 0.0
    lab = triple_barrier(h, lo, c, a, 1.0, 1.0, 4)
    assert lab.dtype == np.int8
    assert list(lab[:3]) == [-1, -1, -1]
    assert lab[5] == -1
    assert list(lab[6:]) == [-1] * 4  # fewer than 4 bars follow
    assert list(lab[[3, 4]]) == [HOLD, HOLD]
    assert (triple_barrier(h[:3], lo[:3], c[:3], a[:3], 1, 1, 5) == -1).all()


@pytest.mark.parametrize(
    "kwargs",
    [
        {"sl_mult": 0.0, "tp_mult": 1.0, "horizon": 5},
        {"sl_mult": 1.0, "tp_mult": -1.0, "horizon": 5},
        {"sl_mult": 1.0, "tp_mult": 1.0, "horizon": 0},
        {"sl_mult": 1.0, "tp_mult": 1.0, "horizon": 2.5},
    ],
)
def test_bad_arguments(kwargs: dict[str, float]) -> None:
    h, lo, c, a = flat(10)
    with pytest.raises(ValueError):
        triple_barrier(h, lo, c, a, **kwargs)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="one length"):
        triple_barrier(h[:5], lo, c, a, 1.0, 1.0, 3)


@pytest.fixture(scope="module")
def reliance(data_dir: Path):  # type: ignore[no-untyped-def]
    return prepare_series(data_dir / "nse_daily/RELIANCE.csv", interval_minutes=1440)


@pytest.fixture(scope="module")
def banknifty(data_dir: Path):  # type: ignore[no-untyped-def]
    return prepare_series(data_dir / "nse_1min/BANKNIFTY_F1_2019H1.txt", interval_minutes=1)


@pytest.mark.parametrize(("sl", "tp", "horizon"), [(1.0, 2.0, 20), (2.0, 1.0, 10), (1.5, 1.5, 1)])
def test_real_daily_matches_loop(reliance, sl: float, tp: float, horizon: int) -> None:  # type: ignore[no-untyped-def]
    s = reliance
    a = atr(s.high, s.low, s.close, 14)
    got = triple_barrier(s.high, s.low, s.close, a, sl, tp, horizon)
    want = reference_labels(s.high, s.low, s.close, a, sl, tp, horizon)
    np.testing.assert_array_equal(got, want)
    counts = np.bincount(got[got >= 0], minlength=3)
    assert (counts > 0).all(), counts  # every class occurs on real data


@pytest.mark.parametrize(("sl", "tp", "horizon"), [(1.0, 2.0, 60), (1.0, 0.5, 30)])
def test_real_intraday_matches_loop(banknifty, sl: float, tp: float, horizon: int) -> None:  # type: ignore[no-untyped-def]
    s = banknifty
    sl_ = slice(0, 8000)
    h, lo, c = s.high[sl_], s.low[sl_], s.close[sl_]
    a = atr(h, lo, c, 14)
    got = triple_barrier(h, lo, c, a, sl, tp, horizon)
    np.testing.assert_array_equal(got, reference_labels(h, lo, c, a, sl, tp, horizon))
    assert (got[:14] == -1).all() and (got[-horizon:] == -1).all()
    assert (got[14:-horizon] >= 0).all()
