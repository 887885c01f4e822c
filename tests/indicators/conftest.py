"""Real-data fixtures for the indicator tests (skipped when the data folder is absent)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

Ohlc = dict[str, np.ndarray]


@pytest.fixture(scope="session")
def reliance(data_dir: Path) -> Ohlc:
    """RELIANCE daily (Yahoo, split-adjusted prices), zero-volume placeholder rows dropped."""
    path = data_dir / "nse_daily" / "RELIANCE.csv"
    if not path.is_file():
        pytest.skip(f"missing {path}")
    df = pd.read_csv(path, header=0, skiprows=[1, 2]).rename(columns={"Price": "Date"})
    df = df[df["Volume"] > 0].reset_index(drop=True)
    assert len(df) > 5000
    return {k.lower(): df[k].to_numpy(dtype=np.float64) for k in ("Open", "High", "Low", "Close")}


@pytest.fixture(scope="session")
def banknifty(data_dir: Path) -> Ohlc:
    """BANKNIFTY near-month futures, 1-minute bars, 2019 H1 (45,964 bars)."""
    path = data_dir / "nse_1min" / "BANKNIFTY_F1_2019H1.txt"
    if not path.is_file():
        pytest.skip(f"missing {path}")
    names = ["symbol", "date", "time", "open", "high", "low", "close", "volume", "oi"]
    df = pd.read_csv(path, header=None, names=names)
    assert len(df) > 40_000
    return {k: df[k].to_numpy(dtype=np.float64) for k in ("open", "high", "low", "close")}


@pytest.fixture(scope="session", params=["reliance", "banknifty"])
def ohlc(request: pytest.FixtureRequest) -> Ohlc:
    """Each real series in turn."""
    return request.getfixturevalue(request.param)
