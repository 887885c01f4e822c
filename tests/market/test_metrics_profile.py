"""Annualised metrics take the market profile's time zone and trading days per year; for
NSE they equal the old hard-coded IST / 252 values (reference computed here, not by mixbot)."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pandas as pd

from mixbot.backtest.metrics import compute_metrics
from mixbot.market import NSE


def _equity(data_dir: Path) -> pd.Series:
    """Buy-and-hold equity of 1 BANKNIFTY future on real 1-minute bars (Jan-Mar 2019),
    tz-naive UTC index (the file's times are IST bar ends)."""
    f = pd.read_csv(
        data_dir / "nse_1min" / "BANKNIFTY_F1_2019H1.txt",
        header=None,
        names=["sym", "d", "t", "o", "h", "l", "c", "v", "oi"],
        dtype={"d": str, "t": str},
    )
    ist = pd.to_datetime(f["d"] + " " + f["t"], format="%Y%m%d %H:%M").dt.tz_localize(
        "Asia/Kolkata"
    )
    idx = pd.DatetimeIndex(ist.dt.tz_convert("UTC").dt.tz_localize(None))
    eq = pd.Series(100_000.0 + f["c"].to_numpy() - f["c"].iloc[0], index=idx)
    return eq[eq.index < pd.Timestamp("2019-04-01")]


def _reference_sharpe(eq: pd.Series, days_per_year: float) -> float:
    days = eq.index.tz_localize("UTC").tz_convert("Asia/Kolkata").date
    daily = eq.groupby(days).last().to_numpy()
    r = np.diff(np.concatenate([[eq.iloc[0]], daily])) / np.concatenate([[eq.iloc[0]], daily[:-1]])
    return float(np.mean(r) / np.std(r, ddof=1) * math.sqrt(days_per_year))


def test_intraday_sharpe_for_nse_equals_the_252_day_value(data_dir: Path) -> None:
    eq = _equity(data_dir)
    ref = _reference_sharpe(eq, 252.0)
    default = compute_metrics(eq, [])
    nse = compute_metrics(eq, [], market=NSE)
    assert default.sharpe is not None and math.isclose(default.sharpe, ref, rel_tol=1e-9)
    assert nse.sharpe == default.sharpe and nse.sortino == default.sortino


def test_days_per_year_comes_from_the_profile(data_dir: Path) -> None:
    eq = _equity(data_dir)
    every_day = dataclasses.replace(NSE, name="TEST", trading_days_per_year=365.0)
    m = compute_metrics(eq, [], market=every_day)
    assert m.sharpe is not None
    assert math.isclose(m.sharpe, _reference_sharpe(eq, 365.0), rel_tol=1e-9)


def test_daily_bars_default_to_the_profiles_days(data_dir: Path) -> None:
    f = pd.read_csv(data_dir / "nse_daily" / "TCS.csv", header=0, skiprows=[1, 2])
    f = f.rename(columns={"Price": "Date"})
    idx = pd.DatetimeIndex(pd.to_datetime(f["Date"]) + pd.Timedelta(hours=10))  # 15:30 IST
    eq = pd.Series(f["Close"].to_numpy(dtype=float), index=idx)["2015":"2020"]
    r = eq.pct_change().iloc[1:].to_numpy()
    ref = float(np.mean(r) / np.std(r, ddof=1) * math.sqrt(252.0))
    m = compute_metrics(eq, [])
    assert m.sharpe is not None and math.isclose(m.sharpe, ref, rel_tol=1e-9)
    assert compute_metrics(eq, [], periods_per_year=252.0).sharpe == m.sharpe
