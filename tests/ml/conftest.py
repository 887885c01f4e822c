"""The session's quick-trained model (see :mod:`tests.ml.ml_rig`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.ml.ml_rig import Trained, ml_config, train_cli


@pytest.fixture(scope="session")
def trained(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Trained:
    """The session's quick-trained model (trained on first use)."""
    root = tmp_path_factory.mktemp("ml")
    cfg = ml_config(root / "config", data_dir)
    models = root / "models"
    proc = train_cli(cfg, models, root)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    vdir = models / "0007" / "v0001"
    meta = json.loads((vdir / "meta.json").read_text(encoding="utf-8"))
    return Trained(cfg, models, proc.stdout, vdir, meta)
