"""Fixtures of the Yahoo venue tests: a simulator on real files (clock at speed 0, moved by
the test), its ``MIXBOT_YAHOO_API`` exported, yfinance's caches in the test's folder."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from yahoo_rig import DAILY, MINUTE


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Work in ``tmp_path`` (caches, stores, logs), with yfinance's caches there too."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MIXBOT_YAHOO_CACHE", str(tmp_path / "yfcache"))
    return tmp_path


@pytest.fixture
def make_sim(data_dir: Path, in_tmp: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """``make_sim(start, end, daily=True, minute=True)`` -> a started simulator at speed 0
    whose URL is exported as ``MIXBOT_YAHOO_API``; stopped after the test."""
    from mixbot.simulators.yahoo import Simulator

    sims: list[Any] = []

    def make(start: str, end: str, daily: bool = True, minute: bool = True) -> Any:
        files = ([f"RELIANCE.NS={data_dir / DAILY}"] if daily else []) + (
            [f"BANKNIFTY.NS={data_dir / MINUTE}"] if minute else []
        )
        sim = Simulator(files, start=start, end=end, speed=0).start()
        sims.append(sim)
        for k, v in sim.env().items():
            monkeypatch.setenv(k, v)
        return sim

    yield make
    for sim in sims:
        sim.stop()
