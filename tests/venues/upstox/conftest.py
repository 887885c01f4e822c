"""Shared fixtures of the Upstox tests: the local simulator on real data (skips when unavailable)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def sim(data_dir: Path, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    simmod = pytest.importorskip("mixbot.simulators.upstox")
    s = simmod.Simulator(
        files=[
            data_dir / "nse_1min" / "BANKNIFTY_F1_2019H1.txt",
            data_dir / "nse_daily" / "RELIANCE.csv",
        ],
        port=0,
        speed=0,
        token="sim-token",
        tls_dir=tmp_path_factory.mktemp("sim-tls"),
        start="2019-03-01",
    )
    s.start()
    yield s
    s.stop()


@pytest.fixture
def sim_env(sim, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    for k, v in sim.env().items():
        monkeypatch.setenv(k, v)
    return sim
