"""Fixtures of the Binance venue tests: the real BTCUSDT 1-minute file and a simulator on it
whose clock the test drives (speed 0)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

FILE = "crypto/BinanceUS_BTCUSDT_1m_20230301_20230321.csv"


@pytest.fixture
def btc_file(data_dir: Path) -> Path:
    return data_dir / FILE


@pytest.fixture
def sim_factory(btc_file: Path) -> Iterator[Any]:
    """``make(**kw)``: a started :class:`BinanceSim` on the 1-minute file (stopped after)."""
    from mixbot.simulators.binance import BinanceSim

    made: list[Any] = []

    def make(**kw: Any) -> Any:
        kw.setdefault("start", "2023-03-02")
        sim = BinanceSim([btc_file], **kw).start()
        made.append(sim)
        return sim

    yield make
    for sim in made:
        sim.stop()


@pytest.fixture
def sim_env(monkeypatch: pytest.MonkeyPatch) -> Any:
    """``use(sim)``: export the simulator's variables for the code under test."""

    def use(sim: Any) -> None:
        for k, v in sim.env().items():
            monkeypatch.setenv(k, v)

    return use
