"""ML configs: the validator's ML rules, and a bot that trades with a model never imports
TensorFlow (it serves the model with LiteRT)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.ml.ml_rig import RANGE, Trained

from mixbot.config.validate import validate_file


def _doc(data_dir: Path, entry: dict, exit_: dict) -> dict:  # type: ignore[type-arg]
    return {
        "broker": {"type": "paper"},
        "trading": {"symbol": "BANKNIFTY", "product": "intraday"},
        "data": {"data_source": "csv", "interval": "15m",
                 "path": str(data_dir / "nse_1min" / "BANKNIFTY")},
        "strategy": {"entry_logic": {"name": "MLModelEntryMixin", "params": entry},
                     "exit_logic": {"name": "MLModelExitMixin", "params": exit_}},
    }  # fmt: skip


def test_both_ml_mixins_must_share_window_and_horizon(tmp_path: Path, data_dir: Path) -> None:
    path = tmp_path / "bot.json"
    path.write_text(json.dumps(_doc(data_dir, {"window": 32}, {"window": 48, "horizon": 10})))
    rep = validate_file(path)
    msgs = {p.path: p.message for p in rep.errors}
    assert "both ML mixins use one model" in msgs["$.strategy.exit_logic.params.window"]
    assert (
        "horizon 10 differs from entry_logic.params.horizon 16"
        in msgs["$.strategy.exit_logic.params.horizon"]
    )


def test_sides_both_warns_that_sell_opens_no_short(tmp_path: Path, data_dir: Path) -> None:
    path = tmp_path / "bot.json"
    path.write_text(json.dumps(_doc(data_dir, {"sides": "both"}, {})))
    rep = validate_file(path)
    assert rep.errors == []
    warnings = [p.path for p in rep.problems if p.severity == "warning"]
    assert warnings == ["$.strategy.entry_logic.params.sides"]


def test_a_bot_with_a_model_never_imports_tensorflow(trained: Trained, tmp_path: Path) -> None:
    code = (
        "import sys; from mixbot.config.load import load_config; "
        "from mixbot.engine.backtest import run_backtest; "
        f"r = run_backtest(load_config({str(trained.config)!r}), date_from={RANGE[1]!r}, "
        f"date_to={RANGE[3]!r}, progress=False); "
        "print(len(r.trades), 'tensorflow' in sys.modules, 'keras' in sys.modules)"
    )
    env = {**os.environ, "MIXBOT_MODELS": str(trained.models)}
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
        check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    n, tf, keras = proc.stdout.split()
    assert int(n) > 0 and tf == "False" and keras == "False"
