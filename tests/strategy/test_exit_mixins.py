"""Exit mixins on real data: PositionState built by hand at real entry points, each bar's
``should_exit`` checked against the documented rule computed independently here."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mixbot.feeds.series import prepare_series
from mixbot.strategy.entry.rsi_bb import RSIBBEntryMixin
from mixbot.strategy.exit.atr import ATRExitMixin
from mixbot.strategy.exit.fixed_ratio import FixedRatioExitMixin
from mixbot.strategy.exit.rsi_bb import RSIBBExitMixin
from mixbot.strategy.exit.time_based import TimeBasedExitMixin
from mixbot.strategy.exit.trailing import TrailingStopExitMixin
from mixbot.strategy.mixin import Bars, PositionState

TOL = 1e-6
HOLD = 60  # bars checked after each entry


def wilder_rsi(close: np.ndarray, period: int) -> np.ndarray:
    out = np.full(close.shape, np.nan)
    diff = np.diff(close)
    gain, loss = np.clip(diff, 0, None), np.clip(-diff, 0, None)
    ag, al = gain[:period].mean(), loss[:period].mean()
    out[period] = 100.0 * ag / (ag + al)
    for k in range(period, diff.size):
        ag = (ag * (period - 1) + gain[k]) / period
        al = (al * (period - 1) + loss[k]) / period
        out[k + 1] = 100.0 * ag / (ag + al) if ag + al > 0 else 0.0
    return out


def wilder_atr(high: np.ndarray, low: np.ndarray, close: np.ndarray, period: int) -> np.ndarray:
    """Wilder ATR: true ranges from bar 1, seeded with their mean, first value at ``period``."""
    prev = close[:-1]
    tr = np.maximum.reduce([high[1:] - low[1:], np.abs(high[1:] - prev), np.abs(low[1:] - prev)])
    out = np.full(close.shape, np.nan)
    a = tr[:period].mean()
    out[period] = a
    for k in range(period, tr.size):
        a = (a * (period - 1) + tr[k]) / period
        out[k + 1] = a
    return out


def bars_of(s) -> Bars:  # type: ignore[no-untyped-def]
    return Bars(s.open, s.high, s.low, s.close, s.volume, s.minutes, 0)


@pytest.fixture(scope="module")
def reliance(data_dir: Path):  # type: ignore[no-untyped-def]
    return prepare_series(data_dir / "nse_daily/RELIANCE.csv", interval_minutes=1440)


@pytest.fixture(scope="module")
def banknifty(data_dir: Path):  # type: ignore[no-untyped-def]
    return prepare_series(
        data_dir / "nse_1min/BANKNIFTY_F1_2019H1.txt", interval_minutes=1, date_to="2019-01-31"
    )


def entry_points(s, n: int = 12) -> list[int]:  # type: ignore[no-untyped-def]
    """Real RSI+BB entry signal bars, spread over the series, each with HOLD bars after."""
    bars = bars_of(s)
    m = RSIBBEntryMixin({"e_rsi_oversold": 35.0})
    m.compute(bars)
    sig = [i for i in range(len(bars) - HOLD - 2) if m.should_enter(bars, i)]
    assert len(sig) >= n
    pick = np.linspace(0, len(sig) - 1, n).round().astype(int)
    return [sig[k] for k in pick]


def walk(s, mixin, e: int, expected, state_hook=None):  # type: ignore[no-untyped-def]
    """Enter on bar e (fill at e+1's open) and compare should_exit with ``expected`` on
    bars e+1 .. e+HOLD. ``expected(i, state)`` returns the set of reasons whose rule holds
    on bar i (empty = hold) or None when the bar is too close to a threshold to judge."""
    bars = bars_of(s)
    mixin.compute(bars)
    price = float(s.open[e + 1])
    st = PositionState(
        entry_price=price, entry_bar=e, size=10, highest_close=price, lowest_close=price
    )
    mixin.on_entry(bars, e, st)
    if state_hook is not None:
        state_hook(st)
    checked = exits = 0
    for i in range(e + 1, e + 1 + HOLD):
        c = float(s.close[i])
        st.highest_close = max(st.highest_close, c)
        st.lowest_close = min(st.lowest_close, c)
        want = expected(i, st)
        got = mixin.should_exit(bars, i, st)
        if want is None:
            continue
        checked += 1
        if want:
            exits += 1
            assert got in want, (e, i, got, want)
        else:
            assert got is None, (e, i, got)
    return checked, exits


def close_to(a: float, b: float) -> bool:
    return abs(a - b) <= TOL * max(abs(b), 1.0)


@pytest.mark.parametrize("trailing", [False, True])
def test_atr_exit(reliance, trailing: bool) -> None:  # type: ignore[no-untyped-def]
    s = reliance
    atr = wilder_atr(s.high, s.low, s.close, 14)
    total = 0
    for e in entry_points(s):
        mixin = ATRExitMixin(
            {"x_sl_multiplier": 1.5, "x_tp_multiplier": 2.0, "x_trailing": trailing}
        )
        a0 = atr[e]  # frozen at the bar whose close triggered the entry

        def expected(i, st, a0=a0):  # type: ignore[no-untyped-def]
            c = s.close[i]
            levels = [st.entry_price + 2.0 * a0, st.entry_price - 1.5 * a0]
            if trailing:
                levels.append(st.highest_close - 1.5 * atr[i])
            if any(close_to(c, lv) for lv in levels):
                return None
            out = set()
            if c >= levels[0]:
                out.add("take_profit")
            if c <= levels[1]:
                out.add("stop_loss")
            if trailing and c <= levels[2]:
                out.add("trailing_stop")
            return out

        checked, exits = walk(s, mixin, e, expected)
        assert abs(mixin._atr[e] - a0) < 1e-6 * a0
        total += exits
    assert total > 0


def test_fixed_ratio_exit(reliance) -> None:  # type: ignore[no-untyped-def]
    s = reliance
    reasons: set[str] = set()
    for e in entry_points(s):
        mixin = FixedRatioExitMixin({"x_stop_pct": 3.0, "x_reward_ratio": 2.0})

        def expected(i, st):  # type: ignore[no-untyped-def]
            c = s.close[i]
            sl, tp = st.entry_price * 0.97, st.entry_price * 1.06
            if close_to(c, sl) or close_to(c, tp):
                return None
            return {"stop_loss"} if c <= sl else {"take_profit"} if c >= tp else set()

        bars = bars_of(s)
        mixin.compute(bars)
        walk(s, mixin, e, expected)
        reasons |= {
            r
            for i in range(e + 1, e + HOLD)
            if (
                r := mixin.should_exit(bars, i, PositionState(float(s.open[e + 1]), e, 1, 0.0, 0.0))
            )
        }
    assert reasons == {"stop_loss", "take_profit"}


def test_rsi_bb_exit(reliance) -> None:  # type: ignore[no-untyped-def]
    s = reliance
    r = wilder_rsi(s.close, 14)
    sc = pd.Series(s.close)
    upper = (sc.rolling(20).mean() + 2.0 * sc.rolling(20).std(ddof=0)).to_numpy()
    total = 0
    for e in entry_points(s):
        mixin = RSIBBExitMixin({"x_rsi_overbought": 65.0})

        def expected(i, st):  # type: ignore[no-untyped-def]
            c = s.close[i]
            if close_to(r[i], 65.0) or close_to(c, upper[i]):
                return None
            return {"signal"} if (r[i] >= 65.0 or c >= upper[i]) else set()

        total += walk(s, mixin, e, expected)[1]
    assert total > 0


@pytest.mark.parametrize("max_bars", [1, 5, 20])
def test_time_exit_bars(reliance, max_bars: int) -> None:  # type: ignore[no-untyped-def]
    s = reliance
    for e in entry_points(s, 5):
        mixin = TimeBasedExitMixin({"x_max_bars": max_bars})

        def expected(i, st, e=e):  # type: ignore[no-untyped-def]
            return {"time"} if i - e >= max_bars else set()

        checked, exits = walk(s, mixin, e, expected)
        assert exits == HOLD - max_bars + 1


def test_time_exit_clock_banknifty(banknifty) -> None:  # type: ignore[no-untyped-def]
    s = banknifty
    local = pd.DatetimeIndex(s.end).tz_localize("UTC").tz_convert("Asia/Kolkata")
    minutes = (local.hour * 60 + local.minute).to_numpy()
    hits = 0
    for e in entry_points(s):
        mixin = TimeBasedExitMixin({"x_max_bars": 100000, "x_exit_time": "14:45"})

        def expected(i, st):  # type: ignore[no-untyped-def]
            return {"time"} if minutes[i] >= 14 * 60 + 45 else set()

        hits += walk(s, mixin, e, expected)[1]
    assert hits > 0


@pytest.mark.parametrize(
    ("trail", "act", "init"), [(2.0, 0.0, 0.0), (3.0, 2.0, 4.0), (1.5, 1.0, 2.5)]
)
def test_trailing_exit(reliance, trail: float, act: float, init: float) -> None:  # type: ignore[no-untyped-def]
    s = reliance
    reasons: set[str] = set()
    for e in entry_points(s):
        mixin = TrailingStopExitMixin(
            {"x_trail_pct": trail, "x_activation_pct": act, "x_initial_stop_pct": init}
        )

        def expected(i, st):  # type: ignore[no-untyped-def]
            c = s.close[i]
            arm = st.entry_price * (1 + act / 100)
            trail_lv = st.highest_close * (1 - trail / 100)
            stop_lv = st.entry_price * (1 - init / 100)
            if close_to(st.highest_close, arm) or close_to(c, trail_lv) or close_to(c, stop_lv):
                return None
            if st.highest_close >= arm:
                return {"trailing_stop"} if c <= trail_lv else set()
            if init > 0 and c <= stop_lv:
                return {"stop_loss"}
            return set()

        bars = bars_of(s)
        walk(s, mixin, e, expected)
        price = float(s.open[e + 1])
        st = PositionState(price, e, 1, price, price)
        for i in range(e + 1, e + HOLD):
            st.highest_close = max(st.highest_close, float(s.close[i]))
            if (got := mixin.should_exit(bars, i, st)) is not None:
                reasons.add(got)
                break
    assert "trailing_stop" in reasons
    if init > 0:
        assert "stop_loss" in reasons
