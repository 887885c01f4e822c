"""Shared pytest fixtures: the real market-data folder (skip when absent); tests marked
``slow`` run only with ``MIXBOT_SLOW=1``."""

from __future__ import annotations

import os
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


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip the tests marked ``slow`` unless ``MIXBOT_SLOW=1`` (they are long scenarios that
    ``make test`` leaves out: ``MIXBOT_SLOW=1 .venv/bin/python -m pytest -m slow``)."""
    if os.environ.get("MIXBOT_SLOW") == "1":
        return
    skip = pytest.mark.skip(reason="slow scenario: run with MIXBOT_SLOW=1")
    for item in items:
        if item.get_closest_marker("slow") is not None:
            item.add_marker(skip)
