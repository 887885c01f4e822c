"""Fixtures of the web tests: a module-wide app over two replay bots (see :mod:`rig`)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from rig import Rig, module_rig  # noqa: E402


@pytest.fixture(scope="module")
def rig(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    """The app over r1 (a finished replay with trades) and r2 (never run), cwd its folder."""
    yield from module_rig(tmp_path_factory, data_dir, "web")
