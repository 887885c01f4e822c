"""The out-of-sample report: real BANKNIFTY bars with an oracle and a random model, baselines,
classification/calibration on hand-built arrays, JSON round-trip, PNG and console text."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from tests.ml.ml_rig import banknifty_15m

from mixbot.brokers.charges import IndianEquityCharges
from mixbot.ml.labels import BUY, HOLD, SELL
from mixbot.ml.report import build_report, calibration, classification, render_text, write_report
from mixbot.ml.simulate import SimConfig

CFG = SimConfig(threshold=0.9, sl_mult=1.0, tp_mult=2.0, horizon=8, capital=1_000_000.0,
                slippage_bps=1.0)  # fmt: skip


@pytest.fixture(scope="module")
def oos_base(data_dir: Path) -> dict[str, Any]:
    """BANKNIFTY futures 2019 H1, 1-minute bars aggregated to 15 minutes (IST sessions)."""
    return banknifty_15m(data_dir, CFG.sl_mult, CFG.tp_mult, CFG.horizon)


def _oracle(labels: np.ndarray) -> np.ndarray:
    """Probabilities that know the future: 0.95 on the triple-barrier label's class."""
    p = np.full((len(labels), 3), 0.025)
    ok = labels >= 0
    p[~ok] = np.nan
    p[ok, labels[ok]] = 0.95
    return p


def _random(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    p = rng.dirichlet([0.3, 0.3, 0.3], n)  # peaked: often above the 0.9 threshold
    return p


@pytest.fixture(scope="module")
def oracle_report(oos_base: dict[str, Any]) -> dict[str, Any]:
    oos = {**oos_base, "proba": _oracle(oos_base["labels"])}
    folds = [{"fold": 0, "n_train": 1000, "n_test": 1500, "val_sharpe": 1.5, "test_sharpe": 0.9}]
    tuner = {"n_trials": 6, "best_score": 2.1, "dsr": {"dsr": 0.42, "n_trials": 6}}
    return build_report(oos, CFG, folds=folds, tuner=tuner, in_sample={"sharpe": 7.7},
                        instrument="BANKNIFTY 15m", n_seeds=100)  # fmt: skip


def test_oracle_ranks_at_the_top(oracle_report: dict[str, Any]) -> None:
    r = oracle_report
    assert r["period"]["intraday"] is True and r["period"]["n_bars"] > 2500
    m, ns = r["model"], r["no_skill"]
    assert m["n_trades"] > 30
    assert ns["target_trades"] == m["n_trades"]
    assert ns["mean_trades"] >= 0.9 * m["n_trades"]
    assert ns["model_percentile_return"] == 100.0
    assert ns["model_percentile_sharpe"] == 100.0
    assert m["total_return_pct"] > ns["net_return_pct"]["p95"]
    assert r["verdict"]["beats_no_skill"] is True
    assert r["summary"]["n_trades"] == m["n_trades"] and r["summary"]["beats_no_skill"] is True
    # the oracle's signals are exact and its classification perfect on labelled bars
    c = r["classification"]
    assert c["accuracy"] == 1.0 and c["signals"]["BUY"]["precision"] == 1.0
    assert r["calibration"]["ece"] == pytest.approx(0.05)
    assert set(m["exit_reasons"]) <= {"take_profit", "stop_loss", "signal", "horizon",
                                      "square_off", "end_of_data"}  # fmt: skip


def test_random_model_sits_in_the_middle(oos_base: dict[str, Any]) -> None:
    # a model with no skill is a draw from the null: its percentile is ~ U(0, 100); the mean
    # over 4 independent random models lies well inside (20, 80)
    pct = []
    for s in range(4):
        oos = {**oos_base, "proba": _random(len(oos_base["close"]), 100 + s)}
        r = build_report(oos, CFG, n_seeds=60, seed=s)
        assert r["model"]["n_trades"] > 30
        pct.append(r["no_skill"]["model_percentile_return"])
        assert r["verdict"]["beats_no_skill"] is (pct[-1] >= 95)
    assert 20 < float(np.mean(pct)) < 80, pct


def test_buy_and_hold_net_of_a_round_trip(
    oos_base: dict[str, Any], oracle_report: dict[str, Any]
) -> None:
    c0, c1 = float(oos_base["close"][0]), float(oos_base["close"][-1])
    ch = IndianEquityCharges()
    qty = math.floor(CFG.capital / c0)
    while qty * c0 + ch.compute("buy", qty, c0, "delivery").total > CFG.capital:
        qty -= 1
    buy = ch.compute("buy", qty, c0, "delivery").total
    sell = ch.compute("sell", qty, c1, "delivery").total
    final = CFG.capital - qty * c0 - buy + qty * c1 - sell
    bh = oracle_report["buy_and_hold"]
    assert bh["qty"] == qty and bh["charges_paid"] == pytest.approx(buy + sell)
    assert bh["final_value"] == pytest.approx(final)
    assert bh["total_return_pct"] == pytest.approx((final / CFG.capital - 1) * 100)
    assert oracle_report["curves"]["buy_and_hold"][-1] == pytest.approx(final)


def test_json_round_trip_png_and_text(oracle_report: dict[str, Any], tmp_path: Path) -> None:
    r = oracle_report
    assert json.loads(json.dumps(r, allow_nan=False)) == r
    paths = write_report(r, tmp_path / "v1")
    assert json.loads(paths["json"].read_text(encoding="utf-8")) == r
    assert paths["png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    text = render_text(r)
    assert isinstance(text, str)
    assert "Out-of-sample" in text and r["verdict"]["text"][:40] in text.replace("\n", " ")
    # every in-sample figure carries the word next to it
    assert "in-sample sharpe" in text and "val_sharpe (in-sample)" in text
    assert "in-sample best_score" in text and "in-sample dsr.dsr" in text
    for line in text.splitlines():
        if "7.7" in line or "best_score" in line:
            assert "in-sample" in line, line
    curves = r["curves"]
    assert len(curves["time"]) <= 2002 and len(curves["model"]) == len(curves["time"])
    assert curves["no_skill_p25"][-1] <= curves["no_skill_p50"][-1] <= curves["no_skill_p75"][-1]


def test_report_is_deterministic(oos_base: dict[str, Any]) -> None:
    oos = {**oos_base, "proba": _random(len(oos_base["close"]), 9)}
    a = build_report(oos, CFG, n_seeds=10, seed=3)
    b = build_report(oos, CFG, n_seeds=10, seed=3)
    assert a == b


def test_no_trade_model_is_reported_as_such(oos_base: dict[str, Any]) -> None:
    p = np.zeros((len(oos_base["close"]), 3))
    p[:, HOLD] = 1.0
    r = build_report({**oos_base, "proba": p}, CFG, n_seeds=5)
    assert r["model"]["n_trades"] == 0 and r["no_skill"]["reason"] == "the model made no trade"
    assert r["verdict"]["beats_no_skill"] is False and "no trade" in r["verdict"]["text"]
    render_text(r)


def test_classification_and_calibration_by_hand() -> None:
    y = np.array([BUY, BUY, SELL, HOLD, HOLD, -1])
    p = np.array(
        [
            [0.05, 0.05, 0.90],  # BUY right, conf 0.90
            [0.10, 0.60, 0.30],  # BUY predicted HOLD, conf 0.60
            [0.95, 0.03, 0.02],  # SELL right, conf 0.95
            [0.20, 0.70, 0.10],  # HOLD right, conf 0.70
            [0.10, 0.25, 0.65],  # HOLD predicted BUY, conf 0.65
            [0.90, 0.05, 0.05],  # unlabelled: ignored
        ]
    )
    c = classification(p, y, threshold=0.9)
    assert c["confusion"] == [[1, 0, 0], [0, 1, 1], [0, 1, 1]]
    assert c["n_labelled"] == 5 and c["accuracy"] == pytest.approx(3 / 5)
    by = {row["class"]: row for row in c["per_class"]}
    assert by["BUY"]["precision"] == pytest.approx(1 / 2) and by["BUY"]["recall"] == 0.5
    assert by["HOLD"]["precision"] == pytest.approx(1 / 2) and by["SELL"]["recall"] == 1.0
    assert c["signals"]["BUY"] == {"n": 1, "precision": 1.0}
    assert c["signals"]["SELL"] == {"n": 1, "precision": 1.0}
    cal = calibration(p, y)
    counts = {round(b["lo"], 1): b["count"] for b in cal["bins"] if b["count"]}
    assert counts == {0.6: 2, 0.7: 1, 0.9: 2}
    # bins: [0.6,0.7): conf .625 acc 0; [0.7,0.8): .70 acc 1; [0.9,1]: .925 acc 1
    ece = 2 / 5 * 0.625 + 1 / 5 * 0.30 + 2 / 5 * 0.075
    assert cal["ece"] == pytest.approx(ece)


def test_missing_keys_are_named() -> None:
    with pytest.raises(ValueError, match="labels"):
        build_report({"open": [1.0, 2.0]}, CFG)
