"""Shared pytest fixtures: the real market-data folder (skip when absent)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mixbot.paths import sample_data_dir


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The real market data folder (../shared/data); skips the test when it is absent."""
    d = sample_data_dir()
    if d is None or not d.is_dir():
        pytest.skip(
            "real market data folder not found: set MIXBOT_DATA or put it at ../shared/data"
        )
    return d
