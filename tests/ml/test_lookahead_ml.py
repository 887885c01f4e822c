"""`mixbot lookahead` on the ML mixins with a trained model: their probabilities at a bar do
not change when later bars arrive, and a model that peeks is caught."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from tests.ml.ml_rig import RANGE, Trained

from mixbot.config.load import load_config
from mixbot.engine.lookahead import check_config


@pytest.fixture
def models_env(trained: Trained, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Trained:
    monkeypatch.setenv("MIXBOT_MODELS", str(trained.models))
    monkeypatch.chdir(tmp_path)
    return trained


def test_ml_mixins_pass_with_probabilities_compared(models_env: Trained) -> None:
    cfg = load_config(models_env.config)
    res = check_config(cfg, n_cuts=25, seed=3, date_from=RANGE[1], date_to=RANGE[3])
    assert [c.name for c in res.checks] == ["MLModelEntryMixin", "MLModelExitMixin"]
    for c in res.checks:
        assert c.passed, c.first
        assert len(c.cuts) == 25


def test_a_predictor_that_sees_the_next_bar_fails(
    models_env: Trained, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mixbot.ml import predictor

    honest = predictor.ModelPredictor.proba

    def peeking(self: predictor.ModelPredictor, bars, i):  # type: ignore[no-untyped-def]
        p = honest(self, bars, i)
        if p is None or i + 1 >= len(bars):
            return p
        # a leak: the probabilities nudged by the NEXT bar's return
        return p + 0.01 * np.sign(bars.close[i + 1] - bars.close[i])

    monkeypatch.setattr(predictor.ModelPredictor, "proba", peeking)
    cfg = load_config(models_env.config)
    res = check_config(cfg, n_cuts=10, seed=3, date_from=RANGE[1], date_to=RANGE[3])
    entry = res.checks[0]
    assert not entry.passed
    assert entry.first is not None and entry.first.indicator == "signal_inputs.proba"


def test_cli_lookahead_on_the_example_ml_config(models_env: Trained) -> None:
    env = {**os.environ, "MIXBOT_MODELS": str(models_env.models), "COLUMNS": "150"}
    proc = subprocess.run(
        [sys.executable, "-m", "mixbot", "lookahead", str(models_env.config), "--cuts", "10",
         *RANGE],
        env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "MLModelEntryMixin" in proc.stdout and "PASS" in proc.stdout
