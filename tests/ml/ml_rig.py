"""Helpers of the ML tests: a model trained once per test session with `mixbot train --quick`, as a user would run it.

The training runs in a subprocess (the real CLI; TensorFlow never loads into the test
process, whose bots serve the model with LiteRT). Its config is the example ML config
(``config/trading/0007.json``) over 2017-04 .. 2017-12 with a confidence threshold of 0.4,
so the tiny quick model trades often enough to test on.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mixbot.paths import REPO_ROOT

EXAMPLE = REPO_ROOT / "config" / "trading" / "0007.json"
RANGE = ("--from", "2017-04-01", "--to", "2017-12-31")


@dataclass
class Trained:
    """What the session's training left: its config, registry, output and model folder."""

    config: Path
    models: Path
    stdout: str
    version_dir: Path
    meta: dict  # type: ignore[type-arg]


def ml_config(folder: Path, data_dir: Path, threshold: float = 0.4, **data: object) -> Path:
    """A copy of the example ML config in ``folder`` (same bot id, 0007) with ``threshold``."""
    doc = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    doc.pop("$schema", None)
    doc["data"]["path"] = str(data_dir / "nse_1min" / "BANKNIFTY")
    doc["data"].update(data)
    for part in ("entry_logic", "exit_logic"):
        doc["strategy"][part]["params"]["confidence_threshold"] = threshold
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "0007.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def train_cli(config: Path, models: Path, cwd: Path, *extra: str) -> subprocess.CompletedProcess:  # type: ignore[type-arg]
    """Run ``mixbot train CONFIG --quick`` over :data:`RANGE` with ``$MIXBOT_MODELS``."""
    env = {**os.environ, "MIXBOT_MODELS": str(models), "COLUMNS": "120"}
    return subprocess.run(
        [sys.executable, "-m", "mixbot", "train", str(config), "--quick", "--no-progress",
         *RANGE, *extra],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip


def banknifty_15m(
    data_dir: Path, sl_mult: float, tp_mult: float, horizon: int, before: str | None = None
) -> dict[str, Any]:
    """BANKNIFTY futures 2019 H1 (bars before ``before`` only, when given), 1-minute bars
    aggregated to 15 minutes with pandas (independent of mixbot's loader), as an ``oos`` dict
    for :func:`mixbot.ml.report.build_report`: open/high/low/close (INR), Wilder ATR(14),
    bar_end (naive UTC) and triple-barrier labels."""
    import numpy as np  # noqa: F401 - arrays below
    import pandas as pd

    from mixbot.indicators import atr as wilder_atr
    from mixbot.ml.labels import triple_barrier

    path = data_dir / "nse_1min" / "BANKNIFTY_F1_2019H1.txt"
    if not path.is_file():
        pytest.skip(f"missing {path}")
    names = ["symbol", "date", "time", "open", "high", "low", "close", "volume", "oi"]
    df = pd.read_csv(path, header=None, names=names)
    df.index = pd.to_datetime(df["date"].astype(str) + " " + df["time"], format="%Y%m%d %H:%M")
    if before is not None:
        df = df[df.index < before]
    agg = (
        df.resample("15min", label="right", closed="right")
        .agg({"open": "first", "high": "max", "low": "min", "close": "last"})
        .dropna()
    )
    end = agg.index.tz_localize("Asia/Kolkata").tz_convert("UTC").tz_localize(None)
    o, h, lo, c = (agg[k].to_numpy() for k in ("open", "high", "low", "close"))
    a = wilder_atr(h, lo, c, 14)
    labels = triple_barrier(h, lo, c, a, sl_mult, tp_mult, horizon)
    return {"open": o, "high": h, "low": lo, "close": c, "atr": a, "bar_end": end.to_numpy(),
            "labels": labels}  # fmt: skip
