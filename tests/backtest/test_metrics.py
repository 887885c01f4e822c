"""compute_metrics against an independent computation (empyrical-reloaded + plain numpy).

The reference values never call mixbot code: returns, daily resampling in IST, drawdown and
CAGR are rebuilt here from the equity values, and the Sharpe/Sortino/max-drawdown numbers
come from empyrical-reloaded.
"""

from __future__ import annotations

import json
import math
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from mixbot.backtest.metrics import Metrics, TradeRecord, compute_metrics


@pytest.fixture(scope="module")
def empyrical():  # type: ignore[no-untyped-def]
    """empyrical-reloaded (the independent reference); skips only the tests that need it."""
    return pytest.importorskip("empyrical")


IST_OFFSET = pd.Timedelta(hours=5, minutes=30)


# --- real and synthetic equity curves ---------------------------------------------------


def _reliance_buy_and_hold(data_dir: Path, start: str = "2010-01-01") -> pd.Series:
    """₹10 lakh in RELIANCE at the first close, marked at each daily close.

    Index: the 15:30 IST close of each trading date, as tz-naive UTC (10:00 UTC).
    """
    f = data_dir / "nse_daily" / "RELIANCE.csv"
    df = pd.read_csv(f, header=0, skiprows=[1, 2]).rename(columns={"Price": "Date"})
    dates = pd.to_datetime(df["Date"])
    close = pd.Series(df["Close"].to_numpy(dtype=float), index=dates + pd.Timedelta(hours=10))
    close = close[close.index >= start]
    return 1_000_000.0 * close / close.iloc[0]


def _banknifty_minute_equity(data_dir: Path) -> pd.Series:
    """Equity of one BANKNIFTY future held through 2019 H1, from real 1-minute bars.

    The file's times are IST bar-end minutes; they are converted to tz-naive UTC here.
    """
    f = data_dir / "nse_1min" / "BANKNIFTY_F1_2019H1.txt"
    df = pd.read_csv(f, header=None, names=["sym", "d", "t", "o", "h", "l", "c", "v", "oi"])
    ist = pd.to_datetime(df["d"].astype(str) + " " + df["t"], format="%Y%m%d %H:%M")
    close = pd.Series(df["c"].to_numpy(dtype=float), index=ist - IST_OFFSET)
    close = close[~close.index.duplicated(keep="last")].sort_index()
    return 500_000.0 + 20.0 * (close - close.iloc[0])


def _synthetic_intraday(days: int = 80, seed: int = 7) -> pd.Series:
    """15-minute NSE-session bars (09:15-15:30 IST) over ``days`` weekdays, tz-naive UTC."""
    rng = np.random.default_rng(seed)
    sessions = pd.bdate_range("2023-01-02", periods=days)
    idx = [
        d + pd.Timedelta(hours=9, minutes=15) + pd.Timedelta(minutes=15 * k) - IST_OFFSET
        for d in sessions
        for k in range(26)
    ]
    r = rng.normal(0.00005, 0.002, len(idx))
    return pd.Series(250_000.0 * np.cumprod(1.0 + r), index=pd.DatetimeIndex(idx))


def _synthetic_24h(hours: int = 24 * 60, seed: int = 11) -> pd.Series:
    """Hourly round-the-clock bars (a market open at IST midnight), tz-naive UTC."""
    rng = np.random.default_rng(seed)
    idx = pd.date_range("2024-03-01 00:00", periods=hours, freq="h")
    r = rng.normal(0.0, 0.004, hours)
    return pd.Series(100_000.0 * np.cumprod(1.0 + r), index=idx)


# --- independent reference computations -------------------------------------------------


def _ist_daily_returns(equity: pd.Series) -> pd.Series:
    """Last value per IST calendar day; first day measured from the first point."""
    ist_dates = np.array([(t + IST_OFFSET).date() for t in equity.index])
    values = equity.to_numpy()
    last_per_day: dict[object, float] = {}
    for d, v in zip(ist_dates, values):
        last_per_day[d] = v
    closes = np.array(list(last_per_day.values()))
    prev = np.concatenate([[values[0]], closes[:-1]])
    return pd.Series(closes / prev - 1.0, index=list(last_per_day))


def _ref_drawdown(equity: pd.Series) -> tuple[float, object, object, object]:
    v = equity.to_numpy()
    run_max = np.maximum.accumulate(v)
    dd = 1.0 - v / run_max
    i = int(np.argmax(dd))
    peak_val = run_max[i]
    j = max(k for k in range(i + 1) if v[k] == peak_val)
    rec = [k for k in range(i, len(v)) if v[k] >= peak_val]
    end = equity.index[rec[0]] if rec else None
    return dd[i] * 100.0, equity.index[j], equity.index[i], end


# --- daily bars: real RELIANCE buy-and-hold ---------------------------------------------


def test_daily_buy_and_hold_matches_empyrical(data_dir: Path, empyrical: Any) -> None:
    eq = _reliance_buy_and_hold(data_dir)
    m = compute_metrics(eq, [], periods_per_year=252.0)
    r = pd.Series(eq.to_numpy()[1:] / eq.to_numpy()[:-1] - 1.0, index=eq.index[1:])

    assert m.sharpe == pytest.approx(empyrical.sharpe_ratio(r, period="daily"), rel=1e-9)
    assert m.sortino == pytest.approx(empyrical.sortino_ratio(r, period="daily"), rel=1e-9)
    assert m.max_drawdown_pct == pytest.approx(-100.0 * empyrical.max_drawdown(r), rel=1e-9)
    assert m.total_return_pct == pytest.approx(100.0 * empyrical.cum_returns_final(r), rel=1e-9)

    years = (eq.index[-1] - eq.index[0]).days / 365.25
    cagr = ((eq.iloc[-1] / eq.iloc[0]) ** (1 / years) - 1) * 100
    assert m.cagr_pct == pytest.approx(cagr, rel=1e-9)

    depth, peak, trough, end = _ref_drawdown(eq)
    assert m.max_drawdown_pct == pytest.approx(depth, rel=1e-12)
    assert (m.max_drawdown_start, m.max_drawdown_trough) == (peak, trough)
    assert m.max_drawdown_end == end
    assert m.start == eq.index[0] and m.end == eq.index[-1]
    assert m.initial_value == pytest.approx(1_000_000.0)
    # sanity on the real data: RELIANCE went up over 2010-2024 with a deep drawdown (2020)
    assert m.total_return_pct > 100 and 20 < m.max_drawdown_pct < 70


def test_daily_risk_free_rate_matches_empyrical(data_dir: Path, empyrical: Any) -> None:
    eq = _reliance_buy_and_hold(data_dir, start="2018-01-01")
    m = compute_metrics(eq, [], periods_per_year=252.0, risk_free_rate=0.065)
    r = eq.pct_change().dropna()
    rf_daily = 1.065 ** (1 / 252) - 1
    assert m.sharpe == pytest.approx(empyrical.sharpe_ratio(r, risk_free=rf_daily), rel=1e-9)
    assert m.sortino == pytest.approx(
        empyrical.sortino_ratio(r, required_return=rf_daily), rel=1e-9
    )


def test_periods_per_year_scales_daily_path(data_dir: Path, empyrical: Any) -> None:
    eq = _reliance_buy_and_hold(data_dir, start="2020-01-01")
    weekly = eq.iloc[::5]
    m = compute_metrics(weekly, [], periods_per_year=52.0)
    r = weekly.pct_change().dropna()
    assert m.sharpe == pytest.approx(empyrical.sharpe_ratio(r, period="weekly"), rel=1e-9)


# --- intraday bars: daily resampling in IST ---------------------------------------------


def test_synthetic_intraday_uses_ist_daily_returns(empyrical: Any) -> None:
    eq = _synthetic_intraday()
    m = compute_metrics(eq, [], periods_per_year=252.0 * 26)
    daily = _ist_daily_returns(eq)
    assert len(daily) == 80
    assert m.sharpe == pytest.approx(empyrical.sharpe_ratio(daily, period="daily"), rel=1e-9)
    assert m.sortino == pytest.approx(empyrical.sortino_ratio(daily, period="daily"), rel=1e-9)
    # max drawdown is still measured on every bar, not on daily closes
    bar_r = eq.pct_change().dropna()
    assert m.max_drawdown_pct == pytest.approx(-100 * empyrical.max_drawdown(bar_r), rel=1e-9)
    # per-bar Sharpe annualised with periods_per_year would be a different number
    per_bar = empyrical.sharpe_ratio(bar_r, annualization=252 * 26)
    assert m.sharpe != pytest.approx(per_bar, rel=1e-3)


def test_day_boundaries_are_ist_not_utc(empyrical: Any) -> None:
    eq = _synthetic_24h()
    m = compute_metrics(eq, [])
    ist = _ist_daily_returns(eq)
    assert m.sharpe == pytest.approx(empyrical.sharpe_ratio(ist), rel=1e-9)
    utc_close = eq.groupby(eq.index.date).last()
    utc = pd.Series(utc_close.to_numpy() / np.r_[eq.iloc[0], utc_close.to_numpy()[:-1]] - 1)
    assert m.sharpe != pytest.approx(empyrical.sharpe_ratio(utc), rel=1e-6)


def test_real_banknifty_minute_curve(data_dir: Path, empyrical: Any) -> None:
    eq = _banknifty_minute_equity(data_dir)
    m = compute_metrics(eq, [])
    daily = _ist_daily_returns(eq)
    assert 110 < len(daily) < 130  # about six months of NSE sessions
    assert m.sharpe == pytest.approx(empyrical.sharpe_ratio(daily), rel=1e-9)
    assert m.sortino == pytest.approx(empyrical.sortino_ratio(daily), rel=1e-9)
    depth, peak, trough, end = _ref_drawdown(eq)
    assert m.max_drawdown_pct == pytest.approx(depth, rel=1e-12)
    assert (m.max_drawdown_start, m.max_drawdown_trough, m.max_drawdown_end) == (
        peak,
        trough,
        end,
    )


# --- trades and exposure ----------------------------------------------------------------


def _trade(pnl_net: float, charges: float = 10.0) -> TradeRecord:
    t0 = datetime(2024, 1, 2, 4, 0)
    return TradeRecord(
        entry_time=t0,
        exit_time=datetime(2024, 1, 2, 9, 0),
        side="long",
        size=10,
        entry_price=100.0,
        exit_price=100.0 + (pnl_net + charges) / 10,
        pnl_gross=pnl_net + charges,
        charges=charges,
        pnl_net=pnl_net,
        exit_reason="signal",
        bars_held=5,
    )


def _short_curve() -> pd.Series:
    idx = pd.date_range("2024-01-01 10:00", periods=6, freq="D")
    return pd.Series([100.0, 120.0, 90.0, 110.0, 125.0, 130.0], index=idx)


def test_trade_statistics_by_hand() -> None:
    trades = [_trade(100.0), _trade(-50.0), _trade(30.0), _trade(-20.0), _trade(0.0, 4.0)]
    m = compute_metrics(_short_curve(), trades)
    assert m.n_trades == 5
    assert m.win_rate_pct == pytest.approx(40.0)  # 2 of 5 with pnl_net > 0
    assert m.profit_factor == pytest.approx(130.0 / 70.0)
    assert m.avg_trade_pnl == pytest.approx(60.0 / 5)
    assert m.charges_paid == pytest.approx(44.0)


def test_profit_factor_edge_cases() -> None:
    eq = _short_curve()
    assert compute_metrics(eq, [_trade(5.0), _trade(1.0)]).profit_factor == math.inf
    assert compute_metrics(eq, [_trade(0.0)]).profit_factor is None
    assert compute_metrics(eq, [_trade(-3.0)]).profit_factor == 0.0
    none = compute_metrics(eq, [])
    assert (none.n_trades, none.profit_factor, none.win_rate_pct, none.avg_trade_pnl) == (
        0,
        None,
        None,
        None,
    )
    assert none.charges_paid == 0.0


def test_exposure_from_in_market() -> None:
    eq = _short_curve()
    flags = pd.Series([False, True, True, False, True, False], index=eq.index)
    assert compute_metrics(eq, [], in_market=flags).exposure_pct == pytest.approx(50.0)
    assert compute_metrics(eq, []).exposure_pct is None
    with pytest.raises(ValueError, match="in_market"):
        compute_metrics(eq, [], in_market=flags.iloc[:3])


def test_drawdown_dates_by_hand() -> None:
    m = compute_metrics(_short_curve(), [])
    idx = _short_curve().index
    assert m.max_drawdown_pct == pytest.approx(25.0)  # 120 -> 90
    assert (m.max_drawdown_start, m.max_drawdown_trough, m.max_drawdown_end) == (
        idx[1],
        idx[2],
        idx[4],  # 125 >= 120
    )
    # plateau at the peak: the drawdown starts at the LAST time at the peak; never recovers
    plateau = pd.Series([100.0, 120.0, 120.0, 96.0, 110.0], index=idx[:5])
    p = compute_metrics(plateau, [])
    assert p.max_drawdown_pct == pytest.approx(20.0)
    assert (p.max_drawdown_start, p.max_drawdown_trough, p.max_drawdown_end) == (
        idx[2],
        idx[3],
        None,
    )


# --- edge cases -------------------------------------------------------------------------


def test_flat_equity() -> None:
    eq = pd.Series(1_000_000.0, index=pd.date_range("2024-01-01 10:00", periods=30, freq="D"))
    m = compute_metrics(eq, [])
    assert m.sharpe is None and m.sortino is None
    assert m.total_return_pct == 0.0 and m.cagr_pct == pytest.approx(0.0)
    assert m.max_drawdown_pct == 0.0
    assert (m.max_drawdown_start, m.max_drawdown_trough, m.max_drawdown_end) == (None,) * 3


def test_single_point() -> None:
    eq = pd.Series([500_000.0], index=pd.DatetimeIndex(["2024-05-02 04:00"]))
    m = compute_metrics(eq, [])
    assert (m.total_return_pct, m.max_drawdown_pct) == (0.0, 0.0)
    assert m.cagr_pct is None and m.sharpe is None and m.sortino is None
    assert m.start == m.end == datetime(2024, 5, 2, 4, 0)


def test_only_rising_equity_has_no_sortino() -> None:
    eq = pd.Series(
        [100.0, 101.0, 103.0, 103.5], index=pd.date_range("2024-01-01", periods=4, freq="D")
    )
    m = compute_metrics(eq, [])
    assert m.sortino is None  # no period below the target: downside deviation is 0
    assert m.sharpe is not None and m.sharpe > 0


def test_tz_aware_index_is_converted_to_utc() -> None:
    naive = _short_curve()
    aware = naive.copy()
    aware.index = naive.index.tz_localize("UTC").tz_convert("Asia/Kolkata")
    assert compute_metrics(aware, []) == compute_metrics(naive, [])


@pytest.mark.parametrize(
    "equity",
    [
        pd.Series([], dtype=float, index=pd.DatetimeIndex([])),
        pd.Series([1.0, 2.0]),  # RangeIndex
        pd.Series([1.0, np.nan], index=pd.date_range("2024-01-01", periods=2)),
        pd.Series([0.0, 2.0], index=pd.date_range("2024-01-01", periods=2)),
        pd.Series([1.0, 2.0], index=pd.DatetimeIndex(["2024-01-02", "2024-01-01"])),
        [1.0, 2.0],
    ],
)
def test_bad_equity_raises(equity: object) -> None:
    with pytest.raises(ValueError):
        compute_metrics(equity, [])  # type: ignore[arg-type]


def test_bad_periods_per_year_raises() -> None:
    with pytest.raises(ValueError, match="periods_per_year"):
        compute_metrics(_short_curve(), [], periods_per_year=0)


# --- output helpers ---------------------------------------------------------------------


def test_to_dict_is_json_and_rows_have_units() -> None:
    m: Metrics = compute_metrics(_short_curve(), [_trade(5.0)], in_market=None)
    d = m.to_dict()
    text = json.dumps(d, allow_nan=False)
    assert json.loads(text)["profit_factor"] == "inf"
    assert d["start"] == "2024-01-01T10:00:00"
    assert d["max_drawdown_end"] == "2024-01-05T10:00:00"
    assert d["exposure_pct"] is None
    rows = m.rows()
    labels = [label for label, _ in rows]
    assert len(labels) == len(set(labels))
    assert all(isinstance(v, str) for _, v in rows)
    assert "Total return (%)" in labels and "Final value (INR)" in labels
    assert dict(rows)["Profit factor"] == "inf"
    assert dict(rows)["Exposure (% of bars)"] == "n/a"
