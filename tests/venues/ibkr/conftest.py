"""Fixtures of the IBKR tests: the local TWS simulator on real BANKNIFTY 1-minute data
(skips when the data folder is absent), in lockstep (speed 0: no wall-clock timing)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ibkr_rig import make_sim


@pytest.fixture
def sim(data_dir: Path) -> Iterator[Any]:
    s = make_sim(data_dir)
    yield s
    s.stop()
