"""`mixbot train` learns from the bot's own trades: the labels' ATR stop is adapted from them
and their windows are added to the training part of each fold (never to its test block)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.ml.ml_rig import RANGE, ml_config
from tests.ml.trade_log_fixture import RealBars, pick_trades, write_store

from mixbot.config.load import load_config
from mixbot.venues.files import file_series


def test_trades_adapt_the_stop_and_augment_the_training_folds(
    data_dir: Path, tmp_path: Path
) -> None:
    cfg_path = ml_config(tmp_path / "config", data_dir)
    s = file_series(load_config(cfg_path), True, RANGE[1], RANGE[3])
    bars = RealBars("BANKNIFTY", s.end.astype("datetime64[ns]"), s.open, s.close)
    # 3 winners and 9 losers stopped out, early in the data (the first fold's training part)
    trades = pick_trades(bars, 200, 3, 9, "take_profit", "stop_loss", hold=4)
    url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    write_store(url, "0007", trades)
    env = {**os.environ, "MIXBOT_MODELS": str(tmp_path / "models"), "MIXBOT_DATABASE_URL": url}
    proc = subprocess.run(
        [sys.executable, "-m", "mixbot", "train", str(cfg_path), "--quick", "--no-progress",
         *RANGE],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    meta = json.loads((tmp_path / "models" / "0007" / "v0001" / "meta.json").read_text())
    # 25 % winners, 75 % of exits on the stop: the original's rule loosens the stop 1.5 -> 1.75
    assert meta["adaptation"]["rule"] == "loosen_stop"
    assert meta["stops"]["sl_multiplier"] == 1.75 and meta["stops"]["tp_multiplier"] == 2.0
    aug = meta["folds"][0]["augmentation"]
    assert aug["trades"] == 12
    assert aug["winners"] == 3  # each winner's window again, labelled BUY, weight 2
    fold = meta["folds"][0]
    assert all(t["signal_bar"] < fold["train"][1] for t in trades)
    # the final model trains on everything: the same trades augment it
    assert meta["final"]["members"]
